/**
 * Byte ranges: half-open `[start, end)` spans of a file, and the arithmetic on lists of them.
 * Pure; every layer uses them. Lengths are `end - start`; adjacent ranges share a boundary
 * without overlapping.
 */

/** A half-open byte range `[start, end)`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * @deprecated The same type as {@link ByteRange}, under its old name.
 */
export type Segment = ByteRange;

/** End of a range of unknown length (a stream whose size the server does not give). */
export const UNKNOWN_END = Number.MAX_SAFE_INTEGER;

/** Sort and merge ranges, clipped to `[0, size)`; empty ones are dropped. */
export function normalize(ranges: readonly ByteRange[], size: number): ByteRange[] {
  const clipped = ranges
    .map((s) => ({ start: Math.max(0, s.start), end: Math.min(size, s.end) }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const s of clipped) {
    const last = merged[merged.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else merged.push({ ...s });
  }
  return merged;
}

/** The parts of `[0, size)` not covered by `done`. */
export function holes(size: number, done: readonly ByteRange[] = []): ByteRange[] {
  const result: ByteRange[] = [];
  let at = 0;
  for (const s of normalize(done, size)) {
    if (s.start > at) result.push({ start: at, end: s.start });
    at = s.end;
  }
  if (at < size) result.push({ start: at, end: size });
  return result;
}

/** Total length of a list of non-overlapping ranges. */
export function totalLength(ranges: readonly ByteRange[]): number {
  return ranges.reduce((sum, s) => sum + (s.end - s.start), 0);
}

/** Split one range into `n` contiguous parts whose lengths differ by at most one byte. */
export function splitEvenly(range: ByteRange, n: number): ByteRange[] {
  const length = range.end - range.start;
  const base = Math.floor(length / n);
  const extra = length % n;
  const parts: ByteRange[] = [];
  let at = range.start;
  for (let i = 0; i < n; i++) {
    const len = base + (i < extra ? 1 : 0);
    parts.push({ start: at, end: at + len });
    at += len;
  }
  return parts;
}

