/**
 * The connections a download's first ranges take are opened while the probe runs: by a warm
 * worker (src/engine/preconnect.ts), or by the main thread when it fetches (prewarm.ts). The server here answers HEAD only once it has accepted as many
 * connections as the test waits for, so that "opened during the probe" is a fact the test
 * sees, not a race it hopes to win; every wait is bounded, and the sockets are counted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Download } from '../src/engine/download.js';
import { connectionsFor, preconnectPlan, threadShare } from '../src/engine/preconnect.js';
import { threadsStarted } from '../src/engine/prewarm.js';
import { resolveOptions } from '../src/options.js';
import type { DownloadOptions } from '../src/download-options.js';
import type { DownloadEvent } from '../src/engine/events.js';
import { contentOf, sha256File, sha256Of } from './helpers/content.js';
import { retries, warnings } from './helpers/events.js';
import { listenLoopback } from './helpers/loopback.js';
import { tempDir, waitFor, type AfterContext } from './helpers/tmp.js';

const MiB = 1024 * 1024;
const SEED = 13;
/** Longer than any test: a HEAD still waiting then is answered anyway (and the test fails on its count). */
const GATE_LIMIT = 10_000;

interface GateOptions {
  size: number;
  /** HEAD is answered once this many TCP connections were accepted (the probe's own included). */
  headAfter?: number;
  /** HEAD and GET answer 302 to this URL. */
  redirect?: string;
  /** Connections 2 to `1 + n` are closed as soon as they are accepted (the probe's is the first). */
  dropAfterFirst?: number;
  /** Answers carry the file's `Repr-Digest` (RFC 9530). */
  digest?: boolean;
}

interface Gate {
  url: string;
  /** TCP connections accepted, and open now. */
  accepted(): number;
  open(): number;
  gets: number;
  /** Connections accepted when HEAD was answered. */
  atHead: number;
  /** Of the connections accepted before HEAD was answered, those that carried no GET (the probe's own, at least). */
  idleEarly(): number;
  /** The probe's connection (the first accepted) carried a GET. */
  getOnProbe(): boolean;
}

/** A file server on 127.0.0.1 whose HEAD waits for connections (see {@link GateOptions}). */
async function gate(t: AfterContext, options: GateOptions): Promise<Gate> {
  const content = contentOf(SEED, options.size);
  const sockets = new Set<Socket>();
  let accepted = 0;
  const early: Socket[] = [];
  const served = new WeakSet<Socket>();
  const waiting: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const answer = (): void => {
      if (options.redirect) {
        res.writeHead(302, { location: options.redirect }).end();
        return;
      }
      const head = {
        'accept-ranges': 'bytes',
        etag: '"x"',
        'content-type': 'application/octet-stream',
        ...(options.digest ? { 'repr-digest': `sha-256=:${createHash('sha256').update(content).digest('base64')}:` } : {}),
      };
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (req.method === 'GET') {
        state.gets++;
        served.add(req.socket);
      }
      if (range && req.method === 'GET') {
        const start = Number(range[1]);
        const end = Math.min(options.size - 1, Number(range[2]));
        res.writeHead(206, { ...head, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${options.size}` });
        res.end(content.subarray(start, end + 1));
        return;
      }
      res.writeHead(200, { ...head, 'content-length': options.size });
      res.end(req.method === 'HEAD' ? undefined : content);
    };
    if (req.method !== 'HEAD' || accepted >= (options.headAfter ?? 0)) {
      if (req.method === 'HEAD') state.atHead = accepted;
      answer();
      return;
    }
    const timer = setTimeout(() => release(), GATE_LIMIT);
    const release = (): void => {
      clearTimeout(timer);
      state.atHead = accepted;
      answer();
    };
    waiting.push(release);
  });
  server.on('connection', (socket: Socket) => {
    accepted++;
    if (state.atHead === 0) early.push(socket);
    if (options.dropAfterFirst && accepted > 1 && accepted <= 1 + options.dropAfterFirst) socket.destroy();
    if (accepted >= (options.headAfter ?? 0)) waiting.splice(0).forEach((release) => release());
  });
  const listening = await listenLoopback(server, sockets);
  t.after(() => {
    waiting.splice(0).forEach((release) => release());
    return listening.close();
  });
  const state: Gate = {
    url: `http://127.0.0.1:${listening.port}/f.bin`,
    accepted: () => accepted,
    open: () => sockets.size,
    gets: 0,
    atHead: 0,
    idleEarly: () => early.filter((socket) => !served.has(socket)).length,
    getOnProbe: () => early[0] !== undefined && served.has(early[0]),
  };
  return state;
}

/** Download `url` with threads warmed at once (delay 0, or never: `warm`); its events, and whether the file is right. */
async function fetch(t: AfterContext, url: string, size: number, options: DownloadOptions, warm: number | false = 0): Promise<{ events: DownloadEvent[]; ok: boolean }> {
  const dir = await tempDir(t);
  const events: DownloadEvent[] = [];
  const opts = resolveOptions(url, { dir, retryWait: 10, ...options, onEvent: (e) => events.push(e) });
  const result = await new Download(opts, undefined, warm).start();
  const ok = (await sha256File(join(dir, 'f.bin'))) === sha256Of(SEED, size) && result.size === size;
  return { events, ok };
}

/**
 * A plain HTTP download is fetched in the main thread, which opens one connection fewer than
 * it starts with (the probe's takes the first range); `--threads` sends it to a worker thread,
 * which opens all of them (prewarm.ts, `worthThreads`).
 */
const MODES = [
  { name: 'main thread', options: {}, extra: 3, probeIdle: 0 },
  { name: 'worker thread', options: { threads: 1 }, extra: 4, probeIdle: 1 },
] as const;

describe('preconnect', { timeout: 60_000 }, () => {
  for (const mode of MODES) {
    it(`${mode.name}: the connections of the first ranges open while the probe runs, and the ranges take them`, async (t) => {
      const server = await gate(t, { size: 8 * MiB, headAfter: 1 + mode.extra });
      const { events, ok } = await fetch(t, server.url, 8 * MiB, { connections: 4, ...mode.options });
      assert.ok(ok);
      assert.equal(server.atHead, 1 + mode.extra, 'open before HEAD was answered');
      assert.equal(server.accepted(), 1 + mode.extra, 'none opened after the probe');
      assert.equal(server.idleEarly(), mode.probeIdle, 'ranges went over the four (and the probe\'s, from the main thread)');
      assert.deepEqual([retries(events), warnings(events)], [[], []]);
      await waitFor('every connection closed', () => server.open() === 0);
    });

    it(`${mode.name}: a redirect to another origin closes the ones opened to the first`, async (t) => {
      const target = await gate(t, { size: 8 * MiB });
      const first = await gate(t, { size: 8 * MiB, headAfter: 1 + mode.extra, redirect: target.url });
      const { ok } = await fetch(t, first.url, 8 * MiB, { connections: 4, ...mode.options });
      assert.ok(ok);
      assert.equal(first.atHead, 1 + mode.extra);
      assert.equal(first.gets, 0, 'no range went to the first origin');
      await waitFor('the first origin has no connection left open', () => first.open() === 0);
    });

    it(`${mode.name}: connections that fail while the probe runs are dropped without a word`, async (t) => {
      const server = await gate(t, { size: 8 * MiB, headAfter: 1 + mode.extra, dropAfterFirst: mode.extra });
      const { events, ok } = await fetch(t, server.url, 8 * MiB, { connections: 4, ...mode.options });
      assert.ok(ok);
      assert.deepEqual([retries(events), warnings(events)], [[], []]);
    });
  }

  it('main thread: a small file on a slow probe keeps the probe\'s connection for its range, and closes the rest', async (t) => {
    const server = await gate(t, { size: MiB, headAfter: 1 + 3 });
    // --min-range 1M: one range (a slow probe would share the file among the connections: plan.ts).
    assert.ok((await fetch(t, server.url, MiB, { connections: 4, minRangeSize: MiB })).ok);
    assert.deepEqual([server.atHead, server.accepted(), server.gets, server.getOnProbe()], [4, 4, 1, true]);
    await waitFor('the other connections closed', () => server.open() === 0);
  });

  it('main thread: a file whose server publishes its digest is hashed there too (8 MiB: under HASHED_INLINE_MAX), on the connections it opened', async (t) => {
    const server = await gate(t, { size: 8 * MiB, headAfter: 1 + 3, digest: true });
    const before = threadsStarted();
    const { ok } = await fetch(t, server.url, 8 * MiB, { connections: 4 });
    assert.ok(ok);
    assert.equal(threadsStarted() - before, 0, 'no thread');
    assert.deepEqual([server.atHead, server.accepted()], [4, 4], 'the ranges took the connections opened during the probe');
  });

  it('shared by threads, -c auto: as many as the download starts with, none beyond', async (t) => {
    const server = await gate(t, { size: 32 * MiB, headAfter: 1 + 6 });
    const { ok } = await fetch(t, server.url, 32 * MiB, { connections: 'auto', maxConnections: 6, threads: 2 });
    assert.ok(ok);
    assert.deepEqual([server.atHead, server.idleEarly()], [7, 1]);
  });

  it('--threads: a small file goes to the warm threads when they run before the probe answers, on one of their connections; the rest close', async (t) => {
    const warmed = await gate(t, { size: MiB, headAfter: 1 + 4 });
    // --min-range 1M: one range (the gate makes the probe slow, which would share the file
    // among the connections: plan.ts, plannedMinRange).
    assert.ok((await fetch(t, warmed.url, MiB, { connections: 4, minRangeSize: MiB, threads: 1 })).ok);
    assert.equal(warmed.atHead, 5);
    assert.equal(warmed.accepted(), 1 + 4, 'none opened after the probe');
    assert.equal(warmed.gets, 1);
    assert.equal(warmed.getOnProbe(), false, "a spare carried the GET, not the probe's connection");
    await waitFor('the spare connections closed', () => warmed.open() === 0);
  });

  it('a small file opens none when the probe answers before threads start', async (t) => {
    const quick = await gate(t, { size: MiB });
    // --min-range 1M: one range, whatever the probe took (a slow one shares the file: plannedMinRange).
    assert.ok((await fetch(t, quick.url, MiB, { connections: 4, minRangeSize: MiB }, false)).ok);
    assert.equal(quick.accepted(), 1, "the probe's connection only");
  });

  it('only where ranges go the lean way, and never more than the download may use', () => {
    const plan = (options: DownloadOptions, url = 'http://example.test/f') => preconnectPlan(resolveOptions(url, options));
    assert.equal(plan({ connections: 8 })?.connections, 8);
    assert.equal(plan({ maxConnections: 40 })?.connections, 16, "-c auto's start");
    assert.equal(plan({ trace: true }), undefined);
    assert.equal(plan({ proxy: 'http://127.0.0.1:9' }), undefined);
    
    const eight = plan({ connections: 8, minRangeSize: MiB })!;
    assert.deepEqual([5 * MiB, 64 * MiB, undefined].map((size) => connectionsFor(eight, size)), [5, 8, 8]);
    assert.deepEqual([0, 1, 2].map((t) => threadShare(8, 3, t)), [3, 3, 2]);
  });
});
