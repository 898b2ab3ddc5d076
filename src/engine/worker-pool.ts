/**
 * The pool: worker threads and the connections (slots) they drive. It carries out the
 * scheduler's decisions (which piece or split a free slot takes, which slow slot hands its
 * range back, which source a slot uses and what a failing one does; see scheduler.ts), routes
 * the workers' messages, and knows at every moment which bytes are written.
 */
import { fromWire, InternalError, type RangegetError } from '../primitives/errors.js';
import type { FetchFile, FromWorker } from './protocol.js';
import { addSample, type BusySlot, chooseEndgame, chooseSource, chooseSplit, findSlow, medianSpeed, recentSpeed, roundTrip, sourceFailure, STEAL_MIN_AGE, takePieces } from './scheduler.js';
import { holes, normalize, type ByteRange } from '../primitives/ranges.js';
import { lastResort } from './pieces.js';
import { SlotTable } from './slots.js';
import { Threads, type ThreadOptions } from './threads.js';
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
  /** Called when a range ends with bytes written: which, from which source (piece checks, pieces.ts). */
  onWritten?: (range: ByteRange, source: number) => void;
}

/** One file for the pool to fetch. */
export interface PoolJob extends FetchFile {
  /** Byte ranges already written before this run (a resume). */
  written?: readonly ByteRange[];
  /** Work stealing never makes a range smaller than this. */
  minRangeSize: number;
  /** Connections to use for this file, at most the pool's. */
  connections: number;
  /** Sources that served a bad piece: used only when no other is alive (may grow during the job). */
  demoted?: ReadonlySet<number>;
}

/** Completed ranges whose speeds make the endgame's reference. */
const RANGE_SPEEDS = 16;

/** Thrown by {@link WorkerPool.run} when the server turned out to ignore ranges. */
export class RangesUnsupported extends Error {}

interface Slot {
  busy: boolean;
  /** Index of the source (the URL, then the mirrors) of the running range. */
  source?: number;
  /** When the running range started, for its speed. */
  startedAt: number;
  /** Bytes this connection wrote for ranges it no longer runs. */
  fetched: number;
  /** Its bytes (`fetched` plus the running range's) sampled every STEAL_MIN_AGE ms, the newest last. */
  samples: number[];
}

/** Worker threads and their connections, fetching one file at a time as the scheduler decides. */
export class WorkerPool {
  private readonly options: PoolOptions;
  private readonly table: SlotTable;
  private readonly threads: Threads;
  private readonly slots: Slot[] = [];
  /** Pieces waiting for a free slot, front first (ranges handed back go to the front). */
  private readonly queue: ByteRange[] = [];
  /** Written bytes that no running range will add to: kept from before this run (a resume), or written by ranges that ended. */
  private readonly writtenSettled: ByteRange[] = [];
  private settle?: { resolve: () => void; reject: (err: Error) => void };
  private failure: Error | undefined;
  private job: PoolJob | undefined;
  /** Speeds (bytes/s) of the last ranges completed in this job: what the server can do, for the endgame. */
  private readonly rangeSpeeds: number[] = [];
  /** Sources that failed during this job. */
  private deadSources: ReadonlySet<number> = new Set<number>();
  private rescan: NodeJS.Timeout | undefined;
  private stopping?: Promise<void>;

  constructor(options: PoolOptions) {
    this.options = options;
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
    for (let s = 0; s < this.table.count; s++) this.slots.push({ busy: false, startedAt: 0, fetched: 0, samples: [] });
  }

  /** Fetch these ranges of a file; resolves when every byte of them is written. */
  run(job: PoolJob, ranges: readonly ByteRange[]): Promise<void> {
    this.job = job;
    this.failure = undefined;
    this.writtenSettled.length = 0;
    this.writtenSettled.push(...(job.written ?? []));
    this.queue.length = 0;
    this.rangeSpeeds.length = 0;
    this.queue.push(...ranges.filter((r) => r.end > r.start));
    const wire: FetchFile = { partPath: job.partPath, sources: job.sources, mode: job.mode, size: job.size };
    this.deadSources = new Set<number>();
    this.threads.post({ type: 'file', file: wire });
    // A free connection looks again for a range to split as the running ones age.
    clearInterval(this.rescan);
    this.rescan = setInterval(() => {
      this.watchSpeeds();
      this.schedule();
    }, STEAL_MIN_AGE);
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      this.schedule();
    }).finally(() => clearInterval(this.rescan));
  }

  /** Every byte range written so far, merged. */
  written(): ByteRange[] {
    const ranges = [...this.writtenSettled];
    this.slots.forEach((slot, i) => {
      if (slot.busy) ranges.push({ start: this.table.start(i), end: this.table.position(i) });
    });
    return normalize(ranges, Number.MAX_SAFE_INTEGER);
  }

  /** Connections fetching right now. */
  activeConnections(): number {
    return this.slots.filter((s) => s.busy).length;
  }

  /** Stop every worker; buffered bytes are written first. Safe to call more than once. */
  stop(): Promise<void> {
    clearInterval(this.rescan);
    // Before any job (the probe failed, or an abort came first) there are no buffers to flush.
    this.stopping ??= this.threads.stop(this.job !== undefined);
    return this.stopping;
  }

  private onMessage(message: FromWorker): void {
    if (message.type === 'stopped') return;
    if (message.type === 'http') {
      this.options.onTrace?.(message.trace);
      return;
    }
    if (message.type === 'retry') {
      this.options.onRetry?.(message);
      return;
    }
    if (message.type === 'failed' && message.slot < 0) {
      this.fail(fromWire(message.error));
      return;
    }
    if (!this.slots[message.slot]) return;
    if (message.type === 'done') {
      this.recordSpeed(message.slot);
      this.release(message.slot);
      this.options.onRangeDone?.();
      this.schedule();
    } else if (message.type === 'no-ranges') {
      this.release(message.slot);
      this.fail(new RangesUnsupported(message.reason));
    } else {
      this.onFailed(message.slot, fromWire(message.error));
    }
  }

  /** A slot failed: its source is dropped and the rest of its range requeued, or the download fails. */
  private onFailed(index: number, error: RangegetError): void {
    const { source } = this.slots[index]!;
    const rest = this.release(index);
    const sources = this.job?.sources ?? [];
    const { dead, drop } = sourceFailure(error.code, source, sources.length, this.deadSources);
    this.deadSources = dead;
    if (drop === undefined) {
      this.fail(error);
      return;
    }
    this.options.onSourceDropped?.(sources[drop]!.url, error.message);
    if (rest) this.queue.unshift(rest);
    this.schedule();
  }

  /** Remember how fast a completed range came (the last RANGE_SPEEDS of them). */
  private recordSpeed(index: number): void {
    const seconds = (performance.now() - this.slots[index]!.startedAt) / 1000;
    const bytes = this.table.position(index) - this.table.start(index);
    if (seconds > 0 && bytes > 0) this.rangeSpeeds.push(bytes / seconds);
    if (this.rangeSpeeds.length > RANGE_SPEEDS) this.rangeSpeeds.shift();
  }

  /** Free a slot; returns what was left of its range. */
  private release(index: number): ByteRange | undefined {
    const slot = this.slots[index]!;
    if (!slot.busy) return undefined;
    slot.busy = false;
    const start = this.table.start(index);
    const position = this.table.position(index);
    const end = this.table.end(index);
    if (position > start) {
      this.writtenSettled.push({ start, end: position });
      this.options.onWritten?.({ start, end: position }, slot.source ?? 0);
    }
    slot.fetched += position - start;
    return position < end ? { start: position, end } : undefined;
  }

  /** Written bytes found bad (a piece that failed its hash): no longer written, and first in the queue. */
  unwrite(range: ByteRange): void {
    const kept = this.writtenSettled.flatMap((w) => holes(w.end, [{ start: 0, end: w.start }, range]));
    this.writtenSettled.splice(0, this.writtenSettled.length, ...kept);
    this.queue.unshift(range);
    this.schedule();
  }

  private fail(err: Error): void {
    if (this.failure || this.stopping) return;
    this.failure = err;
    this.settle?.reject(err);
  }

  private schedule(): void {
    if (this.failure || this.stopping) return;
    const usable = Math.min(this.slots.length, this.job?.connections ?? this.slots.length);
    this.slots.forEach((slot, index) => {
      if (slot.busy || index >= usable) return;
      const next = this.take(index) ?? this.steal() ?? this.endgame();
      if (next) this.start(index, next);
    });
    if (this.queue.length === 0 && this.slots.every((s) => !s.busy)) this.settle?.resolve();
  }

  /** Sample every slot's bytes; a slow slot keeps what is on its way, the rest goes back to the queue. */
  private watchSpeeds(): void {
    if (this.job?.mode !== 'ranges' || this.failure || this.stopping) return;
    this.slots.forEach((slot, i) => {
      slot.samples = slot.busy ? addSample(slot.samples, slot.fetched + this.table.position(i) - this.table.start(i)) : [];
    });
    for (const cut of findSlow(this.busySlots())) {
      this.table.setEnd(cut.slot, cut.keep);
      this.queue.unshift({ start: cut.keep, end: cut.end });
      this.slots[cut.slot]!.samples = [];
      this.options.onSlow?.(cut.speed, cut.median);
    }
  }

  /** The next pieces of the queue for a free slot, joined where round trips are long. */
  private take(index: number): ByteRange | undefined {
    const speed = this.job?.mode === 'ranges' ? recentSpeed(this.slots[index]!.samples) : undefined;
    const taken = takePieces(this.queue, speed, roundTrip(this.slots.map((_, i) => this.table.wait(i))));
    if (!taken) return undefined;
    this.queue.splice(0, taken.pieces);
    return taken.range;
  }

  /** Split a running range; the free slot gets its far part. */
  private steal(): ByteRange | undefined {
    if (this.job?.mode !== 'ranges') return undefined;
    const split = chooseSplit(this.busySlots(), performance.now(), this.job.minRangeSize);
    if (split) this.table.setEnd(split.slot, split.range.start);
    return split?.range;
  }

  /** Hand a tail that lags far behind to a free slot (scheduler.ts, chooseEndgame). */
  private endgame(): ByteRange | undefined {
    if (this.job?.mode !== 'ranges') return undefined;
    const handed = chooseEndgame(this.busySlots(), medianSpeed(this.rangeSpeeds));
    if (!handed) return undefined;
    this.table.setEnd(handed.slot, handed.range.start);
    this.slots[handed.slot]!.samples = [];
    this.options.onEndgame?.(handed.speed, handed.seconds);
    return handed.range;
  }

  /** The busy slots as the table has them now. */
  private busySlots(): BusySlot[] {
    const { table } = this;
    return this.slots.flatMap(({ busy, startedAt, samples }, i) =>
      busy ? [{ slot: i, start: table.start(i), end: table.end(i), position: table.position(i), received: table.received(i), startedAt, samples }] : [],
    );
  }

  private start(index: number, range: ByteRange): void {
    const slot = this.slots[index]!;
    slot.busy = true;
    slot.startedAt = performance.now();
    this.table.assign(index, range.start, range.end);
    const sources = this.job?.sources.length ?? 1;
    slot.source = chooseSource(index, sources, lastResort(this.deadSources, this.job?.demoted ?? new Set(), sources));
    this.threads.run(index, slot.source);
  }
}
