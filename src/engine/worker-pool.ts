/**
 * The pool: worker threads and the connections (slots) they drive. It carries out the
 * scheduler's decisions (which piece or split a free slot takes, which slow slot hands its
 * range back, which source a slot uses and what a failing one does; see scheduler.ts), routes
 * the workers' messages, and knows at every moment which bytes are written.
 */
import { fromWire, InternalError } from '../primitives/errors.js';
import type { FetchFile, FromWorker } from './protocol.js';
import { Assigner } from './assigner.js';
import type { CountSettings } from './connection-count.js';
import { STEAL_MIN_AGE } from './scheduler.js';
import type { ByteRange } from '../primitives/ranges.js';
import { SlotTable } from './slots.js';
import { Threads, type ThreadOptions } from './threads.js';
import type { WindowFeed } from './window.js';
import type { HttpTrace } from '../http/trace.js';

/** Settings of a pool for its whole life (one download): its threads', and what it reports. */
export interface PoolOptions extends ThreadOptions {
  onTrace?: (trace: HttpTrace) => void;
  /** Called when a range is retried. */
  onRetry?: (info: { attempt: number; delay: number; reason: string }) => void;
  /** Called when a range is complete (the control file is saved then). */
  onRangeDone?: () => void;
  /** Called when a slow connection's range is handed back (its speed and the median, bytes/s). */
  onSlow?: (speed: number, median: number) => void;
  /** Called when a lagging tail is handed to an idle connection (its speed, bytes/s, and the seconds it still needed). */
  onEndgame?: (speed: number, seconds: number) => void;
  /** Called when a source is dropped for the rest of the download. */
  onSourceDropped?: (url: string, reason: string) => void;
  /** Called when `-c auto` changes the connections in use (how many now, and why). */
  onConnections?: (connections: number, reason: string) => void;
  /** Called when a range ends with bytes written: which, from which source (piece checks, pieces.ts). */
  onWritten?: (range: ByteRange, source: number) => void;
}

/** One file for the pool to fetch. */
export interface PoolJob extends FetchFile {
  /** Byte ranges already written before this run (a resume). */
  written?: readonly ByteRange[];
  /** Work stealing never makes a range smaller than this. */
  minRangeSize: number;
  /** Connections for this file (at most the pool's): fixed, or the bounds of `-c auto`. */
  connections: CountSettings;
  /** The round trip (ms) estimated before any range answered; undefined when unknown. */
  roundTrip?: number;
  /** A stream's pieces, made as its window moves (the ranges given to `run` come first). */
  feed?: WindowFeed;
  /** Sources that served a bad piece: used only when no other is alive (may grow during the job). */
  demoted?: ReadonlySet<number>;
}

/** Thrown by {@link WorkerPool.run} when the server turned out to ignore ranges. */
export class RangesUnsupported extends Error {}

/** Worker threads and their connections, fetching one file at a time as the assigner decides. */
export class WorkerPool {
  private readonly table: SlotTable;
  private readonly threads: Threads;
  private readonly assigner: Assigner;
  private settle?: { resolve: () => void; reject: (err: Error) => void };
  private failure: Error | undefined;
  private job: PoolJob | undefined;
  private rescan: NodeJS.Timeout | undefined;
  private stopping?: Promise<void>;

  constructor(private readonly options: PoolOptions) {
    this.table = new SlotTable(Math.max(1, options.connections));
    this.threads = new Threads(options, this.table, {
      message: (message) => {
        try {
          this.onMessage(message);
        } catch (err) {
          // A bug here must end this download with a typed error, not the process.
          this.fail(new InternalError(`pool failed: ${(err as Error).message}`, { cause: err }));
        }
      },
      error: (err) => this.fail(new InternalError(`worker thread failed: ${err.message}`, { cause: err })),
      exit: (code) => {
        if (!this.stopping && code !== 0) this.fail(new InternalError(`worker thread exited with code ${code}`));
      },
    });
    this.assigner = new Assigner(this.table, {
      run: (slot, source) => this.threads.run(slot, source),
      onSlow: options.onSlow,
      onEndgame: options.onEndgame,
      onSourceDropped: (source, reason) => options.onSourceDropped?.(this.job?.sources[source]?.url ?? '', reason),
      onConnections: options.onConnections,
      onWritten: options.onWritten,
    });
  }

  /** Fetch these ranges of a file; resolves when every byte of them is written. */
  run(job: PoolJob, ranges: readonly ByteRange[]): Promise<void> {
    this.job = job;
    this.failure = undefined;
    const { mode, sources, minRangeSize, connections, roundTrip, feed, demoted } = job;
    const assign = { mode, sources: sources.length, minRangeSize, connections, ...(roundTrip !== undefined ? { roundTrip } : {}), ...(feed ? { feed } : {}), ...(demoted ? { demoted } : {}) };
    this.assigner.load(assign, ranges, job.written ?? [], performance.now());
    const wire: FetchFile = { partPath: job.partPath, sources, mode, size: job.size, ...(job.ring ? { ring: job.ring } : {}) };
    this.threads.post({ type: 'file', file: wire });
    // Speeds are sampled, and a free connection looks again for a range to split, every tick.
    clearInterval(this.rescan);
    this.rescan = setInterval(() => this.settleIf(this.assigner.tick(performance.now())), STEAL_MIN_AGE);
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      this.settleIf(this.assigner.schedule(performance.now()));
    }).finally(() => clearInterval(this.rescan));
  }

  /** Every byte range written so far, merged. */
  written(): ByteRange[] {
    return this.assigner.written();
  }

  /** Written bytes found bad (a piece that failed its hash): no longer written, and first in the queue. */
  unwrite(range: ByteRange): void {
    this.assigner.unwrite(range);
    this.wake();
  }

  /** Look for work now: a stream's window moved. */
  wake(): void {
    if (this.live()) this.settleIf(this.assigner.schedule(performance.now()));
  }

  /** Connections fetching right now. */
  activeConnections(): number {
    return this.assigner.active();
  }

  /** Stop every worker; buffered bytes are written first. Safe to call more than once. */
  stop(): Promise<void> {
    clearInterval(this.rescan);
    // Before any job (the probe failed, or an abort came first) there are no buffers to flush.
    this.stopping ??= this.threads.stop(this.job !== undefined);
    return this.stopping;
  }

  private onMessage(message: FromWorker): void {
    if (message.type === 'stopped' || message.type === 'ready') return;
    if (message.type === 'http') {
      this.options.onTrace?.(message.trace);
      return;
    }
    if (message.type === 'retry') {
      if (message.pushback && this.live()) this.assigner.pushback(performance.now());
      this.options.onRetry?.(message);
      return;
    }
    if (message.type === 'failed' && message.slot < 0) {
      this.fail(fromWire(message.error));
      return;
    }
    if (!this.live()) return;
    if (message.type === 'done') {
      const finished = this.assigner.done(message.slot, performance.now());
      this.options.onRangeDone?.();
      this.settleIf(finished);
    } else if (message.type === 'no-ranges') {
      this.fail(new RangesUnsupported(message.reason));
    } else {
      const error = fromWire(message.error);
      const finished = this.assigner.failed(message.slot, error.code, error.message, performance.now());
      if (finished === undefined) this.fail(error);
      else this.settleIf(finished);
    }
  }

  /** Still fetching: no failure, not stopping. */
  private live(): boolean {
    return !this.failure && !this.stopping;
  }

  private settleIf(finished: boolean): void {
    if (finished && this.live()) this.settle?.resolve();
  }

  private fail(err: Error): void {
    if (this.failure || this.stopping) return;
    this.failure = err;
    this.settle?.reject(err);
  }
}
