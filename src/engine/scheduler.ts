/**
 * The scheduler: the pool's policy as pure decisions. Which piece a free slot takes next
 * (joined with the pieces after it where round trips are long), which running range a free
 * slot splits when the queue is empty (work stealing), which slow slot hands the rest of its
 * range back, which lagging tail an idle slot takes when nothing else is left (the endgame),
 * which source a slot fetches from, and what a failing source does.
 *
 * No I/O, no timers, no clock: the pool passes in what it reads from the slot table and the
 * time, and carries out what comes back. It runs per event and per tick, never per chunk.
 */
import type { ErrorCode } from '../primitives/errors.js';
import type { ByteRange } from '../primitives/ranges.js';

/**
 * A range younger than this is not split: its speed, and so what is in flight, is unknown.
 * Also the pool's tick (ms): slots are sampled and free slots look for work this often.
 */
export const STEAL_MIN_AGE = 250;
/** A range joined from pieces lasts at most this many round trips (idle before it ≤ 5%). */
export const WAITS_PER_RANGE = 20;
/**
 * Where round trips are short (under MIN_RANGE_MS / WAITS_PER_RANGE), a joined range may still
 * last this long (ms) at its connection's speed: each range costs CPU of its own (a request, a
 * response head, two messages between threads, a control-file save): ~0.6 ms in all on 1 GiB
 * over loopback, 512 single 2 MiB pieces. Measured there (`--no-fsync`, 5 alternating runs,
 * medians of user + sys CPU and wall): 0 ms 0.64 + 0.80 s, 1.15 s; 50 ms 0.60 + 0.71 s, 1.04 s;
 * 100 ms 0.46 + 0.66 s, 0.95 s; 250 ms 0.42 + 0.72 s, 1.00 s (curl 0.05 + 0.82 s, 0.88 s).
 * Only round trips under 5 ms are concerned: longer ones join more already.
 */
export const MIN_RANGE_MS = 100;
/**
 * Bytes/s a connection is taken to reach when joining pieces, before its speed is measured and
 * while slow start understates it. In the scheduler simulation, 16 connections fetching 256 MiB
 * at 80 ms with 8 MiB/s each took 3.76 s when the first range was one 1 MiB piece (the window
 * was still opening when each ended) and ~2.4 s with one range per connection from the start.
 */
export const ASSUMED_SPEED = 8 * 1024 * 1024;
/** Seconds of a range's speed counted as on their way (sent, not yet received) when splitting it. */
export const IN_FLIGHT_SECONDS = 1;
/** Samples over which a slot's speed is compared with the others'. */
export const SLOW_WINDOW_SAMPLES = 12; // × STEAL_MIN_AGE = 3 s
/** A slot this many times slower than the median is given up (its range goes back to the queue). */
export const SLOW_FACTOR = 8;
/** Seconds a tail may still need at its own speed, with a connection idle, before the endgame hands it over. */
export const ENDGAME_SECONDS = 2;
/** Fewest bytes past the position that stay with a running range when it is split or cut, however slow it is. */
const MIN_IN_FLIGHT = 64 * 1024;
/** Seconds a slot's samples span. */
const WINDOW_SECONDS = (SLOW_WINDOW_SAMPLES * STEAL_MIN_AGE) / 1000;

/** Failures that drop a source rather than end the download. */
const SOURCE_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['EHTTP', 'ENETWORK', 'ETIMEOUT', 'ESERVER']);

/** Milliseconds of the quickest response start on any slot (`waits`, 0 before a slot's first); undefined before one. */
export function roundTrip(waits: readonly number[]): number | undefined {
  let best: number | undefined;
  for (const wait of waits) {
    if (wait > 0 && (best === undefined || wait < best)) best = wait;
  }
  return best;
}

/** A slot's bytes/s over its last second (fewer samples early on); undefined before two samples. */
export function recentSpeed(samples: readonly number[]): number | undefined {
  const n = Math.min(samples.length - 1, 4);
  if (n < 1) return undefined;
  return ((samples.at(-1)! - samples.at(-1 - n)!) * 1000) / (n * STEAL_MIN_AGE);
}

/** The range a free slot takes: the first `pieces` of the queue, joined. */
export interface Take {
  range: ByteRange;
  /** How many pieces from the front of the queue it joins (the pool removes them). */
  pieces: number;
}

/**
 * The next range for a free slot: the first piece in the queue, joined with the pieces right
 * after it while the whole takes this slot no more than WAITS_PER_RANGE round trips
 * (`roundTripMs`), or MIN_RANGE_MS where that is longer, at its speed (`speed`, bytes/s; at least ASSUMED_SPEED, the speed of a
 * connection before it is measured, or while slow start understates it), and is no more than
 * its share of the work left: the queue and the `running` ranges' remaining bytes, shared by
 * the `connections` in use. So the last ranges end together without shrinking to single pieces
 * (a share of the queue alone ended 128 MiB at 200 ms with thirty 1 MiB requests, each a round
 * trip of idle connection). Every range costs a round trip of idle
 * connection before its first byte: small pieces keep every connection busy to the end where
 * round trips are short (loopback, a LAN), joined pieces keep that idle time under 5% where
 * they are long. Without a round trip yet, the first piece alone. Undefined when the queue is
 * empty.
 */
export function takePieces(queue: readonly ByteRange[], speed: number | undefined, roundTripMs: number | undefined, connections = 1, running = 0): Take | undefined {
  const head = queue[0];
  if (!head) return undefined;
  const range = { ...head };
  if (roundTripMs === undefined) return { range, pieces: 1 };
  const queued = queue.reduce((sum, r) => sum + r.end - r.start, 0);
  const most = Math.min(Math.max(speed ?? 0, ASSUMED_SPEED) * (Math.max(WAITS_PER_RANGE * roundTripMs, MIN_RANGE_MS) / 1000), (queued + running) / connections);
  let pieces = 1;
  for (let next = queue[pieces]; next && next.start === range.end && next.end - range.start <= most; next = queue[pieces]) {
    range.end = next.end;
    pieces++;
  }
  return { range, pieces };
}

/** A range being fetched: `position` is the next byte to write, `end` its exclusive end. */
export interface RunningRange {
  position: number;
  end: number;
  /** Bytes past the position that stay with this range (already on their way); default `margin`. */
  margin?: number;
}

/** Where to split a running range so an idle connection can take its far half. */
export interface Steal {
  /** Index into the list given to {@link chooseSteal}. */
  index: number;
  /** The new end of the running range and the start of the stolen one. */
  at: number;
}

/**
 * Work stealing: pick the running range with the most bytes left and split it at the
 * midpoint of what is left. `margin` bytes just past the current position stay with the
 * running connection (they may already be in its buffers). Returns undefined when no
 * range has enough left for both halves to be at least `minRangeSize`.
 */
export function chooseSteal(running: readonly RunningRange[], minRangeSize: number, margin = 0): Steal | undefined {
  let best: Steal | undefined;
  let bestLeft = 0;
  running.forEach((r, index) => {
    const from = Math.ceil(r.position + (r.margin ?? margin));
    const left = r.end - from;
    if (left >= 2 * minRangeSize && left > bestLeft) {
      bestLeft = left;
      best = { index, at: from + Math.ceil(left / 2) };
    }
  });
  return best;
}

/** A busy slot as the pool reads it from the slot table. */
export interface BusySlot {
  /** Index in the slot table. */
  slot: number;
  start: number;
  end: number;
  /** Next byte to write. */
  position: number;
  /** End of the bytes received (written or buffered). */
  received: number;
  /** When its range started, on the clock of `now`, in ms. */
  startedAt: number;
  /** Its bytes sampled every tick, the newest last (see {@link addSample}). */
  samples: readonly number[];
}

/** A split decided by {@link chooseSplit}: `slot`'s range now ends at `range.start`; a free slot takes `range`. */
export interface Split {
  slot: number;
  range: ByteRange;
}

/**
 * Split the running range with the most left, for a free slot to take its far half. Ranges
 * younger than STEAL_MIN_AGE are left alone; of the others, only what is past the bytes
 * received and those on their way (IN_FLIGHT_SECONDS at the range's speed, 64 KiB at least)
 * may move: those bytes would be fetched twice.
 */
export function chooseSplit(busy: readonly BusySlot[], now: number, minRangeSize: number): Split | undefined {
  const old = busy.filter((b) => now - b.startedAt >= STEAL_MIN_AGE);
  const running = old.map((b) => {
    const received = Math.max(b.received, b.position);
    const speed = ((received - b.start) * 1000) / (now - b.startedAt);
    return { position: received, end: b.end, margin: Math.max(MIN_IN_FLIGHT, speed * IN_FLIGHT_SECONDS) };
  });
  const steal = chooseSteal(running, minRangeSize);
  if (!steal) return undefined;
  return { slot: old[steal.index]!.slot, range: { start: steal.at, end: running[steal.index]!.end } };
}

/**
 * A slot's samples after one more tick: `bytes` is all it wrote so far (over several ranges: a
 * slot is judged over more than one, pieces often take less than the window), the newest
 * last, at most SLOW_WINDOW_SAMPLES + 1 kept.
 */
export function addSample(samples: readonly number[], bytes: number): number[] {
  return [...samples.slice(-SLOW_WINDOW_SAMPLES), bytes];
}

/** A slow slot to cut: its range ends at `keep`; `[keep, end)` goes back to the front of the queue. */
export interface Eviction {
  slot: number;
  keep: number;
  end: number;
  /** Its speed and the median speed, bytes/s. */
  speed: number;
  median: number;
}

/**
 * Slow slots: one far below the median speed of the others for several seconds keeps only
 * the bytes already on their way; the rest of its range goes back to the queue, for the next
 * free slot (a new connection, often a better path). Judged: slots with a full window of
 * samples, at least three of them; slow: SLOW_FACTOR times below their median.
 */
export function findSlow(busy: readonly BusySlot[]): Eviction[] {
  const judged = busy.filter((s) => s.samples.length === SLOW_WINDOW_SAMPLES + 1);
  if (judged.length < 3) return [];
  const windows = judged.map((s) => s.samples.at(-1)! - s.samples[0]!);
  const median = [...windows].sort((a, b) => a - b)[Math.floor(windows.length / 2)]!;
  return judged.flatMap((s, i) => {
    const bytes = windows[i]!;
    if (bytes * SLOW_FACTOR >= median) return [];
    // What arrives within a second at its own speed stays with it (its buffer is flushed
    // every flushInterval, so little more than that is held unwritten).
    const speed = bytes / WINDOW_SECONDS;
    const keep = Math.ceil(s.position + Math.max(MIN_IN_FLIGHT, speed));
    // The rest may be under the minimum range size: it is what a slow connection holds back.
    if (keep >= s.end) return [];
    return [{ slot: s.slot, keep, end: s.end, speed, median: median / WINDOW_SECONDS }];
  });
}

/** A tail handed over by {@link chooseEndgame}: `slot`'s range now ends at `range.start`; an idle slot takes `range`. */
export interface Endgame {
  slot: number;
  range: ByteRange;
  /** The tail's speed, bytes/s, and the seconds it still needed at that speed. */
  speed: number;
  seconds: number;
}

/**
 * The endgame, a decision of its own, taken only when nothing is queued and no range can be
 * split (a free slot found no other work): a running range that would still need more than
 * ENDGAME_SECONDS at its connection's speed over the last SLOW_WINDOW_SAMPLES ticks (a
 * trickling or silent connection) keeps only the
 * bytes on their way (one second at that speed, none when it is silent) and an idle connection
 * fetches the rest, whatever the range size, with no median of running slots to compare with
 * (the others are done). `reference`: the median speed of the ranges completed so far (what
 * this server can do, bytes/s); a tail is judged behind only when SLOW_FACTOR times below it,
 * so a steady connection keeps its range. Without one (a single range from the start), the
 * time alone decides. The tail with the longest wait goes first. If the new connection is no
 * faster, it is judged the same way once it has a window of its own: a slow tail moves, it never hangs. Each
 * byte still has one writer: the old connection's range ends where the new one's starts.
 */
export function chooseEndgame(busy: readonly BusySlot[], reference?: number): Endgame | undefined {
  let best: Endgame | undefined;
  for (const b of busy) {
    // Judged over a full window, as findSlow does: a connection that pauses for a moment under load keeps its range.
    if (b.samples.length !== SLOW_WINDOW_SAMPLES + 1) continue;
    const speed = (b.samples.at(-1)! - b.samples[0]!) / WINDOW_SECONDS;
    if (reference !== undefined && speed * SLOW_FACTOR >= reference) continue;
    const from = Math.max(b.received, b.position);
    // A connection silent for its last second keeps nothing: the bytes "on their way" at its
    // window's speed would never come, and would need a second window to move.
    const keep = Math.ceil(from + Math.min(speed, recentSpeed(b.samples) ?? speed) * IN_FLIGHT_SECONDS);
    const seconds = speed > 0 ? (b.end - from) / speed : Infinity;
    if (keep >= b.end || seconds <= ENDGAME_SECONDS || (best && seconds <= best.seconds)) continue;
    best = { slot: b.slot, range: { start: keep, end: b.end }, speed, seconds };
  }
  return best;
}

/** The median of `speeds`, undefined when there are none. */
export function medianSpeed(speeds: readonly number[]): number | undefined {
  return [...speeds].sort((a, b) => a - b)[Math.floor(speeds.length / 2)];
}

/** The source (index into the URL, then the mirrors) a slot fetches from: slots spread over the live ones. */
export function chooseSource(slot: number, sources: number, dead: ReadonlySet<number>): number {
  const live = [...Array(sources).keys()].filter((i) => !dead.has(i));
  return live[slot % live.length] ?? 0;
}

/** What a slot's failure does to the sources: see {@link sourceFailure}. */
export interface SourceFailure {
  /** The dead sources from now on. */
  dead: ReadonlySet<number>;
  /** The source dropped for the rest of the download; undefined when the download fails. */
  drop?: number;
}

/**
 * What a slot's failure does. A failure of the server or the way to it (EHTTP, ENETWORK,
 * ETIMEOUT, ESERVER) where there are mirrors marks the slot's source dead; so does a mirror's
 * answer that says the file changed (ECHANGED from any source but the first, the one the probe
 * described: that mirror no longer serves this file, which the first source decides, and a
 * start-over would probe the same mirror again). While another source is alive, it is dropped
 * (the rest of the slot's range goes back to the queue, for the others). Any other failure,
 * or the last source's, fails the download.
 */
export function sourceFailure(code: ErrorCode, source: number | undefined, sources: number, dead: ReadonlySet<number>): SourceFailure {
  if (sources <= 1 || source === undefined) return { dead };
  if (!SOURCE_FAILURES.has(code) && !(code === 'ECHANGED' && source > 0)) return { dead };
  const after = new Set(dead).add(source);
  return after.size < sources ? { dead: after, drop: source } : { dead: after };
}
