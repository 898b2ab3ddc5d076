/**
 * The pool: worker threads and the connections they drive. It hands the planned pieces to
 * free connections front to back (joining consecutive ones where round trips are long),
 * splits the largest running range when none is left (work stealing), and knows at every
 * moment which bytes are written.
 */
import { HttpError, InternalError, NetworkError, RangegetError, RemoteChangedError, ServerError, TimeoutError } from '../primitives/errors.js';
import type { FromWorker, Job, WireError } from './protocol.js';
import { chooseSteal } from './scheduler.js';
import { normalize, type ByteRange } from '../primitives/ranges.js';
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
  /** Called when a source is dropped for the rest of the download. */
  onSourceDropped?: (url: string, reason: string) => void;
}

/** One file for the pool to fetch. */
export interface PoolJob extends Job {
  /** Byte ranges already written before this run (a resume). */
  done?: readonly ByteRange[];
  /** Work stealing never makes a range smaller than this. */
  minRangeSize: number;
  /** Connections to use for this file, at most the pool's. */
  connections: number;
}

/** Thrown by {@link WorkerPool.run} when the server turned out to ignore ranges. */
export class RangesUnsupported extends Error {}

/** Turn an error from a worker back into a typed error. */
export function errorFromWire(error: WireError): RangegetError {
  switch (error.code) {
    case 'EHTTP':
      return new HttpError(error.status ?? 0, error.url ?? '', error.message);
    case 'ECHANGED':
      return new RemoteChangedError(error.message);
    case 'ETIMEOUT':
      return new TimeoutError(error.message);
    case 'ESERVER':
      return new ServerError(error.message);
    case 'EFILE':
    case 'ENOSPACE':
      return new RangegetError(error.code, error.message);
    case 'ENETWORK':
      return new NetworkError(error.message);
    default:
      return new RangegetError(error.code, error.message);
  }
}

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

/** Seconds over which a connection's speed is compared with the others'. */
const SLOW_WINDOW_SAMPLES = 12; // × STEAL_MIN_AGE = 3 s
/** A connection this many times slower than the median is given up (its range goes back to the queue). */
const SLOW_FACTOR = 8;

/** A range younger than this is not split: its speed, and so what is in flight, is unknown. */
const STEAL_MIN_AGE = 250;
/** A range joined from pieces lasts at most this many round trips (idle before it ≤ 5%). */
const WAITS_PER_RANGE = 20;
/** Seconds of a range's speed counted as on their way (sent, not yet received) when splitting it. */
const IN_FLIGHT_SECONDS = 1;

/** Failures that drop a source rather than end the download. */
const sourceFailures = new Set(['EHTTP', 'ENETWORK', 'ETIMEOUT', 'ESERVER']);

/** Worker threads and their connections (slots), fetching one file at a time. */
export class WorkerPool {
  private readonly options: PoolOptions;
  private readonly table: SlotTable;
  private readonly threads: Threads;
  private readonly slots: Slot[] = [];
  private readonly queue: ByteRange[] = [];
  /** Ranges written before this run (a resume) and by ranges no longer running. */
  private readonly doneRanges: ByteRange[] = [];
  private settle?: { resolve: () => void; reject: (err: Error) => void };
  private failure: Error | undefined;
  private job: PoolJob | undefined;
  /** Sources that failed during this job. */
  private readonly deadSources = new Set<number>();
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
    this.doneRanges.length = 0;
    this.doneRanges.push(...(job.done ?? []));
    this.queue.length = 0;
    this.queue.push(...ranges.filter((r) => r.end > r.start));
    const wire: Job = { partPath: job.partPath, sources: job.sources, mode: job.mode, size: job.size };
    this.deadSources.clear();
    this.threads.post({ type: 'job', job: wire });
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
    const segments = [...this.doneRanges];
    this.slots.forEach((slot, i) => {
      if (slot.busy) segments.push({ start: this.table.start(i), end: this.table.position(i) });
    });
    return normalize(segments, Number.MAX_SAFE_INTEGER);
  }

  /** Bytes written so far. */
  writtenBytes(): number {
    return this.written().reduce((sum, s) => sum + s.end - s.start, 0);
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
      this.fail(errorFromWire(message.error));
      return;
    }
    const slot = this.slots[message.slot];
    if (!slot) return;
    if (message.type === 'done') {
      this.release(message.slot);
      this.options.onRangeDone?.();
      this.schedule();
    } else if (message.type === 'no-ranges') {
      this.release(message.slot);
      this.fail(new RangesUnsupported(message.reason));
    } else {
      const error = errorFromWire(message.error);
      const rest = this.release(message.slot);
      // With mirrors, a source that fails is dropped and its range goes to the others.
      const sources = this.job?.sources.length ?? 1;
      if (sources > 1 && sourceFailures.has(error.code) && slot.source !== undefined) {
        this.deadSources.add(slot.source);
        if (this.deadSources.size < sources) {
          this.options.onSourceDropped?.(this.job!.sources[slot.source]!.url, error.message);
          if (rest) this.queue.unshift(rest);
          this.schedule();
          return;
        }
      }
      this.fail(error);
    }
  }

  /** Free a slot; returns what was left of its range. */
  private release(index: number): ByteRange | undefined {
    const slot = this.slots[index]!;
    if (!slot.busy) return undefined;
    slot.busy = false;
    const start = this.table.start(index);
    const position = this.table.position(index);
    const end = this.table.end(index);
    if (position > start) this.doneRanges.push({ start, end: position });
    slot.fetched += position - start;
    return position < end ? { start: position, end } : undefined;
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
      const next = this.take(index) ?? this.steal();
      if (next) this.start(index, next);
    });
    if (this.queue.length === 0 && this.slots.every((s) => !s.busy)) this.settle?.resolve();
  }

  /**
   * Slow connections: one far below the median speed of the others for several seconds
   * keeps only the bytes already on their way; the rest of its range goes back to the
   * queue, for the next free connection (a new connection, often a better path).
   */
  private watchSpeeds(): void {
    if (this.job?.mode !== 'ranges' || this.failure || this.stopping) return;
    const speeds: Array<{ index: number; speed: number }> = [];
    this.slots.forEach((slot, index) => {
      // A connection is judged over several ranges (pieces often take less than the window).
      if (!slot.busy) {
        slot.samples = [];
        return;
      }
      slot.samples.push(slot.fetched + this.table.position(index) - this.table.start(index));
      if (slot.samples.length > SLOW_WINDOW_SAMPLES + 1) slot.samples.shift();
      if (slot.samples.length === SLOW_WINDOW_SAMPLES + 1) {
        speeds.push({ index, speed: slot.samples.at(-1)! - slot.samples[0]! });
      }
    });
    if (speeds.length < 3) return;
    const sorted = speeds.map((s) => s.speed).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    for (const { index, speed } of speeds) {
      if (speed * SLOW_FACTOR >= median) continue;
      const position = this.table.position(index);
      const end = this.table.end(index);
      // What arrives within a second at its own speed stays with it (its buffer is flushed
      // every flushInterval, so little more than that is held unwritten).
      const perSecond = speed / ((SLOW_WINDOW_SAMPLES * STEAL_MIN_AGE) / 1000);
      const keep = Math.ceil(position + Math.max(64 * 1024, perSecond));
      // The rest may be under the minimum range size: it is what a slow connection holds back.
      if (keep >= end) continue;
      this.table.setEnd(index, keep);
      this.queue.unshift({ start: keep, end });
      this.slots[index]!.samples = [];
      const window = (SLOW_WINDOW_SAMPLES * STEAL_MIN_AGE) / 1000;
      this.options.onSlow?.(perSecond, median / window);
    }
  }

  /**
   * The next range for a free connection: the first piece in the queue, joined with the
   * pieces right after it while the whole takes this connection no more than WAITS_PER_RANGE
   * round trips (the shortest wait for response headers seen on any connection). Every range costs a round trip of idle connection before its first
   * byte: small pieces keep every connection busy to the end where round trips are short
   * (loopback, a LAN), joined pieces keep that idle time under 5% where they are long.
   */
  private take(index: number): ByteRange | undefined {
    const head = this.queue.shift();
    if (!head) return undefined;
    const speed = this.job?.mode === 'ranges' ? this.recentSpeed(index) : undefined;
    const wait = this.roundTrip();
    if (speed === undefined || wait === undefined) return head;
    const most = speed * ((WAITS_PER_RANGE * wait) / 1000);
    const range = { ...head };
    for (let next = this.queue[0]; next && next.start === range.end && next.end - range.start <= most; next = this.queue[0]) {
      range.end = next.end;
      this.queue.shift();
    }
    return range;
  }

  /** Milliseconds of the quickest response start on any connection; undefined before one. */
  private roundTrip(): number | undefined {
    let best: number | undefined;
    for (let i = 0; i < this.slots.length; i++) {
      const wait = this.table.wait(i);
      if (wait > 0 && (best === undefined || wait < best)) best = wait;
    }
    return best;
  }

  /** A connection's bytes/s over its last second (fewer samples early on); undefined before any. */
  private recentSpeed(index: number): number | undefined {
    const samples = this.slots[index]!.samples;
    const n = Math.min(samples.length - 1, 4);
    if (n < 1) return undefined;
    return ((samples.at(-1)! - samples.at(-1 - n)!) * 1000) / (n * STEAL_MIN_AGE);
  }

  /** Split the running range with the most left, giving its far half to a free connection. */
  private steal(): ByteRange | undefined {
    if (this.job?.mode !== 'ranges') return undefined;
    const now = performance.now();
    const busy = this.slots.flatMap((slot, index) => (slot.busy && now - slot.startedAt >= STEAL_MIN_AGE ? [index] : []));
    const running = busy.map((i) => {
      // Split only past what has arrived (written or buffered) and what is on its way
      // (a second at the range's speed): those bytes would be fetched twice.
      const received = Math.max(this.table.received(i), this.table.position(i));
      const speed = ((received - this.table.start(i)) * 1000) / (now - this.slots[i]!.startedAt);
      return { position: received, end: this.table.end(i), margin: Math.max(64 * 1024, speed * IN_FLIGHT_SECONDS) };
    });
    const steal = chooseSteal(running, this.job.minRangeSize, this.options.writeBuffer);
    if (!steal) return undefined;
    const victim = busy[steal.index]!;
    const end = running[steal.index]!.end;
    this.table.setEnd(victim, steal.at);
    return { start: steal.at, end };
  }

  private start(index: number, range: ByteRange): void {
    const slot = this.slots[index]!;
    slot.busy = true;
    slot.startedAt = performance.now();
    this.table.assign(index, range.start, range.end);
    // Spread connections over the live sources (the URL and its mirrors).
    const sources = this.job?.sources.length ?? 1;
    const live = [...Array(sources).keys()].filter((i) => !this.deadSources.has(i));
    slot.source = live[index % live.length] ?? 0;
    this.threads.run(index, slot.source);
  }
}
