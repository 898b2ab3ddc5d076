/**
 * One download, start to finish: probe, resume or plan, run the pool, assemble.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Dispatcher } from '../http/undici.js';
import { assemble, exists } from '../storage/assemble.js';
import { FileHasher } from '../storage/hasher.js';
import { Checkpointer } from '../storage/checkpointer.js';
import { Meter } from './meter.js';
import { CONTROL_VERSION, type ControlState } from '../storage/control-file.js';
import { readLeftovers, takeLeftovers } from './resume.js';
import { restartAction } from './restart.js';
import { AbortError, ChecksumError, SizeError, fileError } from '../primitives/errors.js';
import type { DownloadEvent, DownloadResult, Inspection, Progress } from './events.js';
import { createDispatcher } from '../http/dispatcher.js';
import { canVouch } from '../http/validators.js';
import { type DownloadSettings } from './settings.js';
import { planRanges } from './plan.js';
import { totalLength, type ByteRange } from '../primitives/ranges.js';
import { findSources, sourceOf } from './sources.js';
import { Pool, RangesUnsupported, type PoolJob } from './worker-pool.js';
import { lockTarget } from '../storage/lock.js';
import { checkOutput, checkSpace } from '../storage/output-checks.js';
import { keepWarm } from './prewarm.js';
import { probe, type ProbeResult, type ProbeRetry } from '../http/probe.js';
import type { RateLimiter } from './rate.js';
import type { HttpTrace } from '../http/trace.js';
import { UNKNOWN_END } from '../primitives/ranges.js';
import { chooseFileName } from './file-name.js';
import { resolveTarget, type Target } from '../storage/target.js';

/** Bytes buffered per connection before a positional write. */
const WRITE_BUFFER = 256 * 1024;
/** Longest time received bytes wait in a buffer. */
const FLUSH_INTERVAL = 200;
/** The control file is saved this often while bytes arrive. */
const SAVE_INTERVAL = 500;
/** Files up to this size are fetched in the main thread: a worker would take longer to start. */
const INLINE_MAX_SIZE = 4 * 1024 * 1024;

function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1024).toFixed(0)} KiB/s`;
}

/** One download, start to finish; `start()` runs it, `inspect()` only plans it. */
export class Download {
  private readonly opts: DownloadSettings;
  private readonly started = performance.now();
  /** The probe's connections, and the fetch's for a small file (fetched in the main thread). */
  private readonly dispatcher: Dispatcher;
  /** False when the dispatcher is shared with other downloads (it stays open). */
  private readonly ownDispatcher: boolean;
  private readonly rate: RateLimiter | undefined;
  private onRangeDone: (() => void) | undefined;
  /**
   * `shared`: connections kept open by the caller (a batch's); `warm`: start the worker
   * threads while probing (a file that turns out small does not use them).
   */
  constructor(
    opts: DownloadSettings,
    shared?: Dispatcher,
    private readonly warm = true,
  ) {
    this.opts = opts;
    this.rate = opts.rate;
    this.ownDispatcher = shared === undefined;
    this.dispatcher = shared ?? createDispatcher(opts.request.connection, Math.max(2, opts.connections));
  }

  private emit(event: DownloadEvent): void {
    this.opts.onEvent?.(event);
  }

  private warn(message: string): void {
    this.emit({ type: 'warning', message });
  }

  /** A pool of worker threads (taken warm when possible), or inline fetchers for a small file. */
  private newPool(inline: boolean): Pool {
    const { opts } = this;
    return new Pool({
      ...(inline ? { inline: this.dispatcher } : {}),
      connections: opts.connections,
      threads: inline ? 1 : opts.threads,
      request: opts.request,
      retry: opts.retry,
      writeBuffer: WRITE_BUFFER,
      flushInterval: FLUSH_INTERVAL,
      ...(this.rate ? { rate: this.rate } : {}),
      trace: opts.trace,
      onTrace: (trace) => this.emit({ type: 'http', ...trace }),
      onRetry: (r) => this.emit({ type: 'retry', attempt: r.attempt, delay: r.delay, reason: r.reason }),
      onRangeDone: () => this.onRangeDone?.(),
      onSlow: (speed, median) =>
        this.warn(
          `a connection ran at ${formatRate(speed)} against a median of ${formatRate(median)}; the rest of its range goes to another connection`,
        ),
      onSourceDropped: (url, reason) => this.warn(`mirror ${url} dropped for the rest of the download: ${reason}`),
    });
  }

  /** The probe retries as ranges do, and says so. */
  private probeRetry(): ProbeRetry {
    return {
      ...this.opts.retry,
      onRetry: (r) => this.emit({ type: 'retry', attempt: r.attempt, delay: r.delay, reason: r.reason }),
      ...(this.opts.trace ? { onTrace: (trace: HttpTrace) => this.emit({ type: 'http', ...trace }) } : {}),
    };
  }

  /**
   * Probe `url` on the download's connections. On shared connections (a batch), the probe
   * starts with a GET: a HEAD's connection is closed.
   */
  private probe(url: URL): Promise<ProbeResult> {
    return probe(this.dispatcher, url, this.opts.request, this.opts.signal, this.probeRetry(), this.ownDispatcher ? 'HEAD' : 'GET');
  }

  async start(): Promise<DownloadResult> {
    this.checkAborted();
    // Threads load while the probe runs; a small file will not need them (the next may).
    if (this.warm) keepWarm(this.opts.threads);
    try {
      let reprobed = false;
      let startOver = false;
      for (let restarts = 0; ; restarts++) {
        try {
          return await this.attempt(startOver);
        } catch (err) {
          const action = restartAction(err, { url: this.opts.url.href, reprobed, restarts, restart: this.opts.restart });
          if (action === 'fail') throw err;
          const { message } = err as Error;
          if (action === 'reprobe') {
            reprobed = true;
            startOver = false;
            this.warn(`${message}; probing ${this.opts.url.href} again`);
          } else {
            startOver = true;
            this.warn(`${message}; starting over from zero`);
          }
        }
      }
    } finally {
      if (this.ownDispatcher) await this.dispatcher.close().catch(() => undefined);
    }
  }

  private checkAborted(): void {
    if (this.opts.signal?.aborted) throw new AbortError();
  }

  /** One pass: probe, decide what is left, fetch it, assemble. */
  private async attempt(startOver: boolean): Promise<DownloadResult> {
    const { opts } = this;
    this.checkAborted();
    const info = await this.probe(opts.url).catch((err: unknown) => {
      if (opts.signal?.aborted) throw new AbortError();
      throw err;
    });
    const target = await this.target(info);
    this.emit({
      type: 'probe',
      url: info.url,
      finalUrl: info.finalUrl,
      size: info.size,
      ranges: info.acceptsRanges,
      ...(info.etag ? { etag: info.etag } : {}),
      ...(info.lastModified ? { lastModified: info.lastModified } : {}),
      path: target.path,
    });
    if (!info.acceptsRanges && info.noRangesReason) this.warn(`using one connection: ${info.noRangesReason}`);
    const unlock = await lockTarget(target, opts.dir);
    try {
      return await this.locked(info, target, startOver);
    } finally {
      await unlock();
    }
  }

  /** The rest of an attempt, holding the output's lock. */
  private async locked(info: ProbeResult, target: Target, startOver: boolean): Promise<DownloadResult> {
    // Starting over, what the failed attempt left is not read: its control file may exist.
    const kept = startOver ? { written: [], fresh: false } : await takeLeftovers(target, info, this.opts, (m) => this.warn(m));
    const done = kept.written;
    const have = totalLength(done);
    if (have > 0) this.emit({ type: 'resume', have, left: (info.size ?? 0) - have });
    await checkSpace(target, info.size === undefined ? 0 : info.size - have);

    let file: FileHandle;
    try {
      file = await open(target.partPath, have > 0 ? 'r+' : 'w+');
    } catch (err) {
      throw fileError(err, target.partPath);
    }
    try {
      return await this.transfer(info, target, file, done, have, !kept.fresh);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  /** Output paths for a probed file. */
  targetOf(info: ProbeResult): Target {
    const fileName = chooseFileName(new URL(info.finalUrl), info.contentDisposition);
    return resolveTarget({
      fileName,
      ...(this.opts.output !== undefined ? { output: this.opts.output } : {}),
      ...(this.opts.dir !== undefined ? { dir: this.opts.dir } : {}),
    });
  }

  /** Output paths; refuses an existing file unless `overwrite`. */
  private async target(info: ProbeResult): Promise<Target> {
    const target = this.targetOf(info);
    await checkOutput(target, this.opts.overwrite, (m) => this.warn(m));
    return target;
  }

  /** Probe and plan without downloading (`--dry-run`). */
  async inspect(): Promise<Inspection> {
    const info = await this.probe(this.opts.url);
    try {
      const target = this.targetOf(info);
      const left = this.opts.resume ? await readLeftovers(target, info) : undefined;
      const written = left?.kind === 'kept' ? left.written : [];
      const ranged = info.acceptsRanges && info.size !== undefined && info.size > 0;
      const ranges = ranged
        ? planRanges({ size: info.size!, connections: this.opts.connections, minRangeSize: this.opts.minRangeSize, done: written })
        : info.size === 0
          ? []
          : [{ start: 0, end: info.size ?? UNKNOWN_END }];
      const result: Inspection = {
        url: info.url,
        finalUrl: info.finalUrl,
        size: info.size,
        ranges,
        rangeSupport: info.acceptsRanges,
        resumable: ranged && canVouch(info),
        path: target.path,
        exists: await exists(target.path),
        have: totalLength(written),
      };
      if (info.etag) result.etag = info.etag;
      if (info.lastModified) result.lastModified = info.lastModified;
      if (info.noRangesReason) result.reason = info.noRangesReason;
      else if (ranged && !result.resumable) result.reason = 'the server gives no strong ETag or Last-Modified, so an interrupted download would start over';
      return result;
    } finally {
      if (this.ownDispatcher) await this.dispatcher.close().catch(() => undefined);
    }
  }

  private async transfer(
    info: ProbeResult,
    target: Target,
    file: FileHandle,
    done: ByteRange[],
    have: number,
    controlExists: boolean,
  ): Promise<DownloadResult> {
    const { opts } = this;
    const size = info.size;
    let ranged = info.acceptsRanges && size !== undefined && size > 0;
    const hasher = opts.checksum ? new FileHasher(file, opts.checksum.algorithm) : undefined;
    if (size !== undefined) await file.truncate(size).catch((err: unknown) => { throw fileError(err, target.partPath); });

    const state: ControlState | undefined = ranged
      ? {
          version: CONTROL_VERSION,
          url: info.url,
          finalUrl: info.finalUrl,
          size: size!,
          written: [],
          ...(info.etag ? { etag: info.etag } : {}),
          ...(info.lastModified ? { lastModified: info.lastModified } : {}),
          ...(opts.checksum ? { checksum: `${opts.checksum.algorithm}=${opts.checksum.hex}` } : {}),
        }
      : undefined;

    let pool: Pool | undefined;

    /**
     * Hash the written prefix while the rest downloads: at every progress tick and every range
     * done (pieces finish often, so little is left to hash at the end).
     */
    const hashPrefix = (segments: ByteRange[]): void => {
      if (!hasher) return;
      const prefix = segments[0]?.start === 0 ? segments[0].end : 0;
      if (prefix < hasher.position) hasher.reset();
      void hasher.advance(prefix).catch(() => undefined);
    };

    // A range done is saved, unless it was the last: the assembler syncs and moves the file
    // next (a stop in between leaves a true state, merely behind), and a small file then
    // never writes a control file at all.
    this.onRangeDone = () => {
      const segments = written();
      if (size === undefined || totalLength(segments) < size) void checkpointer.save();
      hashPrefix(segments);
    };
    let connections = ranged ? opts.connections : 1;
    const written = (): ByteRange[] => pool?.written() ?? done;
    const checkpointer = new Checkpointer({
      file,
      path: target.controlPath,
      state,
      written: () => pool?.written(),
      interval: SAVE_INTERVAL,
      exists: controlExists,
      onError: (err) => this.warn(`cannot save the control file: ${err.message}`),
    });
    const meter = new Meter(this.started);

    const progress = (): Progress => {
      const segments = written();
      hashPrefix(segments);
      return meter.progress({ now: performance.now(), written: totalLength(segments), total: size, connections: pool?.activeConnections() ?? 0 });
    };

    const report = (): void => {
      const p = progress();
      opts.onProgress?.(p);
      this.emit({ type: 'progress', ...p });
    };

    const sources = ranged ? await findSources(info, opts.mirrors, (url) => this.probe(url), (m) => this.warn(m)) : [sourceOf(info)];
    const ticker = setInterval(report, opts.progressInterval);
    checkpointer.start();
    let onAbort: (() => void) | undefined;
    try {
      for (;;) {
        const ranges: ByteRange[] = ranged
          ? planRanges({ size: size!, connections: opts.connections, minRangeSize: opts.minRangeSize, done })
          : [{ start: 0, end: size ?? UNKNOWN_END }];
        connections = ranged ? Math.min(opts.connections, Math.max(1, ranges.length)) : 1;
        pool = this.newPool(size !== undefined && size <= INLINE_MAX_SIZE);
        const job: PoolJob = {
          partPath: target.partPath,
          sources,
          mode: ranged ? 'ranges' : 'stream',
          size,
          done,
          minRangeSize: opts.minRangeSize,
          connections,
        };
        this.emit({ type: 'start', path: target.path, size, connections, ranges: ranges.length });
        const running = pool;
        const aborted = new Promise<never>((_, reject) => {
          onAbort = () => reject(new AbortError());
          if (opts.signal?.aborted) onAbort();
          else opts.signal?.addEventListener('abort', onAbort, { once: true });
        });
        try {
          await Promise.race([running.run(job, ranges), aborted]);
          await running.stop();
          break;
        } catch (err) {
          await running.stop();
          if (err instanceof RangesUnsupported && ranged) {
            this.warn(`using one connection from the start: ${err.message}`);
            ranged = false;
            done = [];
            await checkpointer.abandon();
            continue;
          }
          await checkpointer.save();
          throw err;
        } finally {
          if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
        }
      }
    } finally {
      clearInterval(ticker);
      await checkpointer.stop();
    }

    report();
    const writtenBytes = totalLength(written());
    const result = await assemble({
      file,
      partPath: target.partPath,
      path: target.path,
      size,
      written: writtenBytes,
      overwrite: opts.overwrite,
      ...(opts.checksum ? { checksum: opts.checksum } : {}),
      ...(hasher ? { hasher } : {}),
    }).catch(async (err: unknown) => {
      // Wrong bytes cannot be resumed; anything else (the path got taken) can.
      if (err instanceof ChecksumError || err instanceof SizeError) await checkpointer.abandon();
      throw err;
    });
    await checkpointer.finish();
    const final: DownloadResult = {
      path: target.path,
      url: info.url,
      finalUrl: info.finalUrl,
      size: result.size,
      duration: performance.now() - this.started,
      resumed: have,
      connections,
      ...(result.digest !== undefined ? { digest: result.digest } : {}),
    };
    this.emit({ type: 'done', ...final });
    return final;
  }
}
