/**
 * One download, start to finish: the attempt loop (probe, check the output, lock, resume or
 * start over, then a {@link Transfer}), and `inspect()`, which only plans.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { createClient, type HttpClient } from '../http/client.js';
import { fetchDocument, isMetalinkType, MetalinkAnswer } from '../http/document.js';
import { asksWhole, probe, type ProbeResult, type ProbeRetry } from '../http/probe.js';
import { discard } from '../http/request.js';
import type { HttpTrace } from '../http/trace.js';
import { exists } from '../storage/assemble.js';
import { lockTarget } from '../storage/lock.js';
import { checkOutput, checkSpace, localFile } from '../storage/output-checks.js';
import { resolveTarget, type Target } from '../storage/target.js';
import { AbortError, FileExistsError, fileError } from '../primitives/errors.js';
import { totalLength } from '../primitives/ranges.js';
import { probeEvent, type DownloadEvent, type DownloadResult, type Inspection, type SkipReason } from './events.js';
import { existingAction, type ExistingAction } from './existing.js';
import { chooseFileName } from './file-name.js';
import { inspection } from './inspection.js';
import { threadsFor, WARM_DELAY, warmUpFor, type WarmUp } from './prewarm.js';
import { restartAction } from './restart.js';
import { adoptFile, readLeftovers, takeLeftovers, type ResumePoint } from './resume.js';
import type { DownloadSettings } from './settings.js';
import type { StreamWrite } from './stream.js';
import { Transfer, type TransferContext } from './transfer.js';

export { MetalinkAnswer } from '../http/document.js';

/** One download, start to finish; `start()` runs it, `inspect()` only plans it. */
export class Download {
  private readonly opts: DownloadSettings;
  private readonly started = performance.now();
  /** The probe's connections, and the fetch's for a small file (fetched in the main thread). */
  private readonly client: HttpClient;
  /** False when the client is shared with other downloads (it stays open). */
  private readonly ownClient: boolean;
  /**
   * `shared`: connections kept open by the caller (a batch's); `warm`: how long the probe may
   * take before the worker threads start anyway (ms; false: not before the pool needs them).
   */
  constructor(
    opts: DownloadSettings,
    shared?: HttpClient,
    private readonly warm: number | false = WARM_DELAY,
    /** A batch's: the size the last probe to each origin found (probe.ts, `asksWhole`). */
    private readonly sizes?: Map<string, number>,
  ) {
    this.opts = opts;
    this.ownClient = shared === undefined;
    this.client = shared ?? createClient(opts.request.connection, Math.max(2, opts.connections));
  }

  /** Threads started while probing, if the file turns out to need them. */
  private warming: WarmUp | undefined;
  /** Bytes written so far, as last reported: a re-probe is repeated only after progress. */
  private downloaded = 0;

  private emit(event: DownloadEvent): void {
    if (event.type === 'progress') this.downloaded = event.downloaded;
    this.opts.onEvent?.(event);
  }

  private warn(message: string): void {
    this.emit({ type: 'warning', message });
  }

  /** The probe retries as ranges do, and says so; the `first` probe gives up on an unreachable server sooner. */
  private probeRetry(first = false): ProbeRetry {
    return {
      ...this.opts.retry,
      first,
      serverDigest: this.opts.serverDigest && this.opts.checksum === undefined,
      onRetry: (r) => this.emit({ type: 'retry', attempt: r.attempt, delay: r.delay, reason: r.reason }),
      ...(this.opts.trace ? { onTrace: (trace: HttpTrace) => this.emit({ type: 'http', ...trace }) } : {}),
    };
  }

  /** Probe `url`; on shared connections (a batch) by GET (a HEAD's is closed), a small file whole unless likely there already. */
  private async probe(url: URL, first = false, keepBody = false, ifModifiedSince?: string): Promise<ProbeResult> {
    const whole = !this.ownClient && !this.opts.continue && !this.opts.skipExisting && !this.opts.pieces && asksWhole(this.sizes?.get(url.origin));
    const retry = { ...this.probeRetry(first), whole, ...(ifModifiedSince !== undefined ? { ifModifiedSince } : {}) };
    const info = await probe(this.client, url, this.opts.request, this.opts.signal, retry, this.ownClient ? 'HEAD' : 'GET', keepBody);
    if (info.size !== undefined) this.sizes?.set(url.origin, info.size);
    return info;
  }

  /**
   * `-N` on the first pass: the file already where the URL's name puts it, whose time the
   * probe sends as `If-Modified-Since` (wget -N, curl -z). Not with `--continue`: a 304 says
   * nothing of the size, and a shorter file is to be finished.
   */
  private async timestamped(first: boolean): Promise<{ path: string; size: number; date: string } | undefined> {
    if (!this.opts.timestamping || this.opts.continue || !first) return undefined;
    return localFile(this.targetFor(chooseFileName(this.opts.url)).path);
  }

  async start(): Promise<DownloadResult> {
    this.checkAborted();
    for (const message of this.opts.warnings) this.warn(message);
    // Threads load while a slow probe runs, or once it says the file is big: a small file starts none.
    if (this.warm !== false) this.warming = warmUpFor(this.opts, this.warm, this.client);
    try {
      // Bytes written when the original URL was last probed again (none yet: -1).
      let reprobedAt = -1;
      let lastChange: string | undefined;
      let startOver = false;
      // Start-overs so far (re-probes do not count: each made progress).
      let restarts = 0;
      for (;;) {
        try {
          return await this.attempt(startOver, restarts === 0);
        } catch (err) {
          const reprobedWithoutProgress = reprobedAt >= 0 && this.downloaded <= reprobedAt;
          const context = { url: this.opts.url.href, reprobedWithoutProgress, restarts, restart: this.opts.restart };
          const action = restartAction(err, lastChange === undefined ? context : { ...context, lastChange });
          if (action === 'fail') throw err;
          const { message } = err as Error;
          if (action === 'reprobe') {
            reprobedAt = this.downloaded;
            startOver = false;
            this.warn(`${message}; probing ${this.opts.url.href} again`);
          } else {
            lastChange = message;
            startOver = true;
            restarts++;
            this.warn(`${message}; starting over from zero`);
          }
        }
      }
    } finally {
      this.warming?.cancel();
      if (this.ownClient) await this.client.close().catch(() => undefined);
    }
  }

  private checkAborted(): void {
    if (this.opts.signal?.aborted) throw new AbortError();
  }

  /** One pass: probe, decide what is left, fetch it, assemble. `first`: the download's first pass. */
  private async attempt(startOver: boolean, first: boolean): Promise<DownloadResult> {
    const { opts } = this;
    this.checkAborted();
    // Without --max-speed, a server without ranges sends the whole file to the probe: kept as the download.
    const keepBody = opts.rate === undefined;
    const local = await this.timestamped(first);
    const info = await this.probe(opts.url, first, keepBody, local?.date)
      .then(async (answer) => {
        if (!answer.notModified || !local) return answer;
        const target = this.targetOf(answer);
        if (target.path === local.path) return { ...answer, unchanged: { target, size: local.size } };
        // A redirect named another file than the one whose date was sent: ask again, unconditionally.
        return this.probe(opts.url, first, keepBody);
      })
      .catch((err: unknown) => Promise.reject(opts.signal?.aborted ? new AbortError() : err));
    try {
      if ('unchanged' in info) {
        this.announce(info, info.unchanged.target.path);
        return this.skip(info, info.unchanged.target, 'not-modified', info.unchanged.size);
      }
      return await this.probed(info, startOver);
    } finally {
      // Read by the transfer, or dropped: nothing may keep the connection busy.
      if (info.body) discard({ body: info.body, headers: {} });
    }
  }

  /** Say what the probe found, and where the file goes (`-`: a stream). */
  private announce(info: ProbeResult, path: string): void {
    this.emit(probeEvent(info, path));
  }

  /**
   * Probe, then hand the file to `write` in order (`-o -`): no output path, lock, resume or
   * start-over (the consumer has the bytes already).
   */
  async stream(write: StreamWrite): Promise<DownloadResult> {
    this.checkAborted();
    for (const message of this.opts.warnings) this.warn(message);
    if (this.warm !== false) this.warming = warmUpFor(this.opts, this.warm, this.client);
    try {
      const info = await this.probe(this.opts.url, true, this.opts.rate === undefined).catch((err: unknown) => Promise.reject(this.opts.signal?.aborted ? new AbortError() : err));
      try {
        this.warming?.probed(info);
        this.announce(info, '-');
        if (!info.acceptsRanges && info.noRangesReason) this.warn(`using one connection: ${info.noRangesReason}`);
        // Loaded for `-o -` only (it brings node:crypto and node:os): a download to a file never needs it.
        const { StreamTransfer } = await import('./stream.js');
        return await new StreamTransfer(this.transferContext(info), info, write).run();
      } finally {
        if (info.body) discard({ body: info.body, headers: {} });
      }
    } finally {
      this.warming?.cancel();
      if (this.ownClient) await this.client.close().catch(() => undefined);
    }
  }

  /** The rest of an attempt, once probed. */
  private async probed(info: ProbeResult, startOver: boolean): Promise<DownloadResult> {
    const { opts } = this;
    if (opts.metalink && isMetalinkType(info.contentType)) {
      throw new MetalinkAnswer(info.finalUrl, await fetchDocument(this.client, new URL(info.finalUrl), opts.request, opts.signal));
    }
    this.warming?.probed(info);
    const { target, action } = await this.target(info);
    this.announce(info, target.path);
    if (action?.kind === 'skip') return this.skip(info, target, action.why, action.have);
    if (action?.kind === 'replace' && action.warning) this.warn(`${target.path}: ${action.warning}`);
    if (!info.acceptsRanges && info.noRangesReason) this.warn(`using one connection: ${info.noRangesReason}`);
    const lock = await lockTarget(target, opts.dir);
    try {
      if (action?.kind === 'continue' && !startOver) await adoptFile(target, { ...info, size: info.size! }, action.have);
      return await this.locked(info, target, startOver, action?.kind === 'replace', lock.stale);
    } finally {
      await lock.release();
    }
  }

  /** The rest of an attempt, holding the output's lock (`stale`: taken over from a killed run). */
  private async locked(info: ProbeResult, target: Target, startOver: boolean, replace: boolean, stale: boolean): Promise<DownloadResult> {
    // Starting over, what the failed attempt left is not read: its control file may exist.
    const kept: ResumePoint = startOver ? { written: [], fresh: false } : await takeLeftovers(target, info, { ...this.opts, stale }, (m) => this.warn(m));
    const resumed = totalLength(kept.written);
    if (resumed > 0) this.emit({ type: 'resume', have: resumed, left: (info.size ?? 0) - resumed });
    await checkSpace(target, info.size === undefined ? 0 : info.size - resumed);

    let file: FileHandle;
    try {
      file = await open(target.partPath, resumed > 0 ? 'r+' : 'w+');
    } catch (err) {
      throw fileError(err, target.partPath);
    }
    try {
      return await new Transfer(this.transferContext(info, replace), { info, target, file, kept: kept.written, controlExists: !kept.fresh }).run();
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  /** What a transfer of this download runs in; `replace`: the file at the path may be replaced. */
  private transferContext(info: ProbeResult, replace = false): TransferContext {
    return {
      opts: replace ? { ...this.opts, overwrite: true } : this.opts,
      client: this.client,
      threaded: this.warming?.threaded ?? threadsFor(this.opts, info),
      started: this.started,
      emit: (event) => this.emit(event),
      probe: (url) => this.probe(url),
    };
  }

  /** Output paths for a probed file. */
  targetOf(info: ProbeResult): Target {
    return this.targetFor(chooseFileName(new URL(info.finalUrl), info.contentDisposition));
  }

  private targetFor(fileName: string): Target {
    return resolveTarget({
      fileName,
      ...(this.opts.output !== undefined ? { output: this.opts.output } : {}),
      ...(this.opts.dir !== undefined ? { dir: this.opts.dir } : {}),
    });
  }

  /**
   * Output paths, and what to do with a file already there (none: nothing is); refuses one
   * that may not be touched.
   */
  private async target(info: ProbeResult): Promise<{ target: Target; action?: ExistingAction & { have: number } }> {
    const target = this.targetOf(info);
    const found = await checkOutput(target, (m) => this.warn(m));
    if (!found) return { target };
    const action = existingAction(found, info, this.opts);
    if (action.kind === 'refuse') throw new FileExistsError(target.path, action.reason);
    return { target, action: { ...action, have: found.size } };
  }

  /** An existing file that needs nothing fetched: done, with `skipped` saying why. */
  private skip(info: ProbeResult, target: Target, why: SkipReason, size: number): DownloadResult {
    const result: DownloadResult = {
      path: target.path,
      url: info.url,
      finalUrl: info.finalUrl,
      size,
      duration: performance.now() - this.started,
      resumed: 0,
      connections: 0,
      skipped: why,
    };
    this.emit({ type: 'done', ...result });
    return result;
  }

  /** Probe and plan without downloading (`--dry-run`). */
  async inspect(): Promise<Inspection> {
    const info = await this.probe(this.opts.url, true);
    try {
      const target = this.targetOf(info);
      const left = this.opts.resume ? await readLeftovers(target, info) : undefined;
      return inspection(info, this.opts, target.path, left?.kind === 'kept' ? left.written : [], await exists(target.path));
    } finally {
      if (this.ownClient) await this.client.close().catch(() => undefined);
    }
  }
}
