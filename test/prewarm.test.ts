/**
 * Worker threads are started for a download only when it may need them: a small file
 * (fetched in the main thread) starts none once its probe has answered; a big one starts its
 * threads as soon as the probe says so, or when the probe is slow. The delays here are either
 * zero or far longer than any test, so that nothing depends on how fast the machine is.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import http from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Download } from '../src/engine/download.js';
import { fetchedInThreads, HASHED_INLINE_MAX, INLINE_MAX_SIZE, threadsStarted, warmUp, worthThreads } from '../src/engine/prewarm.js';
import { LeanClient } from '../src/http/lean-client.js';
import type { DownloadOptions } from '../src/download-options.js';
import { resolveOptions } from '../src/options.js';
import { sha256File } from './helpers/content.js';
import { CERT, serverTls } from './helpers/fixtures.js';
import { listenLoopback } from './helpers/loopback.js';
import { serve, type TestServer } from './helpers/server.js';
import { tempDir, waitFor } from './helpers/tmp.js';

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

describe('worthThreads', () => {
  const worth = (options: DownloadOptions, url = 'http://example.test/f', answer?: Parameters<typeof worthThreads>[1]) => worthThreads(resolveOptions(url, options), answer);

  it('a plain HTTP or TLS download is not worth a thread', () => {
    assert.equal(worth({}), false);
    assert.equal(worth({ connections: 64 }), false);
    assert.equal(worth({}, 'https://example.test/f'), false, 'https: the worker\'s start costs more than decrypting in the main thread');
    assert.equal(worth({ mirrors: ['https://mirror.test/f'] }), false, 'an https mirror');
  });

  it('undici ranges or --threads are; a digest to hash for a big file, one of unknown size, or when threads warmed during the probe', () => {
    const checksum = `sha256=${'0'.repeat(64)}`;
    const digest = { algorithm: 'sha256', hex: '0'.repeat(64), field: 'Repr-Digest' } as const;
    assert.equal(worth({ checksum }), true, '--checksum before the probe: threads warm up, as it may be big');
    assert.equal(worthThreads(resolveOptions('http://example.test/f', { checksum }), { size: 8 * MiB }, true), true, '--checksum, 8 MiB, threads started during the probe');
    assert.equal(worth({ checksum }, undefined, { size: HASHED_INLINE_MAX }), false, '--checksum, 384 MiB');
    assert.equal(worth({ checksum }, undefined, { size: HASHED_INLINE_MAX + 1 }), true, '--checksum, over 384 MiB');
    assert.equal(worth({ checksum }, undefined, {}), true, '--checksum, no size');
    assert.equal(worth({}, 'https://example.test/f', { digest, size: 8 * MiB }), false, 'a server digest, 8 MiB');
    assert.equal(worth({}, 'https://example.test/f', { digest, size: HASHED_INLINE_MAX + 1 }), true, 'a server digest, over 384 MiB');
    assert.equal(worth({}, undefined, { size: HASHED_INLINE_MAX + 1 }), false, 'a big file with nothing to hash');
    assert.equal(worth({ proxy: 'http://127.0.0.1:9' }), true, 'a proxy: undici');
    assert.equal(worth({ trace: true }), true, '-v: undici');
    assert.equal(worth({ threads: 1 }), true, '--threads');
  });

  it('a file not worth threads is fetched in the main thread at any size', () => {
    for (const size of [MiB, INLINE_MAX_SIZE + 1, undefined]) assert.equal(fetchedInThreads(size, true, false), false);
  });
});

describe('LeanClient.preconnect', () => {
  it('opens idle connections that requests take, and trim closes all but the most recent', async (t) => {
    const sockets = new Set<Socket>();
    let accepted = 0;
    const server = http.createServer((_req, res) => res.end('x'));
    server.on('connection', () => accepted++);
    const listening = await listenLoopback(server, sockets);
    t.after(() => listening.close());
    const url = new URL(`http://127.0.0.1:${listening.port}/f`);
    const client = new LeanClient(resolveOptions(url.href, {}).request.connection);
    t.after(() => client.close());
    client.preconnect(url, 3);
    await waitFor('three connections accepted', () => accepted === 3);
    const answer = await client.request(url, { method: 'GET', headers: {} });
    assert.equal(answer.statusCode, 200);
    for await (const _ of answer.body);
    assert.equal(accepted, 3, 'the request took one of them');
    client.trim(url.origin, 1);
    await waitFor('two closed', () => sockets.size === 1);
  });
});

describe('a download starts worker threads only for a big file worth them', { timeout: 30_000 }, () => {
  /** Threads started by the time the probe event came, and by the end; the file's sha256. */
  async function fetch(t: Parameters<typeof tempDir>[0], size: number, given: DownloadOptions | ((server: TestServer) => DownloadOptions) = {}, https = false): Promise<{ atProbe: number; atEnd: number; ok: boolean }> {
    const server = await serve(t, { '/f.bin': { size } }, https ? { tls: serverTls() } : {});
    const options = typeof given === 'function' ? given(server) : given;
    const dir = await tempDir(t);
    const before = threadsStarted();
    let atProbe = -1;
    const opts = resolveOptions(server.url('/f.bin'), {
      ...options,
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

  it('5 MiB over plain HTTP: none (the main thread fetches it)', async (t) => {
    assert.deepEqual(await fetch(t, 5 * MiB), { atProbe: 0, atEnd: 0, ok: true });
  });

  it('5 MiB over https: none (decrypting in the main thread costs less than a worker\'s start)', async (t) => {
    assert.deepEqual(await fetch(t, 5 * MiB, { caCert: CERT, connections: 4 }, true), { atProbe: 0, atEnd: 0, ok: true });
  });

  it('5 MiB with --checksum: none (the hasher shares the main thread)', async (t) => {
    const checksum = (server: TestServer): DownloadOptions => ({ checksum: `sha256=${server.sha256('/f.bin')}` });
    assert.deepEqual(await fetch(t, 5 * MiB, checksum), { atProbe: 0, atEnd: 0, ok: true });
  });

  it('over 384 MiB with --checksum: one, started when the probe answered', async (t) => {
    const size = HASHED_INLINE_MAX + MiB;
    const server = await serve(t, { '/f.bin': { size } });
    const dir = await tempDir(t);
    const before = threadsStarted();
    const stop = new AbortController();
    let atProbe = -1;
    const opts = resolveOptions(server.url('/f.bin'), {
      dir,
      checksum: `sha256=${'0'.repeat(64)}`,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'probe') atProbe = threadsStarted() - before;
        // The pool is running: no need to fetch 385 MiB to know who fetches it.
        if (e.type === 'progress') stop.abort();
      },
    });
    await assert.rejects(new Download(opts, undefined, NEVER).start());
    assert.deepEqual([atProbe, threadsStarted() - before], [1, 1]);
  });

  it('5 MiB with --threads: one, started when the probe answered and taken by the pool', async (t) => {
    assert.deepEqual(await fetch(t, 5 * MiB, { threads: 1 }), { atProbe: 1, atEnd: 1, ok: true });
  });
});
