/**
 * The scheduler (src/engine/scheduler.ts) is pure: every decision of the pool's policy is
 * checked here on hand-built inputs, with exact values (no servers, no timers).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSteal, type RunningRange } from '../src/engine/scheduler.js';
import { mulberry32 } from './helpers/random.js';

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
