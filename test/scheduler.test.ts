/**
 * The scheduler (src/engine/scheduler.ts) is pure: every decision of the pool's policy is
 * checked here on hand-built slots and queues, with exact values (no servers, no timers).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  addSample,
  chooseEndgame,
  chooseSource,
  chooseSplit,
  chooseSteal,
  ENDGAME_SECONDS,
  findSlow,
  medianSpeed,
  IN_FLIGHT_SECONDS,
  recentSpeed,
  roundTrip,
  SLOW_FACTOR,
  SLOW_WINDOW_SAMPLES,
  sourceFailure,
  STEAL_MIN_AGE,
  takePieces,
  MIN_RANGE_MS,
  ASSUMED_SPEED,
  WAITS_PER_RANGE,
  type BusySlot,
  type RunningRange,
} from '../src/engine/scheduler.js';
import type { ByteRange } from '../src/primitives/ranges.js';
import { mulberry32 } from './helpers/random.js';

const KiB = 1024;
const range = (start: number, end: number): ByteRange => ({ start, end });

/** A busy slot; `received` defaults to the position, `samples` to none. */
function busy(fields: Partial<BusySlot> & Pick<BusySlot, 'slot' | 'start' | 'end' | 'startedAt'>): BusySlot {
  const position = fields.position ?? fields.start;
  return { position, received: position, samples: [], ...fields };
}

/** A busy slot with a full window of samples, `perTick` bytes apart. */
function sampled(slot: number, perTick: number, position = 0, end = 100 * 1024 * KiB): BusySlot {
  const samples = Array.from({ length: SLOW_WINDOW_SAMPLES + 1 }, (_, i) => i * perTick);
  return busy({ slot, start: 0, position, end, startedAt: 0, samples });
}

describe('scheduler constants', () => {
  it('keep their measured values', () => {
    assert.deepEqual(
      { STEAL_MIN_AGE, WAITS_PER_RANGE, IN_FLIGHT_SECONDS, SLOW_WINDOW_SAMPLES, SLOW_FACTOR },
      { STEAL_MIN_AGE: 250, WAITS_PER_RANGE: 20, IN_FLIGHT_SECONDS: 1, SLOW_WINDOW_SAMPLES: 12, SLOW_FACTOR: 8 },
    );
  });
});

describe('roundTrip', () => {
  it('is the quickest response start of any slot, undefined before any', () => {
    assert.equal(roundTrip([]), undefined);
    assert.equal(roundTrip([0, 0, 0]), undefined);
    assert.equal(roundTrip([0, 12.5, 3.25, 40]), 3.25);
  });
});

describe('recentSpeed', () => {
  it('is bytes/s over the last four samples (fewer early on), undefined before two', () => {
    assert.equal(recentSpeed([]), undefined);
    assert.equal(recentSpeed([5000]), undefined);
    // One interval of 250 ms: 1000 bytes → 4000 B/s.
    assert.equal(recentSpeed([0, 1000]), 4000);
    // Only the last four intervals count: 9000 − 2000 over 1 s.
    assert.equal(recentSpeed([0, 1000, 2000, 3000, 4000, 5000, 9000]), 7000);
  });
});

describe('takePieces', () => {
  // 15 MB/s (above ASSUMED_SPEED) and 10 ms round trips: a range may last 20 round trips, 3 000 000 bytes.
  const speed = 15_000_000;
  const wait = 10;
  const pieces = Array.from({ length: 7 }, (_, i) => range(i * 1_000_000, (i + 1) * 1_000_000));

  it('where round trips are short, lets a range last MIN_RANGE_MS at its speed (each range costs CPU)', () => {
    assert.equal(MIN_RANGE_MS, 100);
    const small = Array.from({ length: 20 }, (_, i) => range(i * 100_000, (i + 1) * 100_000));
    // 15 MB/s × 100 ms = 1 500 000 bytes, whether the round trip is 1 ms or 0.1 ms.
    assert.deepEqual(takePieces(small, speed, 1), { range: range(0, 1_500_000), pieces: 15 });
    assert.deepEqual(takePieces(small, speed, 0.1), { range: range(0, 1_500_000), pieces: 15 });
    // Unmeasured: ASSUMED_SPEED × 100 ms = 838 860 bytes.
    assert.deepEqual(takePieces(small, undefined, 1), { range: range(0, 800_000), pieces: 8 });
  });

  it('takes nothing from an empty queue', () => {
    assert.equal(takePieces([], speed, wait), undefined);
  });

  it('joins consecutive pieces while the whole lasts at most WAITS_PER_RANGE round trips', () => {
    assert.deepEqual(takePieces(pieces, speed, wait), { range: range(0, 3_000_000), pieces: 3 });
    // One byte/s less and the third piece no longer fits.
    assert.deepEqual(takePieces(pieces, speed - 1, wait), { range: range(0, 2_000_000), pieces: 2 });
    // Longer round trips, longer ranges.
    assert.deepEqual(takePieces(pieces, speed, 2 * wait), { range: range(0, 6_000_000), pieces: 6 });
  });

  it('takes a connection to reach at least ASSUMED_SPEED before it is measured, or while it is slower', () => {
    // 8 MiB/s × 20 × 20 ms = 3 355 443 bytes: three pieces, measured or not.
    assert.equal(ASSUMED_SPEED, 8 * 1024 * 1024);
    assert.deepEqual(takePieces(pieces, undefined, 2 * wait), { range: range(0, 3_000_000), pieces: 3 });
    assert.deepEqual(takePieces(pieces, 1_000_000, 2 * wait), { range: range(0, 3_000_000), pieces: 3 });
  });

  it('takes no more than its share of the work left (queued and running) among the connections in use', () => {
    // 7 000 000 bytes queued for 2 connections: 3 500 000 each, though 6 000 000 would fit in time.
    assert.deepEqual(takePieces(pieces, speed, 2 * wait, 2), { range: range(0, 3_000_000), pieces: 3 });
    assert.deepEqual(takePieces(pieces, speed, 2 * wait, 7), { range: range(0, 1_000_000), pieces: 1 });
    // With 7 000 000 bytes still running on other connections, the share is of 14 000 000: 2 000 000.
    assert.deepEqual(takePieces(pieces, speed, 2 * wait, 7, 7_000_000), { range: range(0, 2_000_000), pieces: 2 });
  });

  it('stops at a gap between pieces', () => {
    const queue = [range(0, 1_000_000), range(1_000_000, 2_000_000), range(2_200_000, 2_500_000), range(2_500_000, 2_600_000)];
    assert.deepEqual(takePieces(queue, speed, wait), { range: range(0, 2_000_000), pieces: 2 });
  });

  it('takes a head longer than the budget alone', () => {
    assert.deepEqual(takePieces([range(0, 5_000_000), range(5_000_000, 5_100_000)], speed, wait), { range: range(0, 5_000_000), pieces: 1 });
  });

  it('joins nothing before a round trip is known', () => {
    assert.deepEqual(takePieces(pieces, speed, undefined), { range: range(0, 1_000_000), pieces: 1 });
  });

  it('leaves the queue as it was (the pool removes what was taken)', () => {
    const queue = pieces.map((p) => ({ ...p }));
    const taken = takePieces(queue, speed, wait)!;
    taken.range.end = 1;
    assert.deepEqual(queue, pieces);
  });
});

describe('chooseSplit', () => {
  const now = 10_000;

  it('splits the range with the most left past what is received and in flight', () => {
    // Slot 5 got 100 000 bytes in 1 s: 100 000 in flight, from 200 000, 800 000 left.
    // Slot 2 got 10 000 in 1 s: 64 KiB in flight, 424 464 left.
    const slots = [
      busy({ slot: 2, start: 2_000_000, position: 2_010_000, end: 2_500_000, startedAt: now - 1000 }),
      busy({ slot: 5, start: 0, position: 100_000, end: 1_000_000, startedAt: now - 1000 }),
    ];
    assert.deepEqual(chooseSplit(slots, now, 1000), { slot: 5, range: range(600_000, 1_000_000) });
  });

  it('counts bytes received but not yet written as arrived', () => {
    // 500 000 received in 1 s: 500 000 more in flight, from 1 000 000, 1 000 000 left.
    const slot = busy({ slot: 0, start: 0, position: 0, received: 500_000, end: 2_000_000, startedAt: now - 1000 });
    assert.deepEqual(chooseSplit([slot], now, 1000), { slot: 0, range: range(1_500_000, 2_000_000) });
  });

  it('keeps at least 64 KiB in flight with a slow range', () => {
    // 1000 bytes in 1 s: 64 KiB in flight, from 66 536.
    const slot = busy({ slot: 1, start: 0, position: 1000, end: 266_536, startedAt: now - 1000 });
    assert.deepEqual(chooseSplit([slot], now, 1000), { slot: 1, range: range(166_536, 266_536) });
  });

  it('refuses when either half would be under the minimum range size', () => {
    const at = (end: number): BusySlot => busy({ slot: 0, start: 0, end, startedAt: now - 1000 });
    assert.equal(chooseSplit([at(64 * KiB + 1999)], now, 1000), undefined);
    assert.deepEqual(chooseSplit([at(64 * KiB + 2000)], now, 1000), { slot: 0, range: range(64 * KiB + 1000, 64 * KiB + 2000) });
  });

  it('leaves ranges younger than STEAL_MIN_AGE alone', () => {
    const young = busy({ slot: 4, start: 0, end: 10_000_000, startedAt: now - STEAL_MIN_AGE + 1 });
    const old = busy({ slot: 7, start: 0, end: 1_065_536, startedAt: now - STEAL_MIN_AGE });
    assert.equal(chooseSplit([young], now, 1000), undefined);
    assert.deepEqual(chooseSplit([young, old], now, 1000), { slot: 7, range: range(565_536, 1_065_536) });
  });

  it('has nothing to split when nothing runs', () => {
    assert.equal(chooseSplit([], now, 1), undefined);
  });
});

describe('addSample', () => {
  it('adds the newest last and keeps SLOW_WINDOW_SAMPLES + 1', () => {
    assert.deepEqual(addSample([], 5), [5]);
    const full = Array.from({ length: SLOW_WINDOW_SAMPLES + 1 }, (_, i) => i);
    assert.deepEqual(addSample(full, 99), [...full.slice(1), 99]);
    assert.deepEqual(full, Array.from({ length: SLOW_WINDOW_SAMPLES + 1 }, (_, i) => i), 'input unchanged');
  });
});

describe('findSlow', () => {
  // Two slots at 100 000 bytes a tick (1.2 MB a window, 400 000 B/s).
  const fast = [sampled(0, 100_000), sampled(1, 100_000)];

  it('cuts a slot SLOW_FACTOR times below the median, keeping 64 KiB past its position', () => {
    const slow = sampled(2, 10_000, 1_000_000, 5_000_000);
    // 120 000 bytes in 3 s: 40 000 B/s, against a median of 400 000.
    assert.deepEqual(findSlow([...fast, slow]), [{ slot: 2, keep: 1_065_536, end: 5_000_000, speed: 40_000, median: 400_000 }]);
  });

  it('keeps what arrives in a second at its speed when that is more than 64 KiB', () => {
    const faster = [sampled(0, 1_000_000), sampled(1, 1_000_000)];
    // 240 000 bytes in 3 s: 80 000 B/s stay with it.
    assert.deepEqual(findSlow([...faster, sampled(2, 20_000, 1_000_000, 5_000_000)]), [
      { slot: 2, keep: 1_080_000, end: 5_000_000, speed: 80_000, median: 4_000_000 },
    ]);
  });

  it('leaves a slot exactly SLOW_FACTOR times below the median', () => {
    // 150 000 × 8 = 1 200 000: not below.
    assert.deepEqual(findSlow([...fast, sampled(2, 12_500)]), []);
    assert.equal(findSlow([...fast, sampled(2, 12_499)]).length, 1);
  });

  it('needs three slots with a full window of samples', () => {
    const notFull = busy({ slot: 3, start: 0, end: 1_000_000, startedAt: 0, samples: [0, 1, 2] });
    assert.deepEqual(findSlow([fast[0]!, sampled(2, 1)]), []);
    assert.deepEqual(findSlow([fast[0]!, sampled(2, 1), notFull]), []);
    assert.equal(findSlow([...fast, sampled(2, 1)]).length, 1);
  });

  it('does not cut when what it keeps reaches the end of its range', () => {
    assert.deepEqual(findSlow([...fast, sampled(2, 10_000, 1_000_000, 1_065_536)]), []);
    assert.deepEqual(findSlow([...fast, sampled(2, 10_000, 1_000_000, 1_065_537)]), [
      { slot: 2, keep: 1_065_536, end: 1_065_537, speed: 40_000, median: 400_000 },
    ]);
  });
});

describe('chooseEndgame', () => {
  // 2 KiB per tick over a full window: 8 KiB/s.
  const window = (perTick: number): number[] => Array.from({ length: SLOW_WINDOW_SAMPLES + 1 }, (_, i) => i * perTick);
  const trickle = (fields: Partial<BusySlot> = {}): BusySlot =>
    busy({ slot: 2, start: 0, position: 40 * KiB, received: 48 * KiB, end: 1024 * KiB, startedAt: 0, samples: window(2 * KiB), ...fields });

  it('hands over a tail that needs more than ENDGAME_SECONDS at its speed over the window, keeping a second of it', () => {
    assert.deepEqual(chooseEndgame([trickle()]), { slot: 2, range: range(56 * KiB, 1024 * KiB), speed: 8 * KiB, seconds: 122 });
  });

  it('keeps nothing past what was received from a silent connection', () => {
    assert.deepEqual(chooseEndgame([trickle({ samples: window(0) })])?.range, range(48 * KiB, 1024 * KiB));
  });

  it('keeps nothing from a connection that went silent for its last second, whatever its window speed', () => {
    const samples = window(2 * KiB).map((bytes) => Math.min(bytes, 8 * 2 * KiB)); // flat for the last 4 ticks
    const handed = chooseEndgame([trickle({ samples })]);
    assert.deepEqual(handed?.range, range(48 * KiB, 1024 * KiB));
  });

  it('leaves a tail that ends within ENDGAME_SECONDS, and a connection without a full window', () => {
    assert.equal(chooseEndgame([trickle({ end: 48 * KiB + ENDGAME_SECONDS * 8 * KiB })]), undefined);
    assert.equal(chooseEndgame([trickle({ samples: window(2 * KiB).slice(1) })]), undefined);
  });

  it('with ranges completed, judges a tail only when SLOW_FACTOR times below their median speed', () => {
    assert.equal(chooseEndgame([trickle()], 8 * KiB * SLOW_FACTOR), undefined, 'a steady connection keeps its range');
    assert.equal(chooseEndgame([trickle()], 8 * KiB * SLOW_FACTOR + 1)?.slot, 2);
    assert.equal(medianSpeed([]), undefined);
    assert.equal(medianSpeed([5, 1, 3]), 3);
  });

  it('takes the tail with the longest wait, whatever the range size', () => {
    const slower = trickle({ slot: 5, samples: window(KiB) });
    assert.equal(chooseEndgame([trickle(), slower])?.slot, 5);
    assert.equal(chooseEndgame([slower, trickle()])?.slot, 5);
  });
});

describe('chooseSource', () => {
  it('spreads slots over the sources by slot index', () => {
    assert.deepEqual([0, 1, 2, 3, 4].map((slot) => chooseSource(slot, 3, new Set())), [0, 1, 2, 0, 1]);
    assert.deepEqual([0, 1, 2].map((slot) => chooseSource(slot, 1, new Set())), [0, 0, 0]);
  });

  it('skips dead sources', () => {
    assert.deepEqual([0, 1, 2, 3].map((slot) => chooseSource(slot, 3, new Set([1]))), [0, 2, 0, 2]);
    assert.deepEqual([0, 1, 2].map((slot) => chooseSource(slot, 3, new Set([0, 2]))), [1, 1, 1]);
    // None left (the download fails then): the URL.
    assert.equal(chooseSource(3, 2, new Set([0, 1])), 0);
  });
});

describe('sourceFailure', () => {
  it('drops a failing source while another is alive, for each failure of a server or the way to it', () => {
    for (const code of ['EHTTP', 'ENETWORK', 'ETIMEOUT', 'ESERVER'] as const) {
      assert.deepEqual(sourceFailure(code, 1, 3, new Set()), { dead: new Set([1]), drop: 1 }, code);
    }
    assert.deepEqual(sourceFailure('ENETWORK', 2, 3, new Set([0])), { dead: new Set([0, 2]), drop: 2 });
    // A slot that started on a source before it was dropped drops it again.
    assert.deepEqual(sourceFailure('ENETWORK', 0, 3, new Set([0])), { dead: new Set([0]), drop: 0 });
  });

  it('fails the download when the last source dies', () => {
    assert.deepEqual(sourceFailure('EHTTP', 1, 2, new Set([0])), { dead: new Set([0, 1]) });
  });

  it('fails the download at once without mirrors', () => {
    const dead = new Set<number>();
    assert.deepEqual(sourceFailure('ENETWORK', 0, 1, dead), { dead });
  });

  it("drops a mirror that says the file changed; the first source's change fails the download (a start-over)", () => {
    assert.deepEqual(sourceFailure('ECHANGED', 1, 3, new Set()), { dead: new Set([1]), drop: 1 });
    assert.deepEqual(sourceFailure('ECHANGED', 2, 3, new Set([1])), { dead: new Set([1, 2]), drop: 2 });
    assert.deepEqual(sourceFailure('ECHANGED', 0, 3, new Set()), { dead: new Set() });
    // The last mirror standing, the first source dead: the download fails (and starts over).
    assert.deepEqual(sourceFailure('ECHANGED', 1, 2, new Set([0])), { dead: new Set([0, 1]) });
  });

  it('fails the download at once for any other failure', () => {
    for (const code of ['EFILE', 'ENOSPACE', 'EINTERNAL'] as const) {
      assert.deepEqual(sourceFailure(code, 1, 3, new Set()), { dead: new Set() }, code);
    }
    // A slot that never had a source.
    assert.deepEqual(sourceFailure('EHTTP', undefined, 3, new Set()), { dead: new Set() });
  });

  it('leaves the given set of dead sources as it was', () => {
    const dead = new Set([0]);
    sourceFailure('ENETWORK', 1, 3, dead);
    assert.deepEqual(dead, new Set([0]));
  });
});

describe('chooseSteal', () => {
  const run = (position: number, end: number): RunningRange => ({ position, end });

  it('splits the range with the most bytes left at the middle of what is left', () => {
    assert.deepEqual(chooseSteal([run(0, 100), run(50, 300), run(10, 200)], 10), { index: 1, at: 175 });
    // Odd remainder: the running connection keeps the larger half.
    assert.deepEqual(chooseSteal([run(0, 21)], 10), { index: 0, at: 11 });
  });

  it('a fractional margin (bytes in flight estimated from a speed) still splits at a whole byte', () => {
    // 100.4 bytes in flight: from 100.4 → 101, left 199, split at 101 + 100.
    assert.deepEqual(chooseSteal([{ position: 0, end: 300, margin: 100.4 }], 10), { index: 0, at: 201 });
    assert.ok(Number.isInteger(chooseSteal([{ position: 7, end: 1e6, margin: 12345.678 }], 10)!.at));
  });

  it('measures what is left from the position, not from the start', () => {
    // 0-1000 has 100 left; 500-700 has 200 left.
    assert.deepEqual(chooseSteal([run(900, 1000), run(500, 700)], 1), { index: 1, at: 600 });
  });

  it('prefers the first of equal candidates', () => {
    assert.deepEqual(chooseSteal([run(0, 100), run(100, 200)], 10), { index: 0, at: 50 });
  });

  it('respects the minimum range size for both halves', () => {
    assert.equal(chooseSteal([run(0, 19)], 10), undefined);
    assert.deepEqual(chooseSteal([run(0, 20)], 10), { index: 0, at: 10 });
    assert.equal(chooseSteal([run(80, 99), run(0, 19)], 10), undefined);
    // The largest qualifies even if a smaller one does not.
    assert.deepEqual(chooseSteal([run(0, 15), run(0, 40)], 10), { index: 1, at: 20 });
  });

  it('keeps the margin after the position with the running connection', () => {
    assert.deepEqual(chooseSteal([run(50, 300)], 10, 20), { index: 0, at: 185 });
    // 100 left, but 85 of them are margin: 15 < 2 * 10.
    assert.equal(chooseSteal([run(0, 100)], 10, 85), undefined);
    assert.deepEqual(chooseSteal([run(0, 100)], 10, 80), { index: 0, at: 90 });
    // A margin past the end leaves nothing to steal.
    assert.equal(chooseSteal([run(0, 100)], 1, 200), undefined);
  });

  it('returns undefined when nothing runs or everything is finished', () => {
    assert.equal(chooseSteal([], 1), undefined);
    assert.equal(chooseSteal([run(100, 100), run(5, 5)], 1), undefined);
  });

  it('always returns a split point strictly inside the stealable part (random cases)', () => {
    const random = mulberry32(42);
    for (let n = 0; n < 300; n++) {
      const running = Array.from({ length: 1 + Math.floor(random() * 8) }, () => {
        const position = Math.floor(random() * 10_000);
        return run(position, position + Math.floor(random() * 10_000));
      });
      const min = 1 + Math.floor(random() * 2000);
      const margin = Math.floor(random() * 3000);
      const steal = chooseSteal(running, min, margin);
      const lefts = running.map((r) => r.end - r.position - margin);
      const best = Math.max(...lefts);
      const label = JSON.stringify({ running, min, margin });
      if (best < 2 * min) {
        assert.equal(steal, undefined, label);
        continue;
      }
      assert.ok(steal, label);
      const r = running[steal.index]!;
      assert.equal(r.end - r.position - margin, best, `${label}: not the largest`);
      assert.equal(steal.index, lefts.indexOf(best), `${label}: not the first largest`);
      assert.ok(steal.at - (r.position + margin) >= min, `${label}: kept part < min`);
      assert.ok(r.end - steal.at >= min, `${label}: stolen part < min`);
      assert.equal(steal.at, r.position + margin + Math.ceil(best / 2), label);
    }
  });
});
