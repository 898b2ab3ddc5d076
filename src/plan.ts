/**
 * The planner: pure functions that decide which byte ranges to fetch. No I/O.
 *
 * Every range is half-open, `[start, end)`, so lengths are `end - start` and
 * adjacent ranges share a boundary without overlapping.
 */

/** A half-open byte range `[start, end)`. */
export interface Segment {
  start: number;
  end: number;
}

/** What the planner needs to know. */
export interface PlanInput {
  /** Size of the remote file in bytes. */
  size: number;
  /**
   * Connections wanted: the plan has at most this many ranges, or one per hole when a
   * resume left more holes than that (the pool runs them `connections` at a time).
   */
  connections: number;
  /** No range is made smaller than this, except a whole hole that is smaller. */
  minRangeSize: number;
  /** Byte ranges already written (from a control file); may overlap and be unsorted. */
  done?: readonly Segment[];
}

/** Sort and merge segments, clipped to `[0, size)`; empty ones are dropped. */
export function normalize(segments: readonly Segment[], size: number): Segment[] {
  const clipped = segments
    .map((s) => ({ start: Math.max(0, s.start), end: Math.min(size, s.end) }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  const merged: Segment[] = [];
  for (const s of clipped) {
    const last = merged[merged.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else merged.push({ ...s });
  }
  return merged;
}

/** The parts of `[0, size)` not covered by `done`. */
export function holes(size: number, done: readonly Segment[] = []): Segment[] {
  const result: Segment[] = [];
  let at = 0;
  for (const s of normalize(done, size)) {
    if (s.start > at) result.push({ start: at, end: s.start });
    at = s.end;
  }
  if (at < size) result.push({ start: at, end: size });
  return result;
}

/** Total length of a list of non-overlapping segments. */
export function totalLength(segments: readonly Segment[]): number {
  return segments.reduce((sum, s) => sum + (s.end - s.start), 0);
}

/**
 * Split what is left to fetch into at most `connections` ranges (but at least one per
 * hole) of at least
 * `minRangeSize` bytes (a hole smaller than that stays whole), as even as possible.
 *
 * Pieces are handed out one at a time to the hole whose pieces would otherwise be
 * largest, so a resume with many small holes and one big one puts the connections
 * where the bytes are.
 */
export function planRanges(input: PlanInput): Segment[] {
  const { size, minRangeSize } = input;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid size ${size}`);
  if (!Number.isInteger(input.connections) || input.connections < 1) {
    throw new RangeError(`invalid connection count ${input.connections}`);
  }
  if (!(minRangeSize >= 1)) throw new RangeError(`invalid minimum range size ${minRangeSize}`);

  const gaps = holes(size, input.done);
  if (gaps.length === 0) return [];
  // Every hole needs at least one range, even beyond the connection count: the pool
  // runs them `connections` at a time.
  const pieces = gaps.map(() => 1);
  let budget = input.connections - gaps.length;
  while (budget > 0) {
    let best = -1;
    let bestSize = 0;
    for (let i = 0; i < gaps.length; i++) {
      const gap = gaps[i]!;
      const n = pieces[i]! + 1;
      const pieceSize = (gap.end - gap.start) / n;
      if (pieceSize >= minRangeSize && pieceSize > bestSize) {
        best = i;
        bestSize = pieceSize;
      }
    }
    if (best < 0) break;
    pieces[best]!++;
    budget--;
  }

  const ranges: Segment[] = [];
  gaps.forEach((gap, i) => ranges.push(...splitEvenly(gap, pieces[i]!)));
  return ranges;
}

/** Split one segment into `n` contiguous parts whose lengths differ by at most one byte. */
export function splitEvenly(segment: Segment, n: number): Segment[] {
  const length = segment.end - segment.start;
  const base = Math.floor(length / n);
  const extra = length % n;
  const parts: Segment[] = [];
  let at = segment.start;
  for (let i = 0; i < n; i++) {
    const len = base + (i < extra ? 1 : 0);
    parts.push({ start: at, end: at + len });
    at += len;
  }
  return parts;
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
export function chooseSteal(
  running: readonly RunningRange[],
  minRangeSize: number,
  margin = 0,
): Steal | undefined {
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
