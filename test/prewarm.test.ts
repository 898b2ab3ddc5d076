/**
 * Worker threads are started for a download only when it may need them: a small file
 * (fetched in the main thread) starts none once its probe has answered; a big one starts its
 * threads as soon as the probe says so, or when the probe is slow. The delays here are either
 * zero or far longer than any test, so that nothing depends on how fast the machine is.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { Download } from '../src/engine/download.js';
import { fetchedInThreads, INLINE_MAX_SIZE, threadsStarted, warmUp } from '../src/engine/prewarm.js';
import { resolveOptions } from '../src/options.js';
import { sha256File } from './helpers/content.js';
import { serve } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Longer than any test: a warm-up with this delay starts threads only when the probe says so. */
const NEVER = 600_000;

describe('warmUp', () => {
  it('threads are for files over the inline size, or of unknown size', () => {
    assert.equal(fetchedInThreads(0), false);
    assert.equal(fetchedInThreads(INLINE_MAX_SIZE), false);
    assert.equal(fetchedInThreads(INLINE_MAX_SIZE + 1), true);
    assert.equal(fetchedInThreads(undefined), true);
  });

  it('a small file too when the warm threads run (ready) by the time the probe answers; an empty one never', () => {
    assert.equal(fetchedInThreads(MiB, true), true);
    assert.equal(fetchedInThreads(1, true), true);
    assert.equal(fetchedInThreads(0, true), false, 'nothing to fetch');
    assert.equal(fetchedInThreads(MiB, false), false);
    const warm = warmUp(1, NEVER, () => undefined, () => true);
    assert.equal(warm.threaded, undefined, 'not before the probe answers');
    warm.probed({ size: MiB });
    assert.equal(warm.threaded, true);
    const cold = warmUp(1, NEVER, () => undefined, () => false);
    cold.probed({ size: MiB });
    assert.equal(cold.threaded, false);
  });

  it('a small file answered before the delay starts nothing, then or later', async () => {
    const started: number[] = [];
    const warm = warmUp(2, 0, (n) => started.push(n));
    warm.probed({ size: 256 * KiB });
    await sleep(5);
    assert.deepEqual(started, []);
  });

  it('a big file, or one of unknown size, starts its threads when the probe answers', () => {
    for (const size of [INLINE_MAX_SIZE + 1, undefined]) {
      const started: number[] = [];
      const warm = warmUp(3, NEVER, (n) => started.push(n));
      warm.probed({ size });
      warm.probed({ size });
      assert.deepEqual(started, [3], `size ${size}`);
    }
  });

  it('a slow probe starts the threads once, whatever it then says', async () => {
    const started: number[] = [];
    const warm = warmUp(1, 0, (n) => started.push(n));
    await sleep(5);
    assert.deepEqual(started, [1]);
    warm.probed({ size: INLINE_MAX_SIZE + 1 });
    warm.probed({ size: 1 });
    assert.deepEqual(started, [1]);
  });

  it('a cancelled warm-up starts nothing', async () => {
    const started: number[] = [];
    warmUp(1, 0, (n) => started.push(n)).cancel();
    await sleep(5);
    assert.deepEqual(started, []);
  });
});

describe('a download starts worker threads only for a big file', { timeout: 30_000 }, () => {
  /** Threads started by the time the probe event came, and by the end; the file's sha256. */
  async function fetch(t: Parameters<typeof tempDir>[0], size: number): Promise<{ atProbe: number; atEnd: number; ok: boolean }> {
    const server = await serve(t, { '/f.bin': { size } });
    const dir = await tempDir(t);
    const before = threadsStarted();
    let atProbe = -1;
    const opts = resolveOptions(server.url('/f.bin'), {
      dir,
      onEvent: (e) => {
        if (e.type === 'probe') atProbe = threadsStarted() - before;
      },
    });
    const result = await new Download(opts, undefined, NEVER).start();
    const ok = (await sha256File(join(dir, 'f.bin'))) === server.sha256('/f.bin') && result.size === size;
    return { atProbe, atEnd: threadsStarted() - before, ok };
  }

  it('256 KiB: none at all', async (t) => {
    assert.deepEqual(await fetch(t, 256 * KiB), { atProbe: 0, atEnd: 0, ok: true });
  });

  it('5 MiB: one, started when the probe answered and taken by the pool', async (t) => {
    assert.deepEqual(await fetch(t, 5 * MiB), { atProbe: 1, atEnd: 1, ok: true });
  });
});
