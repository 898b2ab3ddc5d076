/**
 * The assigner: which slot runs which range, and when. It keeps the queue of pieces, each
 * slot's state (busy, source, speed samples) and the written bytes no running range adds to,
 * and carries out the scheduler's pure decisions (scheduler.ts) on the slot table. It is
 * driven by events (a range done or failed) and ticks, with the time passed in: the pool
 * drives it with worker threads and a timer; the scheduler simulation (test/helpers/sim.ts)
 * with simulated connections and a simulated clock, so a policy is checked at 200 ms round
 * trips in milliseconds of test time.
 */
import type { ErrorCode } from '../primitives/errors.js';
import { holes, normalize, type ByteRange } from '../primitives/ranges.js';
import { ConnectionCount, type CountSettings } from './connection-count.js';
import { lastResort } from './pieces.js';
import {
  addSample,
  type BusySlot,
  chooseEndgame,
  chooseSource,
  chooseSplit,
  findSlow,
  medianSpeed,
  recentSpeed,
  roundTrip,
  sourceFailure,
  takePieces,
} from './scheduler.js';
import type { SlotTable } from './slots.js';
import type { WindowFeed } from './window.js';

/** What the assigner asks of its owner, and tells it. */
export interface AssignerHooks {
  /** Start fetching `slot`'s range, as the table has it now, from `source`. */
  run(slot: number, source: number): void;
  /** A slow connection's range was handed back (its speed and the median, bytes/s). */
  onSlow?(speed: number, median: number): void;
  /** A lagging tail was handed to an idle connection (its speed, bytes/s, and the seconds it still needed). */
  onEndgame?(speed: number, seconds: number): void;
  /** A source is dropped for the rest of the job (its index, and why). */
  onSourceDropped?(source: number, reason: string): void;
  /** The connections in use changed (`-c auto`): how many now, and why. */
  onConnections?(connections: number, reason: string): void;
  /** A range ended with bytes written: which, from which source (piece checks, pieces.ts). */
  onWritten?(range: ByteRange, source: number): void;
}

/** One file, as the assigner sees it. */
export interface AssignJob {
  /** 'ranges': ranges may be split, cut and judged by speed; 'stream': one plain answer. */
  mode: 'ranges' | 'stream';
  /** How many sources (the URL, then the mirrors). */
  sources: number;
  /** Work stealing never makes a range smaller than this. */
  minRangeSize: number;
  /** Connections: a fixed count, or the bounds `-c auto` moves between. */
  connections: CountSettings;
  /** The round trip (ms) estimated before any range answered (from the probe); undefined when unknown. */
  roundTrip?: number;
  /** A stream's pieces, made as its window moves (window.ts): the queue is topped up from it. */
  feed?: WindowFeed;
  /** Sources that served a bad piece: used only when no other is alive (may grow during the job). */
  demoted?: ReadonlySet<number>;
}

/** Completed ranges whose speeds make the endgame's reference. */
const RANGE_SPEEDS = 16;

interface Slot {
  busy: boolean;
  /** Index of the source of the running range. */
  source?: number;
  /** When the running range started, for its speed (ms, the clock of `now`). */
  startedAt: number;
  /** Bytes this connection wrote for ranges it no longer runs. */
  fetched: number;
  /** Its bytes (`fetched` plus the running range's) sampled every tick, the newest last. */
  samples: number[];
  /** Bytes/s of its last completed range: its speed where ranges end between two samples. */
  speed?: number;
}

/** Which slot fetches what: see the module comment. */
export class Assigner {
  private readonly slots: Slot[] = [];
  /** Pieces waiting for a free slot, front first (ranges handed back go to the front). */
  private readonly queue: ByteRange[] = [];
  /** Written bytes that no running range will add to: kept from before (a resume), or written by ranges that ended. */
  private readonly settled: ByteRange[] = [];
  /** Speeds (bytes/s) of the last ranges completed in this job: what the server can do, for the endgame. */
  private readonly rangeSpeeds: number[] = [];
  private dead: ReadonlySet<number> = new Set<number>();
  private job: AssignJob | undefined;
  private count: ConnectionCount | undefined;

  constructor(
    private readonly table: SlotTable,
    private readonly hooks: AssignerHooks,
  ) {
    for (let s = 0; s < table.count; s++) this.slots.push({ busy: false, startedAt: 0, fetched: 0, samples: [] });
  }

  /** Start a job: these ranges to fetch, `written` already on disk. Call {@link schedule} next. */
  load(job: AssignJob, ranges: readonly ByteRange[], written: readonly ByteRange[], now: number): void {
    this.job = job;
    this.settled.length = 0;
    this.settled.push(...written);
    this.queue.length = 0;
    this.queue.push(...ranges.filter((r) => r.end > r.start));
    this.rangeSpeeds.length = 0;
    this.dead = new Set<number>();
    const most = Math.min(this.slots.length, job.connections.most);
    this.count = new ConnectionCount({ ...job.connections, most }, now);
    for (const slot of this.slots) {
      slot.fetched = 0;
      slot.samples = [];
      delete slot.speed;
    }
  }

  /** Every byte range written so far, merged. */
  written(): ByteRange[] {
    const ranges = [...this.settled];
    this.slots.forEach((slot, i) => {
      if (slot.busy) ranges.push({ start: this.table.start(i), end: this.table.position(i) });
    });
    return normalize(ranges, Number.MAX_SAFE_INTEGER);
  }

  /** Connections fetching right now. */
  active(): number {
    return this.slots.filter((s) => s.busy).length;
  }

  /** Connections the job may use now (`-c auto` moves it). */
  usable(): number {
    return this.count?.current() ?? this.slots.length;
  }

  /** Bytes written by this job's connections so far (not those kept from before). */
  private fetched(): number {
    return this.slots.reduce((sum, slot, i) => sum + slot.fetched + (slot.busy ? this.table.position(i) - this.table.start(i) : 0), 0);
  }

  /** A range is done: free its slot, remember its speed, give out work. True when the job is finished. */
  done(slot: number, now: number): boolean {
    const s = this.slots[slot];
    if (!s) return this.finished();
    const seconds = (now - s.startedAt) / 1000;
    const bytes = this.table.position(slot) - this.table.start(slot);
    if (seconds > 0 && bytes > 0) this.rangeSpeeds.push((s.speed = bytes / seconds));
    if (this.rangeSpeeds.length > RANGE_SPEEDS) this.rangeSpeeds.shift();
    this.release(slot);
    return this.schedule(now);
  }

  /**
   * A slot failed with `code`: its source is dropped and the rest of its range requeued
   * (returns false, or true when that finished the job), or the job fails (returns undefined).
   */
  failed(slot: number, code: ErrorCode, reason: string, now: number): boolean | undefined {
    const s = this.slots[slot];
    if (!s) return false;
    const { source } = s;
    const rest = this.release(slot);
    const { dead, drop } = sourceFailure(code, source, this.job?.sources ?? 1, this.dead);
    this.dead = dead;
    if (drop === undefined) return undefined;
    this.hooks.onSourceDropped?.(drop, reason);
    if (rest) this.queue.unshift(rest);
    return this.schedule(now);
  }

  /** Written bytes found bad (a piece that failed its hash): no longer written, and first in the queue. Call {@link schedule} next. */
  unwrite(range: ByteRange): void {
    const kept = this.settled.flatMap((w) => holes(w.end, [{ start: 0, end: w.start }, range]));
    this.settled.splice(0, this.settled.length, ...kept);
    this.queue.unshift(range);
  }

  /** The server pushed back on a slot (429, 503, a refused or reset connection): use fewer connections. */
  pushback(now: number): void {
    const change = this.count?.pushback(this.active(), now);
    if (change) this.hooks.onConnections?.(change.connections, change.reason);
  }

  /** Every tick: sample speeds, cut slow slots, let `-c auto` decide, give out work. True when finished. */
  tick(now: number): boolean {
    if (this.job?.mode === 'ranges') {
      this.watchSpeeds();
      const rtt = this.roundTrip();
      // A stream's feed still to come counts as queued work.
      const queued = this.queue.reduce((sum, r) => sum + r.end - r.start, 0) + (this.job.feed?.exhausted === false ? this.job.minRangeSize : 0);
      const change = this.count?.tick(this.fetched(), this.active(), queued, now, rtt);
      if (change) this.hooks.onConnections?.(change.connections, change.reason);
    }
    return this.schedule(now);
  }

  /** Give every free usable slot work. True when nothing is queued and no slot is busy. */
  schedule(now: number): boolean {
    this.job?.feed?.fill(this.queue);
    const usable = this.usable();
    let idle = usable - this.active();
    // With the queue empty, a slot that finds nothing to steal or hand over tells every other
    // free slot the same: asking again per slot cost a batch of 200 small files ~0.1 s of CPU.
    let nothing = false;
    this.slots.forEach((slot, index) => {
      if (slot.busy || idle <= 0 || nothing) return;
      const next = this.take(index) ?? this.steal(now) ?? this.endgame();
      if (!next) {
        nothing = this.queue.length === 0;
        return;
      }
      this.start(index, next, now);
      idle--;
    });
    return this.finished();
  }

  private finished(): boolean {
    const planned = this.job?.feed?.exhausted ?? true;
    return planned && this.queue.length === 0 && this.slots.every((s) => !s.busy);
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
      // Kept merged: a stream's pieces are many, and it asks for the written prefix often.
      const merged = normalize([...this.settled, { start, end: position }], Number.MAX_SAFE_INTEGER);
      this.settled.splice(0, this.settled.length, ...merged);
      this.hooks.onWritten?.({ start, end: position }, slot.source ?? 0);
    }
    slot.fetched += position - start;
    return position < end ? { start: position, end } : undefined;
  }

  /** Sample every slot's bytes; a slow slot keeps what is on its way, the rest goes back to the queue. */
  private watchSpeeds(): void {
    this.slots.forEach((slot, i) => {
      slot.samples = slot.busy ? addSample(slot.samples, slot.fetched + this.table.position(i) - this.table.start(i)) : [];
    });
    for (const cut of findSlow(this.busySlots())) {
      this.table.setEnd(cut.slot, cut.keep);
      this.queue.unshift({ start: cut.keep, end: cut.end });
      this.slots[cut.slot]!.samples = [];
      this.hooks.onSlow?.(cut.speed, cut.median);
    }
  }

  /** The next pieces of the queue for a free slot, joined where round trips are long. */
  private take(index: number): ByteRange | undefined {
    if (this.queue.length === 0) return undefined;
    const slot = this.slots[index]!;
    const speed = this.job?.mode === 'ranges' ? (recentSpeed(slot.samples) ?? slot.speed) : undefined;
    const running = this.busySlots().reduce((sum, b) => sum + b.end - Math.max(b.received, b.position), 0);
    // While -c auto may add connections, work is left queued for them (they would otherwise split running ranges).
    const taken = takePieces(this.queue, speed, this.roundTrip(), this.count?.sharing() ?? this.usable(), running);
    if (!taken) return undefined;
    this.queue.splice(0, taken.pieces);
    return taken.range;
  }

  /** The path's round trip (ms): the quickest response start seen, else the job's estimate. */
  private roundTrip(): number | undefined {
    return roundTrip(this.slots.map((_, i) => this.table.wait(i))) ?? this.job?.roundTrip;
  }

  /** Split a running range; the free slot gets its far part. */
  private steal(now: number): ByteRange | undefined {
    if (this.job?.mode !== 'ranges') return undefined;
    const split = chooseSplit(this.busySlots(), now, this.job.minRangeSize);
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
    this.hooks.onEndgame?.(handed.speed, handed.seconds);
    return handed.range;
  }

  /** The busy slots as the table has them now. */
  private busySlots(): BusySlot[] {
    const { table } = this;
    return this.slots.flatMap(({ busy, startedAt, samples }, i) =>
      busy ? [{ slot: i, start: table.start(i), end: table.end(i), position: table.position(i), received: table.received(i), startedAt, samples }] : [],
    );
  }

  private start(index: number, range: ByteRange, now: number): void {
    const slot = this.slots[index]!;
    slot.busy = true;
    slot.startedAt = now;
    this.table.assign(index, range.start, range.end);
    const sources = this.job?.sources ?? 1;
    slot.source = chooseSource(index, sources, lastResort(this.dead, this.job?.demoted ?? new Set(), sources));
    this.hooks.run(index, slot.source);
  }
}
