/**
 * One file's fetch, once the output is locked and the `.part` file open: plan the ranges,
 * run the pool (on one connection from the start when the server turns out to ignore
 * ranges), report progress, save the control file, and assemble.
 */
import type { FileHandle } from 'node:fs/promises';
import { assemble } from '../storage/assemble.js';
import { Checkpointer } from '../storage/checkpointer.js';
import { newControlState } from '../storage/control-file.js';
import { INLINE_MAX_SIZE } from './prewarm.js';
import { FileHasher } from '../storage/hasher.js';
import type { Target } from '../storage/target.js';
import type { ProbeResult } from '../http/probe.js';
import { lastModifiedTime } from '../http/validators.js';
import { whenAborted } from '../primitives/abort.js';
import { AbortError, ChecksumError, SizeError, fileError } from '../primitives/errors.js';
import { totalLength, UNKNOWN_END, type ByteRange } from '../primitives/ranges.js';
import type { DownloadEvent, DownloadResult, VerifiedDigest } from './events.js';
import { writeFirstBody } from './first-body.js';
import { Meter } from './meter.js';
import { countSettings } from './connection-count.js';
import { fetchesRanges, planRanges, plannedMinRange, probeRoundTrip } from './plan.js';
import type { Source } from './protocol.js';
import type { DownloadSettings } from './settings.js';
import { newPool, type PoolContext } from './pool-setup.js';
import { findSources, sourceOf } from './sources.js';
import { PieceChecker } from './piece-check.js';
import { abortedAt, expectedDigest, keepFailed, keptMismatch } from './verify.js';
import { RangesUnsupported, type PoolJob, type WorkerPool } from './worker-pool.js';

/** The control file is saved this often while bytes arrive. */
const SAVE_INTERVAL = 500;

/** What a transfer runs in: the download it belongs to. */
export interface TransferContext extends PoolContext {
  /** When the download started (ms, `performance.now()`). */
  started: number;
  /** Probe a mirror, as the download probes its URL. */
  probe(url: URL): Promise<ProbeResult>;
}

/** The file to fetch, and what an earlier run left of it. */
export interface TransferInput {
  info: ProbeResult;
  target: Target;
  /** The `.part` file, open; the assembler closes it (the caller does, on a failure). */
  file: FileHandle;
  /** Written ranges kept from an earlier run. */
  kept: ByteRange[];
  /** False when no control file is known to exist. */
  controlExists: boolean;
}

/** One file's fetch, start to `done` event: {@link run} it once. */
export class Transfer {
  private readonly opts: DownloadSettings;
  private readonly size: number | undefined;
  /** Fetched in ranges; false from the start or once the server ignored them. */
  private ranged: boolean;
  /** Written ranges the next pool starts from: an earlier run's, none after a fallback. */
  private kept: ByteRange[];
  /** Bytes an earlier run left, for the result. */
  private resumed: number;
  private pool: WorkerPool | undefined;
  /** Bytes of the probe's answer written (see firstBody). */
  private bodyWritten = 0;
  /** Most connections used at once by the last pool (the result's). */
  private connections: number;
  /** What the file is verified against (`--checksum`, else the server's digest), and its hasher. */
  private readonly checksum: VerifiedDigest | undefined;
  private readonly hasher: FileHasher | undefined;
  private pieces: PieceChecker | undefined;
  private readonly meter: Meter;
  private readonly checkpointer: Checkpointer;

  constructor(
    private readonly context: TransferContext,
    private readonly input: TransferInput,
  ) {
    const { opts } = context;
    const { info, file } = input;
    this.opts = opts;
    this.size = info.size;
    this.ranged = fetchesRanges(info);
    this.kept = input.kept;
    this.resumed = totalLength(input.kept);
    this.connections = this.ranged ? opts.connections : 1;
    this.checksum = expectedDigest(opts, info);
    this.hasher = this.checksum ? new FileHasher(file, this.checksum.algorithm) : undefined;
    this.meter = new Meter(context.started);
    this.checkpointer = new Checkpointer({
      file,
      sync: opts.fsync,
      path: input.target.controlPath,
      state: this.ranged ? newControlState({ ...info, size: info.size! }, this.checksum) : undefined,
      written: () => this.pool?.written(),
      interval: SAVE_INTERVAL,
      exists: input.controlExists,
      onError: (err) => this.warn(`cannot save the control file: ${err.message}`),
    });
  }

  /** Fetch every missing byte, then verify and move the file into place. */
  async run(): Promise<DownloadResult> {
    const { info, target, file } = this.input;
    if (this.size !== undefined) {
      await file.truncate(this.size).catch((err: unknown) => {
        throw fileError(err, target.partPath);
      });
    }
    await this.verifyKept();
    // Marked before the first byte when over 4 MiB (kill -9 may come before the first save); a
    // smaller file is most often done before it and writes none (README: Batches).
    if (this.size === undefined || this.size > INLINE_MAX_SIZE) await this.mark();
    const sources = this.ranged ? await findSources(info, this.opts.mirrors, (url) => this.context.probe(url), (m) => this.warn(m)) : [sourceOf(info)];
    const ticker = setInterval(() => this.report(), this.opts.progressInterval);
    this.checkpointer.start();
    try {
      await this.fetch(sources);
    } catch (err) {
      throw err instanceof AbortError ? abortedAt(totalLength(this.written()), this.ranged, this.input) : err;
    } finally {
      clearInterval(ticker);
      await this.checkpointer.stop();
      // Also after a failure: what was written decides whether the download may probe again.
      this.report();
    }
    return this.assemble();
  }

  /** A control file claiming nothing where none was saved: the next run knows this `.part` as rangeget's (resume.ts). */
  private async mark(): Promise<void> {
    if (!this.ranged && this.size === undefined) return;
    const marker = this.ranged ? undefined : newControlState({ ...this.input.info, size: this.size! });
    await this.checkpointer.mark(marker).catch((err: unknown) => this.warn(`cannot save the control file: ${(err as Error).message}`));
  }

  private emit(event: DownloadEvent): void {
    this.context.emit(event);
  }

  private warn(message: string): void {
    this.emit({ type: 'warning', message });
  }

  /** A whole file kept from an earlier run that fails the checksum is fetched again. */
  private async verifyKept(): Promise<void> {
    const warning = await keptMismatch(this.hasher, this.checksum, this.size, this.kept, this.input.target.partPath);
    if (warning === undefined) return;
    this.warn(warning);
    this.kept = [];
    this.resumed = 0;
  }

  /** The ranges on disk now. */
  private written(): ByteRange[] {
    return this.pool?.written() ?? (this.bodyWritten > 0 ? [{ start: 0, end: this.bodyWritten }] : this.kept); // the pool's, once one runs
  }

  /** Write the whole file the probe's answer holds (a server without ranges, a batch's small file), if kept; false when none, or it broke off. Piece hashes need the pool. */
  private async firstBody(): Promise<boolean> {
    const { info, file, target } = this.input;
    if (!info.body || this.size === undefined || (this.ranged && this.opts.pieces)) return false; // a batch asks no whole file then
    this.connections = 1;
    this.emit({ type: 'start', path: target.path, size: this.size, connections: 1, ranges: 1 });
    const { signal } = this.opts;
    const first = { body: info.body, file, partPath: target.partPath, size: this.size, clip: info.acceptsRanges, ...(signal ? { signal } : {}), warn: (m: string) => this.warn(m) };
    // What a broken-off answer wrote is not kept: the pool starts from the first byte.
    return writeFirstBody({ ...first, onWritten: (bytes) => (this.bodyWritten = bytes) });
  }

  /** Run pools until every byte is written; when ranges turn out unsupported, again on one connection. */
  private async fetch(sources: Source[]): Promise<void> {
    if (await this.firstBody().catch((err: unknown) => this.mark().then(() => Promise.reject(err)))) return;
    for (;;) {
      try {
        await this.runPool(sources);
        // A piece found bad once the pool had ended is fetched by the next one.
        if (await this.pieces?.drain().then(() => totalLength(this.written()) < this.size!)) this.kept = this.written();
        else return;
      } catch (err) {
        if (err instanceof RangesUnsupported && this.ranged) {
          this.warn(`using one connection from the start: ${err.message}`);
          this.ranged = false;
          this.kept = [];
          await this.checkpointer.abandon();
          continue;
        }
        await this.checkpointer.save();
        await this.mark();
        throw err;
      }
    }
  }

  /** Plan what is missing and run one pool over it; the pool is stopped whatever happens. */
  private async runPool(sources: Source[]): Promise<void> {
    const { opts, size } = this;
    const roundTrip = probeRoundTrip(this.input.info);
    const ranges: ByteRange[] = this.ranged
      ? planRanges({ size: size!, connections: opts.connections, minRangeSize: plannedMinRange(opts, roundTrip, size), done: this.kept })
      : [{ start: 0, end: size ?? UNKNOWN_END }];
    const count = countSettings(opts, this.ranged); // every slot may steal, even with fewer ranges
    this.connections = Math.min(count.start, Math.max(1, ranges.length));
    const pool = newPool(this.context, {
      onRangeDone: () => this.rangeDone(),
      onConnections: (connections, reason) => this.connectionsChanged(connections, reason),
      onWritten: (range, source) => this.pieces?.written(range, source),
    });
    this.pool = pool;
    if (opts.pieces && this.ranged) this.pieces ??= new PieceChecker({ file: this.input.file, size: size!, hashes: opts.pieces, sources, kept: this.kept, onBad: (r, m) => this.pieceBad(r, m) });
    const job: PoolJob = {
      partPath: this.input.target.partPath,
      sources,
      mode: this.ranged ? 'ranges' : 'stream',
      size,
      written: this.kept,
      minRangeSize: opts.minRangeSize,
      connections: count,
      ...(roundTrip !== undefined ? { roundTrip } : {}),
      ...(this.pieces ? { demoted: this.pieces.demoted } : {}),
    };
    this.emit({ type: 'start', path: this.input.target.path, size, connections: this.connections, ranges: ranges.length });
    const abort = whenAborted(opts.signal);
    try {
      await Promise.race([pool.run(job, ranges), abort.aborted]);
    } finally {
      abort.dispose();
      await pool.stop();
    }
  }

  /** `-c auto` changed the count: the result keeps the most at once. */
  private connectionsChanged(connections: number, reason: string): void {
    this.connections = Math.max(this.connections, connections);
    this.emit({ type: 'connections', connections, reason });
  }

  /**
   * A range done is saved, unless it was the last: the assembler syncs and moves the file
   * next (a stop in between leaves a true state, merely behind), and a small file then
   * never writes a control file at all. Resume needs only the 500 ms saves, but these keep
   * the kernel writing the file back while bytes arrive: with the 500 ms saves alone, 1 GiB
   * at -c 16 took 2.51 s against 1.80 s, and 2.59 s against 2.16 s (medians of 8 alternating
   * runs, twice), for the same CPU, the final sync then having the whole file to write; at
   * most one every 100 ms measured as every one.
   */
  private rangeDone(): void {
    const written = this.written();
    if (this.size === undefined || totalLength(written) < this.size) void this.checkpointer.save();
    this.hasher?.follow(written);
  }

  /** A piece failed its check (the message says which, and whose): its bytes are fetched again. */
  private pieceBad(range: ByteRange, message: string): void {
    this.warn(message);
    this.hasher?.reset();
    if (this.ranged) this.pool?.unwrite(range);
  }

  /** A progress tick: the hasher catches up, then progress is reported. */
  private report(): void {
    const written = this.written();
    this.hasher?.follow(written);
    const progress = this.meter.progress({ now: performance.now(), written: totalLength(written), total: this.size, connections: this.pool?.activeConnections() ?? 0 });
    this.opts.onProgress?.(progress);
    this.emit({ type: 'progress', ...progress });
  }

  /** Verify the `.part` file, move it into place, and say `done`. */
  private async assemble(): Promise<DownloadResult> {
    const { info, target, file } = this.input;
    const { opts, checksum } = this;
    const time = opts.remoteTime ? lastModifiedTime(info.lastModified) : undefined;
    const result = await assemble({
      file,
      partPath: target.partPath,
      path: target.path,
      size: this.size,
      written: totalLength(this.written()),
      overwrite: opts.overwrite,
      sync: opts.fsync,
      ...(time !== undefined ? { mtime: new Date(time) } : {}),
      ...(checksum ? { checksum } : {}),
      ...(this.hasher ? { hasher: this.hasher } : {}),
    }).catch(async (err: unknown) => {
      if (err instanceof ChecksumError && checksum) throw await keepFailed(err, checksum, this.checkpointer, target.partPath);
      // Wrong bytes cannot be resumed; anything else (the path got taken) can.
      if (err instanceof SizeError) await this.checkpointer.abandon();
      throw err;
    });
    await this.checkpointer.finish();
    const final: DownloadResult = {
      path: target.path,
      url: info.url,
      finalUrl: info.finalUrl,
      size: result.size,
      duration: performance.now() - this.context.started,
      resumed: this.resumed,
      connections: this.connections,
      ...(result.digest !== undefined ? { digest: result.digest, ...(checksum ? { verified: checksum } : {}) } : {}),
    };
    this.emit({ type: 'done', ...final });
    return final;
  }
}
