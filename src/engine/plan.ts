/**
 * The planner: pure functions that decide which byte ranges to fetch. No I/O.
 *
 * Every range is half-open, `[start, end)`, so lengths are `end - start` and
 * adjacent ranges share a boundary without overlapping.
 */
import { holes, splitEvenly, totalLength, type ByteRange } from '../primitives/ranges.js';
import { MIN_RANGE_MS, WAITS_PER_RANGE } from './scheduler.js';

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

/** A round trip (ms) as the probe saw it: it took about two (a new connection, then the request). */
export function probeRoundTrip(info: { elapsed?: number }): number | undefined {
  return info.elapsed === undefined ? undefined : info.elapsed / 2;
}

/** From this round trip (ms, the probe's half) a path counts as long: where MIN_RANGE_MS stops applying (5 ms). */
export const LONG_PATH_MS = MIN_RANGE_MS / WAITS_PER_RANGE;
/** The smallest piece planned on a long path, unless `--min-range` says otherwise. */
export const LONG_PATH_MIN_RANGE = 64 * 1024;

/**
 * The minimum range size a download of `size` bytes plans with: `--min-range` where given,
 * else 1 MiB, except where the probe's round trip (`roundTripMs`) was LONG_PATH_MS or more and
 * that would leave some of the `connections` without a piece: then as small as shares the
 * file among them, down to LONG_PATH_MIN_RANGE. A new connection spends its first round
 * trips in slow start, carrying ~14 KiB in the first and twice as much in each after, so a
 * small file in one range waits many round trips while the connections opened during the
 * probe sit idle. Measured (netem.sh namespaces, no loss, 3 runs each, times in s, one 1 MiB
 * range → 64 KiB pieces): 1 MiB at 20 ms 0.36 → 0.29, at 80 ms 0.88 → 0.71, at 200 ms 2.03
 * → 1.48 (curl 1.72, aria2c -k1M 1.74); 8 MiB at 20 ms 0.45 → 0.39, 80 ms 0.93 → 0.82,
 * 200 ms 2.06 → 1.86 (aria2c 2.15). A bigger file keeps 1 MiB: smaller pieces there changed
 * nothing at 16 connections and slowed `-c auto` up to 64 in the scheduler simulation
 * (200 ms, 256 MiB: 2.82 → 3.42 s).
 */
export function plannedMinRange(settings: { minRangeSize: number; minRangeChosen: boolean; connections: number }, roundTripMs: number | undefined, size: number | undefined): number {
  const { minRangeSize, minRangeChosen, connections } = settings;
  if (minRangeChosen || roundTripMs === undefined || roundTripMs < LONG_PATH_MS || size === undefined) return minRangeSize;
  return Math.min(minRangeSize, Math.max(LONG_PATH_MIN_RANGE, Math.ceil(size / connections)));
}
