/**
 * The library, end to end: `download(url, options)` against the fault-injecting test server
 * on 127.0.0.1. The oracle is the byte-exact SHA-256 of the saved file; the server's request
 * log says what went over the wire.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortError,
  ChecksumError,
  download,
  downloadMany,
  FileExistsError,
  HttpError,
  inspect,
  planRanges,
  RangegetError,
  RedirectError,
  UsageError,
  type DownloadEvent,
  type DownloadOptions,
  type DownloadResult,
} from '../src/index.js';
import { sha256File } from './helpers/content.js';
import { warnings } from './helpers/events.js';
import { gets, seedOfPath, serve, type FileSpec, type RequestRecord, type TestServer } from './helpers/server.js';
import { list, tempDir } from './helpers/tmp.js';

// The library honours HTTP(S)_PROXY; the test server is on loopback and must be reached directly.
for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete process.env[name];

const KiB = 1024;
const MiB = 1024 * KiB;
/** Per-test bound: a hang fails the test instead of the suite. */
const T = { timeout: 30_000 };

/** Run a download, recording every event. */
async function fetchFile(
  server: TestServer,
  path: string,
  options: DownloadOptions,
): Promise<{ result: DownloadResult; events: DownloadEvent[] }> {
  const events: DownloadEvent[] = [];
  const result = await download(server.url(path), { ...options, onEvent: (e) => events.push(e) });
  return { result, events };
}

/** Await a rejection and return the error, failing if the promise resolves. */
async function failure(promise: Promise<unknown>): Promise<RangegetError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RangegetError, `expected a RangegetError, got ${String((err as Error)?.stack ?? err)}`);
    return err;
  }
  assert.fail('expected the download to fail');
}

const rangeHeaders = (records: RequestRecord[]): string[] =>
  records.map((r) => String(r.headers.range ?? '')).sort(compareRange);
const methods = (server: TestServer): string[] => server.stats.log.map((r) => `${r.method} ${r.path}`);
/** Method, Range header (or null) and status of every request, in order. */
const exchanges = (server: TestServer): Array<[string, string | string[] | null, number]> =>
  server.stats.log.map((r) => [r.method, r.headers.range ?? null, r.status]);

/** `bytes=a-b` → [a, b + 1). */
function parseRange(header: string | string[] | undefined): { start: number; end: number } {
  const m = /^bytes=(\d+)-(\d+)$/.exec(String(header));
  assert.ok(m, `unexpected Range header ${String(header)}`);
  return { start: Number(m[1]), end: Number(m[2]) + 1 };
}
function compareRange(a: string, b: string): number {
  const sa = /^bytes=(\d+)/.exec(a)?.[1];
  const sb = /^bytes=(\d+)/.exec(b)?.[1];
  return Number(sa ?? -1) - Number(sb ?? -1);
}
/** The Range headers of the plan for a fresh file (the planner itself is tested in plan.test.ts). */
function plannedRanges(size: number, connections: number, minRangeSize: number): string[] {
  return planRanges({ size, connections, minRangeSize }).map((r) => `bytes=${r.start}-${r.end - 1}`);
}

async function missing(path: string): Promise<boolean> {
  return stat(path).then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
  );
}

describe('download: sizes', () => {
  it('saves an empty file without a GET', T, async (t) => {
    const server = await serve(t, { '/empty.bin': { size: 0 } });
    const dir = await tempDir(t);
    const { result, events } = await fetchFile(server, '/empty.bin', { dir });
    assert.equal(result.path, join(dir, 'empty.bin'));
    assert.equal(result.size, 0);
    assert.equal(result.resumed, 0);
    assert.equal(result.connections, 1);
    assert.equal(result.url, server.url('/empty.bin'));
    assert.equal(result.finalUrl, server.url('/empty.bin'));
    assert.equal((await stat(result.path)).size, 0);
    assert.equal(await sha256File(result.path), createHash('sha256').digest('hex'));
    assert.deepEqual(await list(dir), ['empty.bin']);
    assert.deepEqual(methods(server), ['HEAD /empty.bin']);
    assert.equal(events[0]?.type, 'probe');
    assert.equal(events.at(-1)?.type, 'done');
  });

  it('saves a one-byte file with one range request', T, async (t) => {
    const server = await serve(t, { '/one.bin': { size: 1 } });
    const dir = await tempDir(t);
    const { result } = await fetchFile(server, '/one.bin', { dir });
    assert.equal(result.size, 1);
    assert.equal(result.connections, 1);
    assert.equal(await sha256File(result.path), server.sha256('/one.bin'));
    assert.deepEqual(await readFile(result.path), server.content('/one.bin'));
    assert.deepEqual(methods(server), ['HEAD /one.bin', 'GET /one.bin']);
    assert.deepEqual(rangeHeaders(gets(server)), ['bytes=0-0']);
    assert.deepEqual(await list(dir), ['one.bin']);
  });

  it('saves 1 MiB + 7 over 4 connections, every request a planned piece, pieces joined, or a split', T, async (t) => {
    const size = MiB + 7;
    const server = await serve(t, { '/odd.bin': { size } });
    const dir = await tempDir(t);
    const { result, events } = await fetchFile(server, '/odd.bin', { dir, connections: 4, minRangeSize: 64 * KiB, progressInterval: 10 });
    assert.equal(result.size, size);
    assert.equal(result.connections, 4);
    assert.equal(result.resumed, 0);
    assert.equal(await sha256File(result.path), server.sha256('/odd.bin'));
    // 4 pieces per connection: 16 of 65,536 or 65,537 bytes, front to back.
    const planned = plannedRanges(size, 4, 64 * KiB);
    assert.equal(planned.length, 16);
    assert.deepEqual(planned.slice(0, 2), ['bytes=0-65536', 'bytes=65537-131073']);
    assert.equal(planned.at(-1), 'bytes=983047-1048582');
    // Each request asks for one planned piece, or for consecutive pieces joined into one
    // (where responses start late, as on a loaded machine), or for the far half of a running
    // request split by work stealing. Together they cover the file.
    const bounds = (header: string): [number, number] => header.slice(6).split('-').map(Number) as [number, number];
    const starts = new Set(planned.map((r) => bounds(r)[0]));
    const asked = rangeHeaders(gets(server)).map(bounds).sort((a, b) => a[0] - b[0]);
    let covered = 0;
    for (const [first, last] of asked) {
      const split = asked.some(([a, b]) => a < first && first <= b);
      assert.ok(starts.has(first) || split, `bytes=${first}-${last} starts neither a piece nor a split`);
      assert.ok(first <= covered, `bytes ${covered}-${first - 1} were never asked for`);
      covered = Math.max(covered, last + 1);
    }
    assert.equal(covered, size, 'the requests cover the file');
    // Every range request is tied to the probed version of the file.
    const etag = `"${seedOfPath('/odd.bin')}-${size}"`;
    for (const r of gets(server)) assert.equal(r.headers['if-range'], etag, 'If-Range names the probed ETag');
    assert.equal(server.stats.log.filter((r) => r.method === 'HEAD').length, 1);
    assert.deepEqual(await list(dir), ['odd.bin']);

    // Events: probe, start, progress..., done; progress never goes back and ends at the size.
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'probe');
    assert.equal(types[1], 'start');
    assert.equal(types.at(-1), 'done');
    assert.deepEqual(events[1], { type: 'start', path: join(dir, 'odd.bin'), size, connections: 4, ranges: 16 });
    const progress = events.flatMap((e) => (e.type === 'progress' ? [e.downloaded] : []));
    assert.ok(progress.length >= 1);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!, 'progress went back');
    assert.equal(progress.at(-1), size);
    const probe = events[0]!;
    assert.ok(probe.type === 'probe');
    assert.equal(probe.size, size);
    assert.equal(probe.ranges, true);
    assert.equal(probe.path, join(dir, 'odd.bin'));
    const done = events.at(-1)!;
    assert.ok(done.type === 'done');
    assert.equal(done.path, result.path);
    assert.equal(done.size, size);
  });

  it('joins consecutive pieces into one request when round trips are long', { timeout: 60_000 }, async (t) => {
    // Every GET waits 60 ms before its answer; each connection gets 8 MiB/s. 64 planned pieces
    // of 384 KiB would idle a round trip each; once a connection's speed is known its next
    // request covers up to 20 round trips' worth of pieces (about 9.6 MiB).
    const size = 24 * MiB;
    const server = await serve(t, { '/far.bin': { size, throttle: 8 * MiB, faults: { latency: 60 } } });
    const dir = await tempDir(t);
    const planned = plannedRanges(size, 2, 256 * KiB);
    assert.equal(planned.length, 64);
    const { result } = await fetchFile(server, '/far.bin', { dir, connections: 2, minRangeSize: 256 * KiB });
    assert.equal(await sha256File(result.path), server.sha256('/far.bin'));
    const ranges = gets(server).map((r) => parseRange(r.headers.range));
    assert.ok(ranges.length <= 32, `${ranges.length} range requests for 64 pieces`);
    const piece = size / 64;
    assert.ok(
      ranges.some((r) => r.end - r.start >= 4 * piece),
      `no request joined four pieces: ${ranges.map((r) => r.end - r.start).join(', ')}`,
    );
  });

  it('shares a small file among the connections when the probe took long (plannedMinRange), as --min-range says otherwise', async (t) => {
    // A HEAD answered after 40 ms: a round trip of ~20 ms as the download sees it (5 ms is long).
    const server = await serve(t, { '/small.bin': { size: MiB, faults: { headLatency: 40 } } });
    const dir = await tempDir(t);
    const { result, events } = await fetchFile(server, '/small.bin', { dir, connections: 16 });
    assert.equal(await sha256File(result.path), server.sha256('/small.bin'));
    assert.equal(events.find((e) => e.type === 'start')?.ranges, 16, '16 pieces of 64 KiB');
    assert.equal(gets(server).length, 16);
    const chosen = await fetchFile(server, '/small.bin', { dir, connections: 16, minRangeSize: MiB, overwrite: true });
    assert.equal(chosen.events.find((e) => e.type === 'start')?.ranges, 1, '--min-range 1M holds');
  });

  it('saves 64 MiB over 16 concurrent connections', { timeout: 60_000 }, async (t) => {
    const size = 64 * MiB;
    // 16 MiB/s per response: each 4 MiB range takes a quarter second, so they must overlap.
    const server = await serve(t, { '/big.bin': { size, throttle: 16 * MiB } });
    const dir = await tempDir(t);
    let inFlight = 0;
    const sample = (): void => {
      const now = server.stats.log.filter((r) => {
        if (r.method !== 'GET' || r.status !== 206) return false;
        const { start, end } = parseRange(r.headers.range);
        return r.bytes > 0 && r.bytes < end - start;
      }).length;
      inFlight = Math.max(inFlight, now);
    };
    const { result } = await fetchFile(server, '/big.bin', { dir, connections: 16, progressInterval: 10, onProgress: sample });
    assert.equal(result.size, size);
    assert.equal(result.connections, 16);
    assert.equal(await sha256File(result.path), server.sha256('/big.bin'));
    assert.ok(inFlight >= 2, `at most ${inFlight} range request(s) were in flight at once`);
    const ranged = gets(server);
    // 64 pieces planned; a busy machine may join some (its round trips look long), and work
    // stealing may split some. Together the requests cover the file, each inside it.
    assert.equal(plannedRanges(size, 16, MiB).length, 64);
    assert.ok(ranged.length >= 16, `${ranged.length} range requests`);
    const asked = ranged.map((r) => parseRange(r.headers.range));
    for (const r of asked) assert.ok(r.start >= 0 && r.end <= size && r.end > r.start, `range ${r.start}-${r.end}`);
    let covered = 0;
    for (const r of [...asked].sort((a, b) => a.start - b.start)) {
      assert.ok(r.start <= covered, `bytes ${covered}-${r.start} never asked for`);
      covered = Math.max(covered, r.end);
    }
    assert.equal(covered, size);
    assert.equal(server.stats.log.filter((r) => r.method === 'HEAD').length, 1);
    assert.deepEqual(await list(dir), ['big.bin']);
    t.diagnostic(`max range requests in flight: ${inFlight}; range GETs: ${ranged.length}`);
  });
});

describe('download: fallbacks', () => {
  it("keeps the probe's 200 as the download when the server ignores ranges, with a warning", T, async (t) => {
    const size = 300_001;
    const server = await serve(t, { '/nr.bin': { size, ranges: false } });
    const dir = await tempDir(t);
    const { result, events } = await fetchFile(server, '/nr.bin', { dir, connections: 8, minRangeSize: 1024 });
    assert.equal(result.size, size);
    assert.equal(result.connections, 1);
    assert.equal(await sha256File(result.path), server.sha256('/nr.bin'));
    assert.deepEqual(warnings(events), ['using one connection: the server ignores range requests']);
    const start = events.find((e) => e.type === 'start');
    assert.deepEqual(start, { type: 'start', path: result.path, size, connections: 1, ranges: 1 });
    // HEAD says nothing about ranges, the bytes=0-0 probe gets a 200 with the whole file: that is the download.
    assert.deepEqual(exchanges(server), [
      ['HEAD', null, 200],
      ['GET', 'bytes=0-0', 200],
    ]);
    assert.deepEqual(await list(dir), ['nr.bin']);
  });

  it('streams a file of unknown length over one connection, with a warning', T, async (t) => {
    const size = 300_003;
    const server = await serve(t, { '/nolen.bin': { size, length: false } });
    const dir = await tempDir(t);
    const { result, events } = await fetchFile(server, '/nolen.bin', { dir, connections: 8, minRangeSize: 1024 });
    assert.equal(result.size, size);
    assert.equal(result.connections, 1);
    assert.equal(await sha256File(result.path), server.sha256('/nolen.bin'));
    const probe = events.find((e) => e.type === 'probe');
    assert.ok(probe?.type === 'probe');
    assert.equal(probe.size, undefined);
    assert.equal(probe.ranges, false);
    assert.deepEqual(warnings(events), ['using one connection: the server does not give the file size']);
    assert.deepEqual(exchanges(server), [
      ['HEAD', null, 200],
      ['GET', 'bytes=0-0', 206],
      ['GET', null, 200],
    ]);
    assert.deepEqual(await list(dir), ['nolen.bin']);
  });

  for (const [label, head, status] of [
    ['405 (head: false)', false, 405],
    ['403', 403, 403],
  ] as const) {
    it(`probes with GET bytes=0-0 when HEAD answers ${label}, then uses ranges`, T, async (t) => {
      const size = 200_000 + 5;
      const server = await serve(t, { '/nohead.bin': { size, head } });
      const dir = await tempDir(t);
      const { result, events } = await fetchFile(server, '/nohead.bin', { dir, connections: 2, minRangeSize: 64 * KiB });
      assert.equal(result.size, size);
      assert.equal(result.connections, 2);
      assert.equal(await sha256File(result.path), server.sha256('/nohead.bin'));
      const log = server.stats.log;
      assert.deepEqual([log[0]?.method, log[0]?.status], ['HEAD', status]);
      assert.deepEqual([log[1]?.method, log[1]?.headers.range, log[1]?.status], ['GET', 'bytes=0-0', 206]);
      const planned = plannedRanges(size, 2, 64 * KiB);
      assert.equal(planned.length, 3);
      assert.deepEqual(rangeHeaders(log.slice(2)), planned);
      assert.equal(log.length, 2 + planned.length);
      assert.deepEqual(events.filter((e) => e.type === 'warning'), []);
      assert.deepEqual(await list(dir), ['nohead.bin']);
    });
  }
});

describe('download: redirects', () => {
  it('follows a chain of 3 redirects and reports the final URL', T, async (t) => {
    const size = 150_000;
    const server = await serve(t, { '/files/data.bin': { size } });
    server.set('/hop1', { size: 1, redirect: '/hop2', redirectStatus: 301 });
    server.set('/hop2', { size: 1, redirect: server.url('/hop3'), redirectStatus: 307 });
    server.set('/hop3', { size: 1, redirect: 'files/data.bin', redirectStatus: 308 });
    const dir = await tempDir(t);
    const { result, events } = await fetchFile(server, '/hop1', { dir, connections: 2, minRangeSize: 64 * KiB });
    assert.equal(result.url, server.url('/hop1'));
    assert.equal(result.finalUrl, server.url('/files/data.bin'));
    assert.equal(result.path, join(dir, 'data.bin'));
    assert.equal(await sha256File(result.path), server.sha256('/files/data.bin'));
    const probe = events.find((e) => e.type === 'probe');
    assert.ok(probe?.type === 'probe');
    assert.equal(probe.finalUrl, server.url('/files/data.bin'));
    const heads = server.stats.log.filter((r) => r.method === 'HEAD').map((r) => r.path);
    assert.deepEqual(heads, ['/hop1', '/hop2', '/hop3', '/files/data.bin']);
    // The ranges go straight to the final URL.
    assert.deepEqual([...new Set(gets(server).map((r) => r.path))], ['/files/data.bin']);
    assert.deepEqual(rangeHeaders(gets(server)), plannedRanges(size, 2, 64 * KiB));
    assert.deepEqual(await list(dir), ['data.bin']);
  });

  it('follows exactly maxRedirects redirects and fails on one more', T, async (t) => {
    const server = await serve(t, {
      '/r1': { size: 1, redirect: '/r2' },
      '/r2': { size: 1, redirect: '/r3' },
      '/r3': { size: 1, redirect: '/target.bin' },
      '/target.bin': { size: 1000 },
    });
    const ok = await tempDir(t);
    const { result } = await fetchFile(server, '/r1', { dir: ok, maxRedirects: 3 });
    assert.equal(await sha256File(result.path), server.sha256('/target.bin'));

    server.resetStats();
    const dir = await tempDir(t);
    const err = await failure(download(server.url('/r1'), { dir, maxRedirects: 2 }));
    assert.ok(err instanceof RedirectError, err.stack);
    assert.equal(err.code, 'EREDIRECT');
    assert.equal(err.exitCode, 3);
    assert.match(err.message, /too many redirects \(more than 2\)/);
    assert.deepEqual(methods(server), ['HEAD /r1', 'HEAD /r2', 'HEAD /r3']);
    assert.deepEqual(await list(dir), []);

    server.resetStats();
    const none = await failure(download(server.url('/r3'), { dir, maxRedirects: 0 }));
    assert.equal(none.code, 'EREDIRECT');
    assert.deepEqual(methods(server), ['HEAD /r3']);
    assert.deepEqual(await list(dir), []);
  });

  it('detects a redirect loop', T, async (t) => {
    const server = await serve(t, {
      '/loop-a': { size: 1, redirect: '/loop-b' },
      '/loop-b': { size: 1, redirect: '/loop-a' },
    });
    const dir = await tempDir(t);
    const err = await failure(download(server.url('/loop-a'), { dir }));
    assert.ok(err instanceof RedirectError, err.stack);
    assert.equal(err.code, 'EREDIRECT');
    assert.match(err.message, /redirect loop/);
    assert.ok(err.message.includes(server.url('/loop-a')), err.message);
    assert.deepEqual(methods(server), ['HEAD /loop-a', 'HEAD /loop-b']);
    assert.deepEqual(await list(dir), []);
  });
});

describe('download: HTTP errors', () => {
  for (const [path, spec, status] of [
    ['/missing.bin', undefined, 404],
    ['/broken.bin', { size: 100, status: 500 }, 500],
  ] as const) {
    it(`fails with EHTTP ${status} and writes nothing`, T, async (t) => {
      const server = await serve(t, spec ? { [path]: spec } : {});
      const dir = await tempDir(t);
      // A 5xx at the probe is retried like any other; retries: 0 shows the first answer is final then.
      const err = await failure(download(server.url(path), { dir, retries: 0 }));
      assert.ok(err instanceof HttpError, err.stack);
      assert.equal(err.code, 'EHTTP');
      assert.equal(err.exitCode, 3);
      assert.equal(err.status, status);
      assert.equal(err.url, server.url(path));
      assert.ok(await missing(join(dir, path.slice(1))));
      assert.deepEqual(await list(dir), [], 'no .part and no control file either');
      assert.deepEqual(
        server.stats.log.map((r) => [r.method, r.status]),
        [
          ['HEAD', status],
          ['GET', status],
        ],
      );
    });
  }

  it('fails with EHTTP when the range requests get 404 after a good probe, keeping the .part for a resume', T, async (t) => {
    const server = await serve(t, { '/gone.bin': { size: 100_000, faults: { failFirst: 1000, errorStatus: 404 } } });
    const dir = await tempDir(t);
    const err = await failure(download(server.url('/gone.bin'), { dir, connections: 2, minRangeSize: 1024, retryWait: 0 }));
    assert.ok(err instanceof HttpError, err.stack);
    assert.equal(err.code, 'EHTTP');
    assert.equal(err.status, 404);
    assert.ok(await missing(join(dir, 'gone.bin')), 'nothing at the final path');
    // Documented behaviour: on failure the .part and control files stay for a later resume.
    assert.deepEqual(await list(dir), ['gone.bin.part', 'gone.bin.part.json']);
    const control = JSON.parse(await readFile(join(dir, 'gone.bin.part.json'), 'utf8')) as { written: unknown[]; size: number };
    assert.equal(control.size, 100_000);
    assert.deepEqual(control.written, []);
    // 404 is not retried: every GET got a 404, and no range was asked for twice.
    const ranged = gets(server);
    assert.ok(ranged.length >= 1 && ranged.length <= 2, `${ranged.length} GETs`);
    assert.deepEqual(ranged.map((r) => r.status), ranged.map(() => 404));
    assert.equal(new Set(ranged.map((r) => r.headers.range)).size, ranged.length);
  });

  it('names the URL in an HTTP error raised during the transfer', T, async (t) => {
    const server = await serve(t, { '/gone2.bin': { size: 10_000, faults: { failFirst: 1000, errorStatus: 403 } } });
    const dir = await tempDir(t);
    const err = await failure(download(server.url('/gone2.bin'), { dir, connections: 1 }));
    assert.ok(err instanceof HttpError, err.stack);
    assert.equal(err.status, 403);
    assert.equal(err.url, server.url('/gone2.bin'));
  });
});

describe('download: checksum', () => {
  it('verifies a matching checksum and returns the digest', T, async (t) => {
    const size = MiB + 7;
    const server = await serve(t, { '/sum.bin': { size } });
    const dir = await tempDir(t);
    const expected = server.sha256('/sum.bin');
    const { result, events } = await fetchFile(server, '/sum.bin', {
      dir,
      connections: 4,
      minRangeSize: 64 * KiB,
      checksum: `sha256=${expected.toUpperCase()}`,
    });
    assert.equal(result.digest, expected);
    assert.equal(await sha256File(result.path), expected);
    const done = events.at(-1);
    assert.ok(done?.type === 'done');
    assert.equal(done.digest, expected);
    assert.deepEqual(await list(dir), ['sum.bin']);
  });

  it('verifies md5 and sha512 too', T, async (t) => {
    const server = await serve(t, { '/m.bin': { size: 70_001 } });
    const content = server.content('/m.bin');
    for (const algorithm of ['md5', 'sha512', 'sha1'] as const) {
      const dir = await tempDir(t);
      const hex = createHash(algorithm).update(content).digest('hex');
      const { result } = await fetchFile(server, '/m.bin', { dir, checksum: { algorithm, hex } });
      assert.equal(result.digest, hex, algorithm);
      assert.equal(await sha256File(result.path), server.sha256('/m.bin'));
    }
  });

  it('rejects a mismatch with ECHECKSUM, nothing at the path, the bytes kept for the right checksum', T, async (t) => {
    const size = MiB + 7;
    const server = await serve(t, { '/bad.bin': { size } });
    const dir = await tempDir(t);
    const wrong = createHash('sha256').update('something else').digest('hex');
    const err = await failure(download(server.url('/bad.bin'), { dir, connections: 4, minRangeSize: 64 * KiB, checksum: `sha256=${wrong}` }));
    assert.ok(err instanceof ChecksumError, err.stack);
    assert.equal(err.code, 'ECHECKSUM');
    assert.equal(err.exitCode, 5);
    assert.equal(err.expected, wrong);
    assert.equal(err.actual, server.sha256('/bad.bin'));
    assert.ok(await missing(join(dir, 'bad.bin')));
    assert.deepEqual(await list(dir), ['bad.bin.part', 'bad.bin.part.json'], 'the checksum may be the typo: bytes kept');
    assert.match(err.message, /its bytes are kept in .*bad\.bin\.part: with the right checksum, the next run verifies them/);
  });
});

describe('download: file names', () => {
  const cases: Array<[string, string, FileSpec]> = [
    ['Content-Disposition filename', 'report.pdf', { size: 1234, contentDisposition: 'attachment; filename="report.pdf"' }],
    [
      'Content-Disposition filename* over filename',
      '€ rates.pdf',
      { size: 1234, contentDisposition: `attachment; filename="fallback.txt"; filename*=UTF-8''%E2%82%AC%20rates.pdf` },
    ],
    ['a path in filename', 'evil.sh', { size: 1234, contentDisposition: 'attachment; filename="../../evil.sh"' }],
    ['a Windows path in filename', 'win.bat', { size: 1234, contentDisposition: 'attachment; filename="..\\\\..\\\\win.bat"' }],
    ['a dotfile in filename', 'bashrc', { size: 1234, contentDisposition: 'attachment; filename=".bashrc"' }],
    [
      'control characters and a path in filename*',
      'ctl[31mname.txt',
      { size: 1234, contentDisposition: `attachment; filename*=UTF-8''..%2F..%2Fctl%0A%1B%5B31mname%07.txt` },
    ],
    ['a device name', '_nul.txt', { size: 1234, contentDisposition: 'attachment; filename="nul.txt"' }],
  ];
  for (const [label, expected, spec] of cases) {
    it(`saves inside dir under a sanitised name: ${label}`, T, async (t) => {
      const server = await serve(t, { '/download': spec });
      const root = await tempDir(t);
      const dir = join(root, 'a', 'b');
      const { result } = await fetchFile(server, '/download', { dir, connections: 1 });
      assert.equal(result.path, join(dir, expected));
      assert.equal(await sha256File(result.path), server.sha256('/download'));
      assert.deepEqual(await list(dir), [expected]);
      assert.deepEqual(await list(root), ['a']);
      assert.deepEqual(await list(join(root, 'a')), ['b']);
    });
  }

  const fromUrl: Array<[string, string]> = [
    ['/dl/report%20final.pdf?token=1', 'report final.pdf'],
    ['/dl/..%2F..%2Fescape.sh', 'escape.sh'],
    ['/dl/a%01b%1Fc%7F.txt', 'abc.txt'],
    ['/dl/%2Ebashrc', 'bashrc'],
    ['/', 'index.html'],
  ];
  for (const [path, expected] of fromUrl) {
    it(`takes the name from the URL ${path}`, T, async (t) => {
      const key = path.split('?')[0]!;
      const server = await serve(t, { [key]: { size: 2345 } });
      const root = await tempDir(t);
      const dir = join(root, 'a', 'b');
      const { result } = await fetchFile(server, path, { dir, connections: 1 });
      assert.equal(result.path, join(dir, expected));
      assert.equal(await sha256File(result.path), server.sha256(key));
      assert.deepEqual(await list(dir), [expected]);
      assert.deepEqual(await list(root), ['a']);
    });
  }
});

describe('download: existing files', () => {
  it('refuses to overwrite an existing file before fetching a byte', T, async (t) => {
    const server = await serve(t, { '/data.bin': { size: 100_000 } });
    const dir = await tempDir(t);
    const path = join(dir, 'data.bin');
    const precious = Buffer.from('precious bytes\n\u0000\u00ff', 'latin1');
    await writeFile(path, precious);
    const err = await failure(download(server.url('/data.bin'), { dir }));
    assert.ok(err instanceof FileExistsError, err.stack);
    assert.equal(err.code, 'EEXIST');
    assert.equal(err.exitCode, 6);
    assert.equal(err.path, path);
    // download() speaks the library's words; the CLI's are beside them.
    assert.equal(
      err.message,
      `${path} already exists; pass \`continue: true\` to finish it (nothing is fetched if it is complete), \`overwrite: true\` to replace it, or \`output\` to choose another name`,
    );
    assert.equal(
      err.cliMessage,
      `${path} already exists; pass --continue to finish it (nothing is fetched if it is complete), --overwrite to replace it, or -o to choose another name`,
    );
    assert.deepEqual(await readFile(path), precious);
    assert.deepEqual(await list(dir), ['data.bin']);
    assert.deepEqual(gets(server), [], 'no GET was sent');

    // The same with -o.
    const out = join(dir, 'named.out');
    await writeFile(out, precious);
    const err2 = await failure(download(server.url('/data.bin'), { output: out }));
    assert.equal(err2.code, 'EEXIST');
    assert.deepEqual(await readFile(out), precious);
  });

  it('replaces an existing file with overwrite: true', T, async (t) => {
    const server = await serve(t, { '/data.bin': { size: 100_000 } });
    const dir = await tempDir(t);
    const path = join(dir, 'data.bin');
    await writeFile(path, 'old contents that are longer or shorter\n'.repeat(5000));
    const { result } = await fetchFile(server, '/data.bin', { dir, overwrite: true });
    assert.equal(result.path, path);
    assert.equal(await sha256File(path), server.sha256('/data.bin'));
    assert.deepEqual(await list(dir), ['data.bin']);
  });

  it('writes to output relative to dir', T, async (t) => {
    const server = await serve(t, { '/data.bin': { size: 5000 } });
    const root = await tempDir(t);
    const dir = join(root, 'new-dir');
    const { result } = await fetchFile(server, '/data.bin', { dir, output: 'name.bin' });
    assert.equal(result.path, join(dir, 'name.bin'));
    assert.equal(await sha256File(result.path), server.sha256('/data.bin'));
    assert.deepEqual(await list(dir), ['name.bin']);
  });

  it('refuses a symlink at the path, even a broken one, before fetching a byte', T, async (t) => {
    const server = await serve(t, { '/data.bin': { size: 5000 } });
    const dir = await tempDir(t);
    await symlink(join(dir, 'nowhere'), join(dir, 'data.bin'));
    const plan = await inspect(server.url('/data.bin'), { dir });
    assert.equal(plan.exists, true, '--dry-run agrees');
    const err = await failure(download(server.url('/data.bin'), { dir }));
    assert.ok(err instanceof FileExistsError, err.stack);
    assert.equal((await lstat(join(dir, 'data.bin'))).isSymbolicLink(), true);
    assert.deepEqual(await list(dir), ['data.bin']);
    assert.deepEqual(gets(server), [], 'no GET was sent');
  });

  it('creates dir and its parents when missing, for one file and for a batch', T, async (t) => {
    const server = await serve(t, { '/a.bin': { size: 5000 }, '/b.bin': { size: 70_000 } });
    const root = await tempDir(t);
    const dir = join(root, 'x', 'y');
    const { result } = await fetchFile(server, '/a.bin', { dir });
    assert.equal(await sha256File(result.path), server.sha256('/a.bin'));
    const batchDir = join(root, 'p', 'q');
    const results = await downloadMany([server.url('/a.bin'), server.url('/b.bin')], { dir: batchDir, jobs: 2 });
    assert.deepEqual(results.map((r) => r.ok), [true, true]);
    assert.deepEqual(await list(batchDir), ['a.bin', 'b.bin']);
    assert.equal(await sha256File(join(batchDir, 'b.bin')), server.sha256('/b.bin'));
  });

  it('fails with EFILE when dir is a file, and leaves the file alone', T, async (t) => {
    const server = await serve(t, { '/data.bin': { size: 5000 } });
    const root = await tempDir(t);
    const dir = join(root, 'plain');
    await writeFile(dir, 'not a directory');
    const err = await failure(download(server.url('/data.bin'), { dir }));
    assert.equal(err.code, 'EFILE');
    assert.equal(err.exitCode, 6);
    // The library names its option, the CLI its flag.
    assert.equal(err.message, `cannot use ${dir} as the directory: a file is in the way; choose another with \`dir\``);
    assert.equal(err.cliMessage, `cannot use ${dir} as the directory: a file is in the way; choose another with -d`);
    assert.equal(await readFile(dir, 'utf8'), 'not a directory');
    assert.deepEqual(gets(server), []);
  });

  it('fails with EFILE when output names a directory that does not exist (it is not created)', T, async (t) => {
    const server = await serve(t, { '/data.bin': { size: 5000 } });
    const dir = await tempDir(t);
    const err = await failure(download(server.url('/data.bin'), { dir, output: 'sub/name.bin' }));
    assert.equal(err.code, 'EFILE');
    assert.equal(err.exitCode, 6);
    assert.match(err.message, /does not exist/);
    assert.deepEqual(await list(dir), []);
    assert.deepEqual(gets(server), []);
  });
});

describe('download: abort and resume', () => {
  it('aborts mid-download keeping .part + control file, then resumes byte-exact', T, async (t) => {
    const size = 2 * MiB + 3;
    const path = '/resume.bin';
    // 512 KiB/s per response: each of the 4 ranges takes about a second.
    const server = await serve(t, { [path]: { size, throttle: 512 * KiB } });
    const dir = await tempDir(t);
    const controller = new AbortController();
    let abortedAt = -1;
    const options: DownloadOptions = { dir, connections: 4, minRangeSize: 64 * KiB, progressInterval: 10 };
    const err = await failure(
      download(server.url(path), {
        ...options,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.downloaded > 0 && abortedAt < 0) {
            abortedAt = p.downloaded;
            controller.abort();
          }
        },
      }),
    );
    assert.ok(err instanceof AbortError, err.stack);
    assert.equal(err.code, 'EABORTED');
    assert.equal(err.exitCode, 130);
    assert.ok(abortedAt > 0);
    assert.ok(await missing(join(dir, 'resume.bin')), 'nothing at the final path');
    assert.deepEqual(await list(dir), ['resume.bin.part', 'resume.bin.part.json']);

    // The control file claims only bytes that are really in the .part file.
    const control = JSON.parse(await readFile(join(dir, 'resume.bin.part.json'), 'utf8')) as {
      size: number;
      url: string;
      written: Array<[number, number]>;
    };
    assert.equal(control.size, size);
    assert.equal(control.url, server.url(path));
    const claimed = control.written.reduce((n, [a, b]) => n + b - a, 0);
    assert.ok(claimed >= abortedAt, `control claims ${claimed} bytes, progress had ${abortedAt}`);
    assert.ok(claimed < size, 'the abort came before the end');
    const part = await readFile(join(dir, 'resume.bin.part'));
    const content = server.content(path);
    for (const [a, b] of control.written) {
      assert.ok(part.subarray(a, b).equals(content.subarray(a, b)), `bytes ${a}-${b} of the .part are wrong`);
    }

    // Run again, unthrottled: only the missing bytes are fetched.
    server.set(path, { size });
    server.resetStats();
    const { result, events } = await fetchFile(server, path, options);
    assert.equal(result.resumed, claimed);
    assert.equal(result.size, size);
    assert.equal(await sha256File(result.path), server.sha256(path));
    assert.deepEqual(await list(dir), ['resume.bin']);
    const resume = events.find((e) => e.type === 'resume');
    assert.deepEqual(resume, { type: 'resume', have: claimed, left: size - claimed });
    for (const r of gets(server)) {
      const { start, end } = parseRange(r.headers.range);
      for (const [a, b] of control.written) {
        assert.ok(end <= a || start >= b, `range ${start}-${end} fetched resumed bytes ${a}-${b} again`);
      }
    }
  });

  it('rejects with EABORTED at once for a signal aborted before the start', T, async (t) => {
    const server = await serve(t, { '/x.bin': { size: 1000 } });
    const dir = await tempDir(t);
    const err = await failure(download(server.url('/x.bin'), { dir, signal: AbortSignal.abort() }));
    assert.equal(err.code, 'EABORTED');
    assert.equal(server.stats.requests, 0);
    assert.deepEqual(await list(dir), []);
  });
});

describe('download: options', () => {
  it('rejects bad options with EUSAGE before any request', T, async (t) => {
    const server = await serve(t, { '/x.bin': { size: 10 } });
    const dir = await tempDir(t);
    const bad: Array<[string, DownloadOptions]> = [
      [server.url('/x.bin'), { dir, connections: 0 }],
      [server.url('/x.bin'), { dir, connections: 65 }],
      [server.url('/x.bin'), { dir, connections: 2, threads: 3 }],
      [server.url('/x.bin'), { dir, minRangeSize: 0 }],
      [server.url('/x.bin'), { dir, checksum: 'sha256=abc' }],
      [server.url('/x.bin'), { dir, headers: { Range: 'bytes=0-1' } }],
      [server.url('/x.bin'), { dir, output: '' }],
      [`ftp://127.0.0.1:${server.port}/x.bin`, { dir }],
    ];
    for (const [url, options] of bad) {
      const err = await failure(download(url, options));
      assert.ok(err instanceof UsageError, `${url} ${JSON.stringify(options)}: ${err.stack}`);
      assert.equal(err.exitCode, 2);
    }
    assert.equal(server.stats.requests, 0);
    assert.deepEqual(await list(dir), []);
  });
});
