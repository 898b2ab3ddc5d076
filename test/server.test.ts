import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { contentOf, fill, sha256File, sha256Of } from './helpers/content.js';
import { serve, startServer } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<Got> {
  const res = await request(url, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('content is deterministic, position-dependent and seed-dependent', async (t) => {
  const a = Buffer.alloc(1000);
  const b = Buffer.alloc(1000);
  fill(42, 12345, a);
  fill(42, 12345, b);
  assert.deepEqual(a, b);
  fill(43, 12345, b);
  assert.notDeepEqual(a, b);
  fill(42, 12346, b);
  assert.notDeepEqual(a, b);
  assert.deepEqual(a.subarray(1), b.subarray(0, 999)); // same bytes, one position later
  // Any unaligned slice equals the same slice of the whole content.
  const whole = contentOf(7, 200_000);
  for (const [off, len] of [[0, 1], [1, 3], [3, 65_541], [131_071, 68_929], [199_999, 1]] as const) {
    const part = Buffer.alloc(len);
    fill(7, off, part);
    assert.deepEqual(part, whole.subarray(off, off + len), `slice ${off}+${len}`);
  }
  // No short period: 64 KiB blocks all differ.
  const blocks = new Set<string>();
  for (let i = 0; i < 3; i++) blocks.add(whole.subarray(i * 65_536, (i + 1) * 65_536).toString('hex'));
  assert.equal(blocks.size, 3);
  // Offsets beyond 16 GiB work and agree with each other.
  const far = Buffer.alloc(64);
  fill(7, 2 ** 34 - 32, far);
  const farTail = Buffer.alloc(32);
  fill(7, 2 ** 34, farTail);
  assert.deepEqual(far.subarray(32), farTail);
  assert.equal(sha256Of(7, 200_000), sha(whole));
  assert.equal(sha256Of(7, 0), sha(Buffer.alloc(0)));

  const dir = await tempDir(t);
  await writeFile(join(dir, 'f'), whole);
  assert.equal(await sha256File(join(dir, 'f')), sha256Of(7, 200_000));
});

test('GET serves the full content with validators', async (t) => {
  const srv = await serve(t, { '/f.bin': { size: 300_000 } });
  assert.match(srv.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(srv.url('/x'), `${srv.origin}/x`);
  const r = await get(srv.url('/f.bin'));
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], '300000');
  assert.equal(r.headers['accept-ranges'], 'bytes');
  assert.match(String(r.headers['etag']), /^"\d+-300000"$/);
  assert.ok(Number.isFinite(Date.parse(String(r.headers['last-modified']))));
  assert.deepEqual(r.body, srv.content('/f.bin'));
  assert.equal(sha(r.body), srv.sha256('/f.bin'));
  // A query string still finds the file.
  assert.equal((await get(srv.url('/f.bin?x=1'))).status, 200);
  assert.equal((await get(srv.url('/nope'))).status, 404);
});

test('range requests return exactly the slice', async (t) => {
  const size = 100_000;
  const srv = await serve(t, { '/f': { size, seed: 9 } });
  const whole = contentOf(9, size);
  const cases: Array<[string, number, number]> = [
    ['bytes=0-0', 0, 0],
    ['bytes=10-19', 10, 19],
    ['bytes=99990-', 99_990, 99_999],
    ['bytes=-100', 99_900, 99_999],
    ['bytes=-200000', 0, 99_999],
    ['bytes=50000-999999', 50_000, 99_999],
    ['BYTES = 5-6', 5, 6],
  ];
  for (const [header, start, end] of cases) {
    const r = await get(srv.url('/f'), { Range: header });
    assert.equal(r.status, 206, header);
    assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${size}`, header);
    assert.equal(r.headers['content-length'], String(end - start + 1), header);
    assert.deepEqual(r.body, whole.subarray(start, end + 1), header);
  }
});

test('unsatisfiable and multi ranges answer 416; invalid ranges are ignored', async (t) => {
  const srv = await serve(t, { '/f': { size: 1000 }, '/empty': { size: 0 } });
  for (const header of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0', 'bytes=0-1,5-6']) {
    const r = await get(srv.url('/f'), { Range: header });
    assert.equal(r.status, 416, header);
    assert.equal(r.headers['content-range'], 'bytes */1000', header);
  }
  for (const header of ['bytes=0-', 'bytes=-5']) {
    const r = await get(srv.url('/empty'), { Range: header });
    assert.equal(r.status, 416, header);
    assert.equal(r.headers['content-range'], 'bytes */0');
  }
  const e = await get(srv.url('/empty'));
  assert.equal(e.status, 200);
  assert.equal(e.body.length, 0);
  for (const header of ['bytes=5-1', 'bytes=abc', 'items=0-5']) {
    const r = await get(srv.url('/f'), { Range: header });
    assert.equal(r.status, 200, header);
    assert.equal(r.body.length, 1000);
  }
});

test('ranges:false ignores Range; HEAD variants', async (t) => {
  const srv = await serve(t, {
    '/nr': { size: 5000, ranges: false },
    '/h': { size: 5000, contentDisposition: 'attachment; filename="a b.bin"', contentEncoding: 'gzip' },
    '/h405': { size: 10, head: false },
    '/h403': { size: 10, head: 403 },
    '/lie': { size: 10, faults: { headSize: 99 } },
    '/noval': { size: 10, etag: null, lastModified: null },
  });
  const nr = await get(srv.url('/nr'), { Range: 'bytes=0-9' });
  assert.equal(nr.status, 200);
  assert.equal(nr.headers['accept-ranges'], undefined);
  assert.equal(nr.headers['content-range'], undefined);
  assert.deepEqual(nr.body, srv.content('/nr'));

  const h = await get(srv.url('/h'), {}, 'HEAD');
  assert.equal(h.status, 200);
  assert.equal(h.headers['content-length'], '5000');
  assert.equal(h.headers['accept-ranges'], 'bytes');
  assert.equal(h.headers['content-disposition'], 'attachment; filename="a b.bin"');
  assert.equal(h.headers['content-encoding'], 'gzip');
  assert.equal(h.body.length, 0);
  const g = await get(srv.url('/h'));
  assert.equal(g.headers['content-encoding'], 'gzip');
  assert.deepEqual(g.body, srv.content('/h')); // bytes not transformed

  assert.equal((await get(srv.url('/h405'), {}, 'HEAD')).status, 405);
  assert.equal((await get(srv.url('/h405'))).status, 200);
  assert.equal((await get(srv.url('/h403'), {}, 'HEAD')).status, 403);
  assert.equal((await get(srv.url('/lie'), {}, 'HEAD')).headers['content-length'], '99');
  assert.equal((await get(srv.url('/lie'))).body.length, 10);
  const nv = await get(srv.url('/noval'), {}, 'HEAD');
  assert.equal(nv.headers['etag'], undefined);
  assert.equal(nv.headers['last-modified'], undefined);
});

test('length:false sends no Content-Length and no total', async (t) => {
  const srv = await serve(t, { '/c': { size: 200_000, length: false } });
  const r = await get(srv.url('/c'));
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], undefined);
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.deepEqual(r.body, srv.content('/c'));
  const p = await get(srv.url('/c'), { Range: 'bytes=100-199' });
  assert.equal(p.status, 206);
  assert.equal(p.headers['content-range'], 'bytes 100-199/*');
  assert.equal(p.headers['content-length'], undefined);
  assert.deepEqual(p.body, srv.content('/c').subarray(100, 200));
  const h = await get(srv.url('/c'), {}, 'HEAD');
  assert.equal(h.status, 200);
  assert.equal(h.headers['content-length'], undefined);
});

test('redirect and status', async (t) => {
  const srv = await serve(t, {
    '/r': { size: 1, redirect: '/f' },
    '/r301': { size: 1, redirect: 'http://127.0.0.1:1/x', redirectStatus: 301 },
    '/e': { size: 1, status: 500 },
    '/f': { size: 10 },
  });
  const r = await get(srv.url('/r'));
  assert.equal(r.status, 302);
  assert.equal(r.headers['location'], '/f');
  const r2 = await get(srv.url('/r301'), {}, 'HEAD');
  assert.equal(r2.status, 301);
  assert.equal(r2.headers['location'], 'http://127.0.0.1:1/x');
  assert.equal((await get(srv.url('/e'))).status, 500);
  assert.equal((await get(srv.url('/e'), {}, 'HEAD')).status, 500);
});

test('failFirst, errorRate and Retry-After', async (t) => {
  const srv = await serve(t, {
    '/ff': { size: 100, faults: { failFirst: 2, retryAfter: '1' } },
    '/err': { size: 100, faults: { errorRate: 1, errorStatus: 429, retryAfter: 'Wed, 21 Oct 2015 07:28:00 GMT' } },
  });
  for (let i = 0; i < 2; i++) {
    const r = await get(srv.url('/ff'));
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '1');
  }
  assert.equal((await get(srv.url('/ff'), {}, 'HEAD')).status, 200); // HEAD does not count
  const ok = await get(srv.url('/ff'));
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, srv.content('/ff'));
  const e = await get(srv.url('/err'));
  assert.equal(e.status, 429);
  assert.equal(e.headers['retry-after'], 'Wed, 21 Oct 2015 07:28:00 GMT');
  // Replacing the spec resets the fault schedule.
  srv.set('/ff', { size: 100, faults: { failFirst: 1 } });
  assert.equal((await get(srv.url('/ff'))).status, 503);
  assert.equal((await get(srv.url('/ff'))).status, 200);
});

test('If-Range, set() changing the file, ignoreRangeAfter, wrongContentRange', async (t) => {
  const srv = await serve(t, {
    '/f': { size: 1000, seed: 1 },
    '/nir': { size: 1000, ifRange: false },
    '/ig': { size: 1000, faults: { ignoreRangeAfter: 1 } },
    '/wcr': { size: 1000, faults: { wrongContentRange: 1 } },
  });
  const h = await get(srv.url('/f'), {}, 'HEAD');
  const etag = String(h.headers['etag']);
  const date = String(h.headers['last-modified']);
  assert.equal((await get(srv.url('/f'), { Range: 'bytes=10-', 'If-Range': etag })).status, 206);
  assert.equal((await get(srv.url('/f'), { Range: 'bytes=10-', 'If-Range': date })).status, 206);
  assert.equal((await get(srv.url('/f'), { Range: 'bytes=10-', 'If-Range': `W/${etag}` })).status, 200);
  const oldSha = srv.sha256('/f');
  srv.set('/f', { size: 1000, seed: 2 }); // the remote file changed
  assert.notEqual(srv.sha256('/f'), oldSha);
  const changed = await get(srv.url('/f'), { Range: 'bytes=10-', 'If-Range': etag });
  assert.equal(changed.status, 200);
  assert.deepEqual(changed.body, contentOf(2, 1000));
  assert.equal((await get(srv.url('/f'), { Range: 'bytes=10-', 'If-Range': date })).status, 200);
  assert.equal((await get(srv.url('/nir'), { Range: 'bytes=10-', 'If-Range': '"other"' })).status, 206);

  assert.equal((await get(srv.url('/ig'), { Range: 'bytes=10-19' })).status, 206);
  const ig = await get(srv.url('/ig'), { Range: 'bytes=10-19' });
  assert.equal(ig.status, 200);
  assert.equal(ig.body.length, 1000);

  const whole = srv.content('/wcr');
  const w1 = await get(srv.url('/wcr'), { Range: 'bytes=10-19' });
  assert.equal(w1.status, 206);
  assert.equal(w1.headers['content-range'], 'bytes 11-20/1000');
  assert.deepEqual(w1.body, whole.subarray(11, 21));
  const w2 = await get(srv.url('/wcr'), { Range: 'bytes=10-19' });
  assert.equal(w2.headers['content-range'], 'bytes 10-19/1000');
  assert.deepEqual(w2.body, whole.subarray(10, 20));
});

test('shortBody and dropRate cut the body; bytesSent counts what was written', async (t) => {
  const srv = await serve(t, {
    '/short': { size: 100_000, faults: { shortBody: 1 } },
    '/drop': { size: 100_000, faults: { dropRate: 1, seed: 5 } },
  });
  const res = await request(srv.url('/short'));
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-length'], '100000');
  await assert.rejects(res.body.arrayBuffer());
  assert.equal(srv.stats.bytesSent, 50_000);
  assert.equal(srv.stats.log.at(-1)?.bytes, 50_000);
  const ok = await get(srv.url('/short'));
  assert.deepEqual(ok.body, srv.content('/short'));

  srv.resetStats();
  const d = await request(srv.url('/drop'), { headers: { Range: 'bytes=1000-' } });
  assert.equal(d.statusCode, 206);
  await assert.rejects(d.body.arrayBuffer());
  assert.ok(srv.stats.bytesSent < 99_000);
  assert.equal(srv.stats.requests, 1);
});

test('stats count body bytes and log requests', async (t) => {
  const srv = await serve(t, { '/f': { size: 150_000 } });
  await get(srv.url('/f'));
  await get(srv.url('/f'), { Range: 'bytes=0-999' });
  await get(srv.url('/f'), {}, 'HEAD');
  await get(srv.url('/missing'));
  assert.equal(srv.stats.requests, 4);
  assert.equal(srv.stats.bytesSent, 151_000);
  assert.deepEqual(
    srv.stats.log.map((r) => [r.method, r.path, r.status, r.bytes]),
    [
      ['GET', '/f', 200, 150_000],
      ['GET', '/f', 206, 1000],
      ['HEAD', '/f', 200, 0],
      ['GET', '/missing', 404, 0],
    ],
  );
  assert.equal(srv.stats.log[1]?.headers['range'], 'bytes=0-999');
  srv.resetStats();
  assert.equal(srv.stats.requests, 0);
  assert.equal(srv.stats.bytesSent, 0);
  assert.equal(srv.stats.log.length, 0);
});

test('large files stream correctly', async (t) => {
  const size = 48 * 1024 * 1024 + 3;
  const srv = await serve(t, { '/big': { size } });
  const res = await request(srv.url('/big'));
  const hash = createHash('sha256');
  for await (const chunk of res.body) hash.update(chunk as Buffer);
  assert.equal(hash.digest('hex'), srv.sha256('/big'));
  assert.equal(srv.stats.bytesSent, size);
});

test('throttle limits the rate', async (t) => {
  const srv = await serve(t, { '/slow': { size: 64 * 1024, throttle: 256 * 1024 } });
  const t0 = Date.now();
  const r = await get(srv.url('/slow'));
  const ms = Date.now() - t0;
  assert.deepEqual(r.body, srv.content('/slow'));
  assert.ok(ms >= 200 && ms < 1500, `took ${ms} ms`);
});

test('close() resolves promptly with a stalled connection open', async () => {
  const srv = await startServer({ '/stall': { size: 1_000_000, faults: { stallAfter: 1000 } } });
  let closed = false;
  try {
    const res = await request(srv.url('/stall'));
    assert.equal(res.statusCode, 200);
    let got = 0;
    const it = res.body[Symbol.asyncIterator]();
    while (got < 1000) {
      const { value, done } = await it.next();
      assert.ok(!done);
      got += (value as Buffer).length;
    }
    assert.equal(got, 1000);
    // Nothing more arrives.
    const next = it.next();
    const raced = await Promise.race([next.then(() => 'data'), new Promise((r) => setTimeout(r, 150, 'silent'))]);
    assert.equal(raced, 'silent');
    const t0 = Date.now();
    await srv.close();
    closed = true;
    assert.ok(Date.now() - t0 < 500, 'close took too long');
    await assert.rejects(next);
  } finally {
    if (!closed) await srv.close();
  }
});

test('stallEvery stalls every GET; the first GET only by default', async (t) => {
  const srv = await serve(t, {
    '/once': { size: 10_000, faults: { stallAfter: 0 } },
    '/every': { size: 10_000, faults: { stallAfter: 10, stallEvery: true } },
  });
  const first = await request(srv.url('/once'));
  assert.equal(first.statusCode, 200);
  // Second request (new connection since the first is busy) is served fully.
  const second = await get(srv.url('/once'));
  assert.deepEqual(second.body, srv.content('/once'));
  const stalled = [first];
  for (let i = 0; i < 2; i++) {
    const r = await request(srv.url('/every'));
    assert.equal(r.statusCode, 200);
    stalled.push(r);
  }
  const pending = Promise.allSettled(stalled.map((r) => r.body.arrayBuffer()));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(srv.stats.bytesSent, 10_000 + 20);
  await srv.close();
  for (const p of await pending) assert.equal(p.status, 'rejected');
});
