/**
 * `-c auto` (src/engine/connection-count.ts) as a pure state machine: byte counts and times
 * handed in by hand, exact decisions out. Its effect on whole downloads: scheduler-sim.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AUTO_GAIN, AUTO_MIN_WAIT, AUTO_NO_SETTLE_MS, AUTO_RETRY_WAITS, AUTO_START, AUTO_WAITS, ConnectionCount, countSettings } from '../src/engine/connection-count.js';
import { isPushback, AttemptFailure } from '../src/http/retry-policy.js';
import { HttpError, NetworkError } from '../src/primitives/errors.js';

/**
 * Feed `count` ticks at a constant `speed` (bytes/s) with every connection busy, from `from`
 * ms every 250 ms until `to`; returns the changes and the bytes at the end.
 */
function feed(count: ConnectionCount, speed: number, from: number, to: number, bytes = 0): { changes: number[]; bytes: number } {
  const changes: number[] = [];
  for (let t = from; t <= to; t += 250) {
    const change = count.tick(bytes, count.current(), Infinity, t);
    if (change) changes.push(change.connections);
    bytes += (speed * 250) / 1000;
  }
  return { changes, bytes };
}

describe('ConnectionCount', () => {
  it('keeps a fixed count whatever happens', () => {
    const count = new ConnectionCount({ auto: false, start: 4, most: 4 }, 0);
    assert.deepEqual(feed(count, 1e6, 0, 10_000).changes, []);
    assert.equal(count.pushback(4, 10_000), undefined);
    assert.equal(count.current(), 4);
  });

  it('doubles while the speed keeps rising by AUTO_GAIN, up to the cap', () => {
    const count = new ConnectionCount({ auto: true, start: 4, most: 16 }, 0);
    // Each step measured after settling: speed proportional to the count (each connection limited).
    let bytes = 0;
    let t = 0;
    const seen: number[] = [];
    while (t < 20_000) {
      const change = count.tick(bytes, count.current(), Infinity, t);
      if (change) seen.push(change.connections);
      bytes += count.current() * 1e6 * 0.25;
      t += 250;
    }
    assert.deepEqual(seen, [8, 16]);
    assert.equal(count.current(), 16);
  });

  it('goes back when a step gains less than AUTO_GAIN, and tries again later', () => {
    // The path is the limit: the same speed at any count. A 20 ms round trip: each step
    // settles, then is measured, one pool tick (250 ms) each.
    assert.equal(AUTO_MIN_WAIT, 200);
    assert.equal(AUTO_RETRY_WAITS, 8);
    const run = (rtt: number): Array<[number, number]> => {
      const count = new ConnectionCount({ auto: true, start: 8, most: 64 }, 0);
      const seen: Array<[number, number]> = [];
      for (let t = 0, bytes = 0; t <= 5_000; t += 250, bytes += 50e6 / 4) {
        const change = count.tick(bytes, count.current(), Infinity, t, rtt);
        if (change) seen.push([t, change.connections]);
      }
      return seen;
    };
    // Settled (250) and measured (500): doubled; settled (750), measured no faster (1000): back
    // to 8, held for AUTO_RETRY_WAITS waits (until 2600), then settled, measured, doubled and
    // given back again.
    assert.deepEqual(run(20), [[500, 16], [1000, 8], [3250, 16], [3750, 8]]);
    // On loopback nothing settles: the first period is measured from the start, and a step
    // from the moment it is taken; the hold is as long (8 periods of 200 ms).
    assert.deepEqual(run(0.2), [[250, 16], [500, 8], [2500, 16], [2750, 8], [4750, 16], [5000, 8]]);
  });

  it('where connections are at speed at once (AUTO_NO_SETTLE_MS), takes one tick per step', () => {
    const steps = (rtt: number): Array<[number, number]> => {
      const count = new ConnectionCount({ auto: true, start: 16, most: 64 }, 0);
      const seen: Array<[number, number]> = [];
      // Each connection limited by the server: speed proportional to the count.
      for (let t = 0, bytes = 0; t <= 3_000; t += 250) {
        const change = count.tick(bytes, count.current(), Infinity, t, rtt);
        if (change) seen.push([t, change.connections]);
        bytes += count.current() * 1e6 * 0.25;
      }
      return seen;
    };
    assert.ok(AUTO_WAITS * 2.5 <= AUTO_NO_SETTLE_MS && AUTO_WAITS * 20 > AUTO_NO_SETTLE_MS);
    assert.deepEqual(steps(0.2), [[250, 32], [500, 64]]);
    assert.deepEqual(steps(20), [[500, 32], [1000, 64]]);
  });

  it('keeps doubling at a gain of exactly AUTO_GAIN, goes back just below it', () => {
    // 1 MB/s at 8 connections over [250, 500]; then the doubled count over [750, 1000].
    const next = (gain: number): number => {
      const count = new ConnectionCount({ auto: true, start: 8, most: 64 }, 0);
      const at: Record<number, number> = { 250: 0, 500: 250_000, 750: 250_000, 1000: 250_000 + 250_000 * gain };
      for (const t of [250, 500, 750, 1000]) count.tick(at[t]!, count.current(), Infinity, t, 20);
      return count.current();
    };
    assert.equal(next(1 + AUTO_GAIN), 32);
    assert.equal(next(1 + AUTO_GAIN - 0.001), 8);
  });

  it('waits longer on long round trips', () => {
    const count = new ConnectionCount({ auto: true, start: 8, most: 64 }, 0);
    const wait = AUTO_WAITS * 200;
    // Nothing before the step has settled and been measured, each for AUTO_WAITS round trips.
    for (let t = 0; t < 2 * wait; t += 250) assert.equal(count.tick(t * 1000, 8, Infinity, t, 200), undefined);
    assert.equal(count.tick(2 * wait * 1000, 8, Infinity, 2 * wait + 250, 200)?.connections, 16);
  });

  it('adds no connections when the queue holds less than two periods of work at the speed measured (one where they are at speed at once)', () => {
    // 1 MB/s; a period is AUTO_MIN_WAIT (200 ms) at 20 ms: two periods of work is 400 000 bytes.
    const count = new ConnectionCount({ auto: true, start: 8, most: 64 }, 0);
    for (let t = 0; t <= 5_000; t += 250) assert.equal(count.tick(t * 1000, 8, 399_999, t, 20), undefined);
    assert.equal(count.tick(5_250 * 1000, 8, 400_000, 5_250, 20)?.connections, 16);
    const atOnce = new ConnectionCount({ auto: true, start: 8, most: 64 }, 0);
    for (let t = 0; t <= 5_000; t += 250) assert.equal(atOnce.tick(t * 1000, 8, 199_999, t, 0.2), undefined);
    assert.equal(atOnce.tick(5_250 * 1000, 8, 200_000, 5_250, 0.2)?.connections, 16);
  });

  it('measures only while every connection has work', () => {
    const count = new ConnectionCount({ auto: true, start: 8, most: 64 }, 0);
    for (let t = 0; t <= 5_000; t += 250) assert.equal(count.tick(t * 1000, 7, Infinity, t), undefined);
    for (let t = 0; t <= 5_000; t += 250) assert.equal(count.tick(t * 1000, 8, 0, t), undefined);
  });

  it('gives one connection back per pushback, and grows no more', () => {
    const count = new ConnectionCount({ auto: true, start: 16, most: 64 }, 0);
    assert.deepEqual(count.pushback(16, 100), { connections: 15, reason: 'the server pushed back' });
    assert.equal(count.pushback(10, 200)?.connections, 9);
    assert.equal(count.pushback(1, 300)?.connections, 1);
    assert.equal(count.pushback(1, 400), undefined);
    assert.equal(count.current(), 1);
    assert.deepEqual(feed(count, 1e9, 400, 60_000).changes, []);
  });
});

describe('countSettings', () => {
  it('starts -c auto at AUTO_START or the cap, and a fixed count at itself; one connection for a stream', () => {
    assert.deepEqual(countSettings({ connections: 64, autoConnections: true }, true), { auto: true, start: AUTO_START, most: 64 });
    assert.deepEqual(countSettings({ connections: 4, autoConnections: true }, true), { auto: true, start: 4, most: 4 });
    assert.deepEqual(countSettings({ connections: 32, autoConnections: false }, true), { auto: false, start: 32, most: 32 });
    assert.deepEqual(countSettings({ connections: 32, autoConnections: true }, false), { auto: false, start: 1, most: 1 });
  });

  it('--help, the README and the TSDoc of connections say what -c auto starts with', async () => {
    const root = new URL('../../', import.meta.url);
    const texts = {
      'src/cli/flags.ts': `auto: start with ${AUTO_START} (at most --max-connections)`,
      'README.md': `start with ${AUTO_START} (at most \`--max-connections\`)`,
      'src/download-options.ts': `(the default): start with ${AUTO_START},`,
    };
    for (const [file, said] of Object.entries(texts)) assert.ok((await readFile(new URL(file, root), 'utf8')).includes(said), `${file} does not say "${said}"`);
  });
});

describe('isPushback', () => {
  it('is a 429 or 503, or a refused or reset connection', () => {
    const failure = (error: HttpError | NetworkError) => new AttemptFailure(error, true);
    assert.equal(isPushback(failure(new HttpError(503, 'http://x/'))), true);
    assert.equal(isPushback(failure(new HttpError(429, 'http://x/'))), true);
    assert.equal(isPushback(failure(new HttpError(500, 'http://x/'))), false);
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    assert.equal(isPushback(failure(new NetworkError('reset', { cause: reset }))), true);
    const refused = { code: 'X', cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) };
    assert.equal(isPushback(failure(new NetworkError('refused', { cause: refused }))), true);
    const timeout = Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' });
    assert.equal(isPushback(failure(new NetworkError('timed out', { cause: timeout }))), false);
  });
});
