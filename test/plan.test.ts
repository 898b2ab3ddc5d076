/**
 * The planner (src/engine/plan.ts) is pure: these tests check exact plans for hand-picked cases and
 * the coverage invariants over a few hundred seeded random cases.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LONG_PATH_MIN_RANGE, LONG_PATH_MS, PIECES_PER_CONNECTION, planRanges, plannedMinRange, probeRoundTrip, type PlanInput } from '../src/engine/plan.js';
import { holes, normalize, splitEvenly, totalLength, type Segment } from '../src/primitives/ranges.js';
import { mulberry32 } from './helpers/random.js';

const seg = (start: number, end: number): Segment => ({ start, end });
const lengths = (segments: readonly Segment[]): number[] => segments.map((s) => s.end - s.start);
const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Every invariant a plan must keep, whatever the input. Returns the holes for further checks.
 * `label` goes into every message so a failing random case can be replayed.
 */
function checkPlan(input: PlanInput, ranges: readonly Segment[], label: string): Segment[] {
  const { size, connections, minRangeSize } = input;
  const gaps = holes(size, input.done ?? []);
  const left = totalLength(gaps);

  // Each range is non-empty, inside [0, size), sorted and disjoint from the next.
  ranges.forEach((r, i) => {
    assert.ok(Number.isInteger(r.start) && Number.isInteger(r.end), `${label}: range ${i} not integral`);
    assert.ok(r.start >= 0 && r.end <= size && r.end > r.start, `${label}: range ${i} ${r.start}-${r.end} bad`);
    const next = ranges[i + 1];
    if (next) assert.ok(r.end <= next.start, `${label}: ranges ${i} and ${i + 1} overlap or unsorted`);
  });
  // Together they are exactly the holes: every missing byte once, no done byte.
  assert.equal(totalLength(ranges), left, `${label}: bytes planned`);
  assert.deepEqual(normalize(ranges, size), gaps, `${label}: union of ranges is not the holes`);
  for (const d of normalize(input.done ?? [], size)) {
    for (const r of ranges) {
      assert.ok(r.end <= d.start || r.start >= d.end, `${label}: range ${r.start}-${r.end} refetches done ${d.start}-${d.end}`);
    }
  }

  // Per hole: the pieces of one hole differ by at most one byte and respect the minimum.
  const perHole = gaps.map((g) => ranges.filter((r) => r.start >= g.start && r.end <= g.end));
  assert.equal(perHole.reduce((n, p) => n + p.length, 0), ranges.length, `${label}: a range spans a done byte`);
  perHole.forEach((pieces, i) => {
    const g = gaps[i]!;
    assert.ok(pieces.length >= 1, `${label}: hole ${g.start}-${g.end} has no range`);
    const ls = lengths(pieces);
    assert.ok(Math.max(...ls) - Math.min(...ls) <= 1, `${label}: uneven pieces ${ls.join(',')}`);
    if (pieces.length > 1) {
      assert.ok(Math.min(...ls) >= minRangeSize, `${label}: piece of ${Math.min(...ls)} < min ${minRangeSize}`);
    }
  });

  // About PIECES_PER_CONNECTION pieces per connection: never more, but for a hole smaller than
  // a piece (kept whole); and no piece more than twice the piece size the split aims at.
  const wanted = connections === 1 ? 1 : connections * PIECES_PER_CONNECTION;
  const aim = Math.max(minRangeSize, left / wanted);
  assert.ok(ranges.length <= wanted + gaps.length, `${label}: ${ranges.length} ranges`);
  perHole.forEach((pieces) => {
    if (pieces.length > 1) assert.ok(Math.max(...lengths(pieces)) < 2 * aim, `${label}: piece over twice ${aim}`);
  });
  // Connections are not left idle when a hole could still be split above the minimum.
  if (ranges.length < connections) {
    perHole.forEach((pieces, i) => {
      const g = gaps[i]!;
      assert.ok(
        (g.end - g.start) / (pieces.length + 1) < minRangeSize,
        `${label}: hole ${g.start}-${g.end} could take piece ${pieces.length + 1} but a connection is idle`,
      );
    });
  }
  return gaps;
}

describe('normalize', () => {
  it('sorts, merges overlapping and touching segments, and clips to [0, size)', () => {
    assert.deepEqual(
      normalize([seg(50, 60), seg(0, 10), seg(5, 20), seg(20, 25), seg(90, 200), seg(-10, 2)], 100),
      [seg(0, 25), seg(50, 60), seg(90, 100)],
    );
  });

  it('drops empty, inverted and out-of-range segments', () => {
    assert.deepEqual(normalize([seg(5, 5), seg(9, 3), seg(100, 120), seg(-5, 0)], 100), []);
    assert.deepEqual(normalize([], 100), []);
    assert.deepEqual(normalize([seg(0, 10)], 0), []);
  });

  it('keeps a segment contained in another', () => {
    assert.deepEqual(normalize([seg(0, 100), seg(10, 20), seg(30, 40)], 1000), [seg(0, 100)]);
  });

  it('does not modify its input', () => {
    const input = [seg(10, 20), seg(0, 15)];
    normalize(input, 100);
    assert.deepEqual(input, [seg(10, 20), seg(0, 15)]);
  });
});

describe('holes', () => {
  it('is the whole file when nothing is done, and nothing for an empty file', () => {
    assert.deepEqual(holes(100), [seg(0, 100)]);
    assert.deepEqual(holes(1, []), [seg(0, 1)]);
    assert.deepEqual(holes(0), []);
    assert.deepEqual(holes(0, [seg(0, 10)]), []);
  });

  it('is the complement of unsorted, overlapping done segments', () => {
    assert.deepEqual(holes(100, [seg(70, 80), seg(10, 20), seg(15, 30), seg(30, 40)]), [seg(0, 10), seg(40, 70), seg(80, 100)]);
    assert.deepEqual(holes(100, [seg(0, 100)]), []);
    assert.deepEqual(holes(100, [seg(0, 50), seg(50, 100)]), []);
    assert.deepEqual(holes(100, [seg(0, 99)]), [seg(99, 100)]);
    assert.deepEqual(holes(100, [seg(1, 100)]), [seg(0, 1)]);
    assert.deepEqual(holes(100, [seg(-50, 10), seg(95, 500)]), [seg(10, 95)]);
  });
});

describe('splitEvenly', () => {
  it('splits into contiguous parts whose lengths differ by at most one, longer ones first', () => {
    assert.deepEqual(splitEvenly(seg(0, 10), 3), [seg(0, 4), seg(4, 7), seg(7, 10)]);
    assert.deepEqual(splitEvenly(seg(100, 111), 4), [seg(100, 103), seg(103, 106), seg(106, 109), seg(109, 111)]);
    assert.deepEqual(splitEvenly(seg(5, 17), 4), [seg(5, 8), seg(8, 11), seg(11, 14), seg(14, 17)]);
    assert.deepEqual(splitEvenly(seg(7, 8), 1), [seg(7, 8)]);
  });

  it('covers large odd segments exactly', () => {
    const size = 64 * MiB + 7;
    const parts = splitEvenly(seg(0, size), 16);
    assert.equal(parts.length, 16);
    assert.equal(parts[0]!.start, 0);
    assert.equal(parts[15]!.end, size);
    assert.deepEqual(lengths(parts), [...Array(7).fill(4 * MiB + 1), ...Array(9).fill(4 * MiB)]);
  });
});

describe('planRanges', () => {
  const plan = (size: number, connections: number, minRangeSize: number, done?: Segment[]): Segment[] => {
    const input: PlanInput = done ? { size, connections, minRangeSize, done } : { size, connections, minRangeSize };
    const ranges = planRanges(input);
    checkPlan(input, ranges, `size=${size} c=${connections} min=${minRangeSize}`);
    return ranges;
  };

  it('plans nothing for an empty file', () => {
    assert.deepEqual(plan(0, 8, 1), []);
    assert.deepEqual(plan(0, 1, MiB), []);
  });

  it('plans one byte as one range', () => {
    assert.deepEqual(plan(1, 8, 1), [seg(0, 1)]);
    assert.deepEqual(plan(1, 1, MiB), [seg(0, 1)]);
  });

  it('splits a fresh file into 32 pieces per connection, front to back', () => {
    // 1000 bytes, 4 connections: 128 pieces of 7.8 bytes, the longer ones first.
    const ranges = plan(1000, 4, 1);
    assert.deepEqual(lengths(ranges), [...Array(104).fill(8), ...Array(24).fill(7)]);
    assert.deepEqual(ranges[0], seg(0, 8));
    assert.deepEqual(ranges.at(-1), seg(993, 1000));
    // Exactly divisible: 128 pieces of 64 bytes.
    assert.deepEqual(lengths(plan(8192, 4, 1)), Array(128).fill(64));
    assert.equal(plan(4000 * MiB, 64, MiB).length, 2048);
    assert.equal(PIECES_PER_CONNECTION, 32);
    // One connection: one range (pieces would only add requests).
    assert.equal(plan(1000 * MiB, 1, MiB).length, 1);
    assert.equal(plan(1000, 1, 1, [seg(100, 200)]).length, 2);
  });

  it('gives one byte per range when the file is smaller than the connection count', () => {
    assert.deepEqual(plan(3, 8, 1), [seg(0, 1), seg(1, 2), seg(2, 3)]);
    assert.deepEqual(plan(5, 64, 1).length, 5);
  });

  it('never makes a range smaller than the minimum', () => {
    // 10 MiB at a 1 MiB minimum with 64 connections: 10 pieces, not 256.
    const ten = plan(10 * MiB, 64, MiB);
    assert.equal(ten.length, 10);
    assert.deepEqual(lengths(ten), Array(10).fill(MiB));
    // Just under 3 MiB: only 2 ranges of at least 1 MiB fit.
    assert.deepEqual(lengths(plan(3 * MiB - 1, 8, MiB)), [1.5 * MiB, 1.5 * MiB - 1]);
    // A file smaller than the minimum is one range.
    assert.deepEqual(plan(MiB - 1, 8, MiB), [seg(0, MiB - 1)]);
    // Exactly twice the minimum: two ranges.
    assert.deepEqual(plan(2 * MiB, 8, MiB), [seg(0, MiB), seg(MiB, 2 * MiB)]);
    // 64 MiB over 16 connections: 64 pieces of exactly the minimum.
    assert.deepEqual(lengths(plan(64 * MiB, 16, MiB)), Array(64).fill(MiB));
  });

  it('uses min(32 × connections, floor(size / min)) pieces', () => {
    for (const [size, c, min] of [
      [100, 8, 7],
      [100, 8, 13],
      [100, 8, 100],
      [100, 8, 101],
      [12_345_678, 16, 1_000_000],
      [12_345_678, 4, 1_000_000],
      [1, 64, 1],
      [64, 64, 1],
      [256, 64, 1],
      [257, 64, 1],
    ] as const) {
      const expected = Math.min(PIECES_PER_CONNECTION * c, Math.max(1, Math.floor(size / min)));
      assert.equal(plan(size, c, min).length, expected, `size=${size} c=${c} min=${min}`);
    }
  });

  it('plans only the holes of a resume, from unsorted overlapping done segments', () => {
    const done = [seg(600, 1000), seg(0, 100), seg(50, 300)];
    // One 300-byte hole, 4 connections, minimum 50: 6 pieces of 50 (not 16 of 19).
    assert.deepEqual(plan(1000, 4, 50, done), [300, 350, 400, 450, 500, 550].map((a) => seg(a, a + 50)));
    assert.deepEqual(plan(1000, 8, 1, [seg(0, 1000)]), []);
    assert.deepEqual(plan(1000, 8, 1, [seg(0, 2000)]), []);
    assert.deepEqual(plan(1000, 8, 1, [seg(0, 999)]), [seg(999, 1000)]);
  });

  it('keeps small holes whole and splits the big one when there are many small ones', () => {
    const size = 100 * MiB;
    // Five 10 KiB holes at the front, one 50 MiB hole at the end.
    const done: Segment[] = [];
    let at = 0;
    for (let i = 0; i < 5; i++) {
      done.push(seg(at + 10 * KiB, at + MiB));
      at += MiB;
    }
    done.push(seg(at, 50 * MiB));
    const ranges = plan(size, 8, MiB, done);
    const small = ranges.slice(0, 5);
    assert.deepEqual(small, [0, 1, 2, 3, 4].map((i) => seg(i * MiB, i * MiB + 10 * KiB)), 'each small hole whole, first');
    // The big hole: its share of the 256 pieces (255) is more than 1 MiB pieces allow: 50.
    assert.deepEqual(ranges.slice(5), splitEvenly(seg(50 * MiB, 100 * MiB), 50));
  });

  it('shares the pieces between holes by size', () => {
    // Holes of 3000 and 1000 bytes with 4 connections: 128 pieces, 96 and 32.
    const ranges = plan(5000, 4, 1, [seg(3000, 4000)]);
    assert.equal(ranges.filter((r) => r.end <= 3000).length, 96);
    assert.equal(ranges.filter((r) => r.start >= 4000).length, 32);
  });

  it('gives every hole a range even when there are more holes than connections', () => {
    const done = Array.from({ length: 9 }, (_, i) => seg(i * 10 + 5, i * 10 + 10));
    const ranges = plan(100, 4, 5, done);
    // Nine 5-byte holes and a 10-byte one, 5 bytes at least: each small hole whole, the big one in two.
    assert.equal(ranges.length, 11);
    assert.deepEqual(lengths(ranges), Array(11).fill(5));
  });

  it('rejects invalid input with RangeError', () => {
    for (const bad of [
      { size: -1, connections: 1, minRangeSize: 1 },
      { size: 1.5, connections: 1, minRangeSize: 1 },
      { size: Number.NaN, connections: 1, minRangeSize: 1 },
      { size: 2 ** 53, connections: 1, minRangeSize: 1 },
      { size: 10, connections: 0, minRangeSize: 1 },
      { size: 10, connections: 2.5, minRangeSize: 1 },
      { size: 10, connections: 1, minRangeSize: 0 },
      { size: 10, connections: 1, minRangeSize: Number.NaN },
    ]) {
      assert.throws(() => planRanges(bad), RangeError, JSON.stringify(bad));
    }
  });

  it('keeps its invariants over 400 seeded random cases', () => {
    const random = mulberry32(0x5eed);
    const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
    for (let n = 0; n < 400; n++) {
      const size = random() < 0.1 ? int(0, 3) : random() < 0.5 ? int(0, 5000) : int(0, 200 * MiB);
      const connections = random() < 0.2 ? 1 : int(1, 64);
      const minRangeSize = random() < 0.3 ? 1 : int(1, Math.max(1, Math.floor(size / int(1, 20))));
      const done: Segment[] = [];
      const pieces = random() < 0.3 ? 0 : int(1, 30);
      for (let i = 0; i < pieces; i++) {
        const a = int(-10, size + 10);
        const b = a + int(-5, Math.max(1, Math.floor(size / 4)));
        done.push(seg(a, b)); // unsorted, overlapping, sometimes empty or out of range
      }
      const input: PlanInput = { size, connections, minRangeSize, done };
      const label = `case ${n} ${JSON.stringify({ size, connections, minRangeSize, done })}`;
      const ranges = planRanges(input);
      const gaps = checkPlan(input, ranges, label);
      if (gaps.length === 1) {
        const g = gaps[0]!;
        const wanted = connections === 1 ? 1 : connections * PIECES_PER_CONNECTION;
        const expected = Math.max(1, Math.min(wanted, Math.floor((g.end - g.start) / minRangeSize)));
        assert.equal(ranges.length, expected, label);
      }
      // The input is not modified.
      assert.deepEqual(input.done, done, label);
    }
  });
});

describe('plannedMinRange', () => {
  const MiB = 1024 * 1024;
  const unset = { minRangeSize: MiB, minRangeChosen: false, connections: 16 };

  it('shares a small file among the connections from a round trip of LONG_PATH_MS (5 ms), unless --min-range was given', () => {
    assert.equal(LONG_PATH_MS, 5);
    assert.equal(plannedMinRange(unset, 200, MiB), LONG_PATH_MIN_RANGE, '1 MiB / 16 = 64 KiB');
    assert.equal(plannedMinRange(unset, LONG_PATH_MS, 8 * MiB), MiB / 2, '8 MiB / 16');
    assert.equal(plannedMinRange(unset, 200, 100 * 1024), LONG_PATH_MIN_RANGE, 'never below LONG_PATH_MIN_RANGE');
    assert.equal(plannedMinRange(unset, 200, 256 * MiB), MiB, 'a file with a 1 MiB piece for every connection: as set');
    assert.equal(plannedMinRange({ ...unset, connections: 64 }, 200, 256 * MiB), MiB, '-c auto up to 64: as set');
    assert.equal(plannedMinRange(unset, LONG_PATH_MS - 0.1, MiB), MiB, 'loopback, a LAN: as set');
    assert.equal(plannedMinRange(unset, undefined, MiB), MiB, 'no probe timing: as set');
    assert.equal(plannedMinRange(unset, 200, undefined), MiB, 'no size: as set');
    assert.equal(plannedMinRange({ ...unset, minRangeChosen: true }, 200, MiB), MiB, '--min-range 1M holds everywhere');
    assert.equal(plannedMinRange({ ...unset, minRangeSize: 16 * 1024 }, 200, MiB), 16 * 1024, 'never larger than set');
  });

  it("takes the round trip as half the probe's time (a connection, then the request)", () => {
    assert.equal(probeRoundTrip({ elapsed: 400 }), 200);
    assert.equal(probeRoundTrip({}), undefined);
  });

  it('splits a 1 MiB file among 16 connections on a long path, keeps it whole on loopback', () => {
    const plan = (rtt: number) => planRanges({ size: MiB, connections: 16, minRangeSize: plannedMinRange(unset, rtt, MiB) });
    assert.equal(plan(80).length, 16);
    assert.ok(plan(80).every((r) => r.end - r.start === 64 * 1024));
    assert.deepEqual(plan(1), [{ start: 0, end: MiB }]);
  });
});
