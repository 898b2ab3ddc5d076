/**
 * The planner: pure functions that decide which byte ranges to fetch. No I/O.
 *
 * Every range is half-open, `[start, end)`, so lengths are `end - start` and
 * adjacent ranges share a boundary without overlapping.
 */
import { holes, splitEvenly, totalLength, type ByteRange } from '../primitives/ranges.js';

/** True when a probed file is fetched in ranges (several connections, resumable). */
export function fetchesRanges(info: { acceptsRanges: boolean; size: number | undefined }): boolean {
  return info.acceptsRanges && info.size !== undefined && info.size > 0;
}

/** What the planner needs to know. */
export interface PlanInput {
  /** Size of the remote file in bytes. */
  size: number;
  /**
   * Connections wanted. The plan has about {@link PIECES_PER_CONNECTION} pieces per
   * connection (fewer when the minimum range size allows fewer; one range per hole for one
   * connection), and at least one per hole;
   * the pool runs them `connections` at a time, front to back.
   */
  connections: number;
  /** No range is made smaller than this, except a whole hole that is smaller. */
  minRangeSize: number;
  /** Byte ranges already written (from a control file); may overlap and be unsorted. */
  done?: readonly ByteRange[];
}

/**
 * Pieces per connection. Handed out front to back, small pieces end one after another: the
 * written prefix grows all along (the checksum is computed while the file downloads), and a
 * connection that turns slow holds little back. Where round trips are long, the pool joins
 * consecutive pieces into one request (see scheduler.ts). Measured on 1 GiB over loopback with 16
 * connections, medians of four alternating runs: 4 pieces 2.31 s, 16 2.16 s, 32 1.90 s,
 * 64 1.95 s.
 */
export const PIECES_PER_CONNECTION = 32;

/**
 * Split what is left to fetch into pieces, in file order: about
 * `connections × PIECES_PER_CONNECTION` in all, shared between the holes by size, none smaller
 * than `minRangeSize` (a smaller hole stays whole), and at least one per hole. The pieces of one
 * hole differ in length by at most one byte.
 */
export function planRanges(input: PlanInput): ByteRange[] {
  const { size, minRangeSize } = input;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid size ${size}`);
  if (!Number.isInteger(input.connections) || input.connections < 1) {
    throw new RangeError(`invalid connection count ${input.connections}`);
  }
  if (!(minRangeSize >= 1)) throw new RangeError(`invalid minimum range size ${minRangeSize}`);

  const gaps = holes(size, input.done);
  const left = totalLength(gaps);
  // One connection gains nothing from pieces (its prefix grows anyway): one range per hole.
  const wanted = input.connections === 1 ? 1 : input.connections * PIECES_PER_CONNECTION;
  return gaps.flatMap((gap) => {
    const length = gap.end - gap.start;
    const pieces = Math.min(Math.floor(length / minRangeSize), Math.floor((length * wanted) / left));
    return splitEvenly(gap, Math.max(1, pieces));
  });
}
