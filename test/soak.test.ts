/**
 * Soak: 64 MiB over 16 connections from a server that cuts 5% of its responses at a random
 * point and answers 503 now and then. The download must finish byte-exact.
 *
 * The fault RNG is seeded and its draws follow the order requests arrive in, so the faults
 * of the first 16 GETs (the 16 initial ranges, whatever their order) are fixed: seed 52 puts
 * two 503s and two cuts among them. Later ones depend on timing; all are survivable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download, type DownloadEvent } from '../src/index.js';
import { sha256File } from './helpers/content.js';
import { startServer } from './helpers/server.js';

const MiB = 1024 * 1024;

/** Bytes a GET asked for with `Range: bytes=a-b`. */
function requested(r: { headers: { range?: string | undefined } }): number {
  const m = /^bytes=(\d+)-(\d+)$/.exec(r.headers.range ?? '');
  return m ? Number(m[2]) - Number(m[1]) + 1 : Number.POSITIVE_INFINITY;
}
const SIZE = 64 * MiB;

test('64 MiB over 16 connections through 5% dropped connections and random 503s: byte-exact', async (t) => {
  const srv = await startServer({
    '/soak.bin': { size: SIZE, seed: 20240601, faults: { seed: 52, dropRate: 0.05, errorRate: 0.02 } },
  });
  t.after(() => srv.close());
  const dir = await mkdtemp(join(tmpdir(), 'rangeget-soak-'));
  t.after(() => rm(dir, { recursive: true, force: true }));

  const events: DownloadEvent[] = [];
  let last = 0;
  let beyond = 0;
  const result = await download(srv.url('/soak.bin'), {
    dir,
    connections: 16,
    retryWait: 10,
    timeout: 10_000,
    onEvent: (e) => events.push(e),
    onProgress: (p) => {
      if (p.downloaded > SIZE) beyond = p.downloaded;
      last = p.downloaded;
    },
  });

  assert.equal(result.size, SIZE);
  assert.equal(result.connections, 16);
  assert.equal(last, SIZE);
  assert.equal(beyond, 0, 'progress never beyond the size');
  assert.equal(await sha256File(result.path), srv.sha256('/soak.bin'));
  assert.deepEqual(await readdir(dir), ['soak.bin'], 'no .part or control file left');

  const gets = srv.stats.log.filter((r) => r.method === 'GET');
  const errors = gets.filter((r) => r.status === 503).length;
  const retries = events.filter((e) => e.type === 'retry');
  const short = gets.filter((r) => r.status === 206 && r.bytes < requested(r)).length;
  t.diagnostic(`${gets.length} GETs, ${errors} answered 503, ${short} ended early (cut, or shortened by work stealing), ${retries.length} retries`);
  assert.ok(errors >= 2, `at least the two seeded 503s (${errors})`);
  assert.ok(short >= 2, `at least the two seeded cuts (${short})`);
  // Every 503 is retried; a cut is too, unless work stealing had already taken the bytes past it.
  assert.ok(retries.length >= errors + 1, `${retries.length} retries for ${errors} 503s and ${short} short responses`);
  // Every range request was a Range request: nothing was fetched twice from the start.
  assert.ok(gets.every((r) => typeof r.headers.range === 'string'), 'ranges only');
  assert.ok(srv.stats.bytesSent < SIZE * 1.5, `re-fetched little (${srv.stats.bytesSent} bytes sent)`);
});
