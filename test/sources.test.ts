/**
 * Where the bytes come from: mirrors (`--mirror`), a final URL that stops working (the
 * original URL is probed again once), a whole-file answer longer than announced, and one
 * rate limit shared by a batch. Real servers on 127.0.0.1; sha256 of the output is the oracle.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { download, RateLimiter, RemoteChangedError, type DownloadEvent } from '../src/index.js';
import { sha256File } from './helpers/content.js';
import { listenLoopback } from './helpers/loopback.js';
import { serve, type FileSpec, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';
import { runCli } from './helpers/cli.js';

const T = { timeout: 60_000 };
const MiB = 1024 * 1024;

function rangeGets(s: TestServer): number {
  return s.stats.log.filter((r) => r.method === 'GET' && r.headers.range !== undefined && r.status === 206).length;
}

describe('mirrors', () => {
  it('spreads the ranges over the URL and its mirrors, byte-exact', T, async (t) => {
    const file: FileSpec = { size: 8 * MiB + 3, seed: 42, etag: '"same"' };
    const a = await serve(t, { '/f.bin': file });
    const b = await serve(t, { '/copy.bin': file });
    const out = join(await tempDir(t), 'f.bin');
    const result = await download(a.url('/f.bin'), { output: out, connections: 4, mirrors: [b.url('/copy.bin')] });
    assert.equal(await sha256File(out), a.sha256('/f.bin'));
    assert.equal(result.size, 8 * MiB + 3);
    assert.ok(rangeGets(a) >= 1, 'the URL served ranges');
    assert.ok(rangeGets(b) >= 1, 'the mirror served ranges');
  });

  it('drops a mirror that serves another size or ETag, with a warning, and finishes from the rest', T, async (t) => {
    const a = await serve(t, { '/f.bin': { size: 4 * MiB, seed: 7, etag: '"v1"' } });
    const b = await serve(t, {
      '/short.bin': { size: 4 * MiB - 1, seed: 7, etag: '"v1"' },
      '/other.bin': { size: 4 * MiB, seed: 8, etag: '"v2"' },
    });
    const warnings: string[] = [];
    const out = join(await tempDir(t), 'f.bin');
    await download(a.url('/f.bin'), {
      output: out,
      connections: 4,
      mirrors: [b.url('/short.bin'), b.url('/other.bin')],
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push(e.message);
      },
    });
    assert.equal(await sha256File(out), a.sha256('/f.bin'));
    assert.equal(rangeGets(b), 0, 'no range came from a dropped mirror');
    assert.equal(warnings.filter((w) => w.startsWith('mirror ') && w.includes('dropped')).length, 2, warnings.join('\n'));
  });

  it('drops a mirror that fails during the download and gives its ranges to the others', T, async (t) => {
    const file: FileSpec = { size: 6 * MiB, seed: 9, etag: '"same"' };
    const a = await serve(t, { '/f.bin': file });
    // The mirror probes fine, then answers 404 to every range request.
    const b = await serve(t, { '/m.bin': { ...file, faults: { failFirst: 1000, errorStatus: 404 } } });
    const warnings: string[] = [];
    const out = join(await tempDir(t), 'f.bin');
    await download(a.url('/f.bin'), {
      output: out,
      connections: 4,
      retries: 0,
      mirrors: [b.url('/m.bin')],
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push(e.message);
      },
    });
    assert.equal(await sha256File(out), a.sha256('/f.bin'));
    assert.ok(b.stats.log.some((r) => r.method === 'GET' && r.status === 404), 'the mirror was tried');
    assert.ok(
      warnings.some((w) => w.includes(b.url('/m.bin')) && w.includes('dropped for the rest of the download')),
      warnings.join('\n'),
    );
  });

  it('drops a mirror whose ranges say another size than its probe did, and finishes without starting over', T, async (t) => {
    const file: FileSpec = { size: 6 * MiB, seed: 9, etag: '"same"' };
    const a = await serve(t, { '/f.bin': file });
    // The mirror's HEAD gives the file's size; its ranges come from a file 1,000 bytes shorter.
    const b = await serve(t, { '/m.bin': { ...file, size: 6 * MiB - 1000, faults: { headSize: 6 * MiB } } });
    const events: DownloadEvent[] = [];
    const out = join(await tempDir(t), 'f.bin');
    await download(a.url('/f.bin'), { output: out, connections: 4, retries: 0, mirrors: [b.url('/m.bin')], onEvent: (e) => events.push(e) });
    assert.equal(await sha256File(out), a.sha256('/f.bin'));
    assert.ok(b.stats.log.some((r) => r.method === 'GET' && r.status === 206), 'the mirror was tried');
    const warnings = events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
    assert.ok(
      warnings.some((w) => w.includes(b.url('/m.bin')) && w.includes('dropped for the rest of the download') && /size/.test(w)),
      warnings.join('\n'),
    );
    assert.equal(events.filter((e) => e.type === 'probe').length, 1, 'probed once: no start-over');
  });
});

describe('a final URL that stops working', () => {
  for (const status of [302, 410]) {
    it(`probes the original URL again once when a range request gets ${status}, and resumes byte-exact`, T, async (t) => {
      // Each answer stops after 256 KiB, so the download keeps sending new range requests.
      const file: FileSpec = { size: 3 * MiB, seed: 5, etag: '"e"', throttle: 4 * MiB, faults: { rangeCap: 256 * 1024 } };
      const s = await serve(t, { '/orig': { size: 0, redirect: '/signed-1' }, '/signed-1': file, '/signed-2': file });
      const out = join(await tempDir(t), 'f.bin');
      const warnings: string[] = [];
      let switched = false;
      const result = await download(s.url('/orig'), {
        output: out,
        connections: 2,
        minRangeSize: 256 * 1024,
        retries: 0,
        onEvent: (e) => {
          if (e.type === 'warning') warnings.push(e.message);
          // Once bytes are on disk, the signed URL "expires" and the original points elsewhere.
          if (e.type === 'progress' && e.downloaded > 0 && !switched) {
            switched = true;
            s.set('/signed-1', status === 302 ? { size: 0, redirect: '/elsewhere' } : { size: 1, status });
            s.set('/orig', { size: 0, redirect: '/signed-2' });
          }
        },
      });
      assert.ok(switched, 'the URL was switched mid-download');
      assert.equal(await sha256File(out), s.sha256('/signed-2'));
      assert.equal(result.finalUrl, s.url('/signed-2'));
      assert.ok(result.resumed > 0, 'the bytes already written were kept');
      assert.ok(warnings.some((w) => w.includes('probing') && w.includes(s.url('/orig'))), warnings.join('\n'));
    });
  }
});

describe('a whole-file answer longer than announced', () => {
  it('fails clearly (ECHANGED) instead of saving a truncated file', T, async (t) => {
    // HEAD says 100 KiB; the GET streams 200 KiB without a length (chunked).
    const body = randomBytes(200 * 1024);
    const s = createServer((req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-length': 100 * 1024, etag: '"x"' }).end();
        return;
      }
      res.writeHead(200, { etag: '"x"' });
      res.end(body);
    });
    const { port, close } = await listenLoopback(s);
    t.after(close);
    const d = await tempDir(t);
    const err = await download(`http://127.0.0.1:${port}/f.bin`, { dir: d, restart: false, retries: 0 }).then(
      () => assert.fail('the download should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RemoteChangedError, String(err));
    assert.equal(err.exitCode, 7);
    assert.match(err.message, /more than the 102400 bytes it announced/);
    assert.ok(!(await readdir(d)).includes('f.bin'), 'nothing at the final path');
  });
});

describe('one rate limit for several downloads', () => {
  it('a RateLimiter passed as maxSpeed is shared: the waits of two takers add up', () => {
    const limiter = new RateLimiter(1024 * 1024);
    // A tenth of a second passes at once; after that each MiB costs a second, whoever takes it.
    const first = limiter.reserve(1024 * 1024);
    const second = new RateLimiter(limiter.buffer).reserve(1024 * 1024);
    assert.ok(first >= 850 && first <= 900, `first wait ${first}`);
    assert.ok(second >= 1850 && second <= 1900, `second wait ${second}`);
  });
});

describe('the command line', () => {
  it('--mirror (repeatable) spreads the ranges over the servers, byte-exact', T, async (t) => {
    const file: FileSpec = { size: 6 * MiB, seed: 11, etag: '"m"' };
    const a = await serve(t, { '/f.bin': file });
    const b = await serve(t, { '/f.bin': file });
    const c = await serve(t, { '/f.bin': file });
    const cwd = await tempDir(t);
    const r = await runCli(t, [a.url('/f.bin'), '-c', '6', '--mirror', b.url('/f.bin'), '--mirror', c.url('/f.bin')], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(cwd, 'f.bin')), a.sha256('/f.bin'));
    for (const s of [a, b, c]) assert.ok(rangeGets(s) >= 1, `${s.origin} served ranges`);
  });

  it('--max-speed holds the rate down (a lower bound on the time, which a slow machine cannot break)', T, async (t) => {
    // 1.5 MiB at 512 KiB/s, with the limiter's 0.1 s burst: at least 2.9 s however fast the machine.
    const s = await serve(t, { '/f.bin': { size: 1.5 * MiB } });
    const cwd = await tempDir(t);
    const started = performance.now();
    const r = await runCli(t, [s.url('/f.bin'), '-c', '3', '--min-range', '256K', '--max-speed', '512K'], { cwd });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(cwd, 'f.bin')), s.sha256('/f.bin'));
    assert.ok(seconds >= 2.9, `1.5 MiB at 512K took ${seconds.toFixed(2)} s`);
  });
});

describe('slow connections', () => {
  it('a connection far below the median for seconds hands the rest of its range to another, byte-exact', { timeout: 60_000 }, async (t) => {
    // Eight 4 MiB pieces at 2 MiB/s per connection (two seconds each), but the first answer
    // crawls at 64 KiB/s: the connection is judged over its pieces, not one piece.
    const s = await serve(t, { '/f.bin': { size: 32 * MiB, throttle: 2 * MiB, faults: { slowFirst: { count: 1, rate: 64 * 1024 } } } });
    const out = join(await tempDir(t), 'f.bin');
    const warnings: string[] = [];
    await download(s.url('/f.bin'), {
      output: out,
      connections: 4,
      minRangeSize: 4 * MiB,
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push(e.message);
      },
    });
    assert.equal(await sha256File(out), s.sha256('/f.bin'));
    assert.ok(warnings.some((w) => /^a connection ran at \d+ KiB\/s against a median of \d+ KiB\/s; the rest of its range goes to another connection$/.test(w)), warnings.join('\n'));
    const gets = s.stats.log.filter((r) => r.method === 'GET' && r.status === 206);
    const slow = gets[0]!;
    const [from, to] = /bytes=(\d+)-(\d+)/.exec(String(slow.headers.range))!.slice(1).map(Number) as [number, number];
    assert.ok(slow.bytes < (to - from + 1) / 4, `the slow answer delivered ${slow.bytes} of ${to - from + 1} bytes`);
    assert.ok(
      gets.slice(1).some((r) => {
        const start = Number(/bytes=(\d+)-/.exec(String(r.headers.range))?.[1]);
        return start > from && start <= to;
      }),
      'another request fetched the rest of the slow range',
    );
  });
});
