/**
 * Network choices as curl and wget users type them: --connect-timeout apart from the stall
 * --timeout, -4 / -6, --bind (the address the server sees), and --limit-rate as --max-speed.
 * Against real loopback servers; the oracle is the SHA-256 of the output.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RangegetError } from '../src/index.js';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { toDownloadOptions } from '../src/cli/flags.js';
import { runMain } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { serve } from './helpers/server.js';
import { list, tempDir } from './helpers/tmp.js';
import type { AfterContext } from './helpers/tmp.js';

const KiB = 1024;
const T = { timeout: 40_000 };
const base = { resume: true, restart: true };

/** A TCP server on 127.0.0.1 that accepts connections and never says a word. */
async function silent(t: AfterContext): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as { port: number }).port;
}

describe('--connect-timeout', () => {
  it('gives up on a TLS handshake that never comes after the connect timeout, not the stall timeout (exit 4)', T, async (t) => {
    const port = await silent(t);
    const dir = await tempDir(t);
    const started = Date.now();
    const r = await runMain([`https://127.0.0.1:${port}/x.bin`, '-d', dir, '--connect-timeout', '300ms', '--timeout', '60', '--retries', '0']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /timeout/i);
    assert.ok(Date.now() - started < 20_000, 'well before the 60 s --timeout');
    assert.deepEqual(await list(dir), []);
    assert.equal(toDownloadOptions({ ...base, connectTimeout: '2' }).connectTimeout, 2000);
  });
});

describe('-4, -6, --bind', () => {
  it('-4 reaches the IPv4 server by name; -6 finds no IPv6 address for it (exit 4); a literal of the other family is a usage error', T, async (t) => {
    const server = await serve(t, { '/v4.bin': { size: 30 * KiB } });
    const dir = await tempDir(t);
    const url = `http://localhost:${server.port}/v4.bin`;
    const four = await runMain([url, '-d', dir, '-4']);
    assert.equal(four.code, 0, four.stderr);
    assert.equal(await sha256File(join(dir, 'v4.bin')), server.sha256('/v4.bin'));

    server.resetStats();
    const six = await runMain([url, '-d', join(dir, 'six'), '-6', '--retries', '0']);
    assert.equal(six.code, 4, six.stderr);
    assert.equal(server.stats.requests, 0);

    const literal = await runMain(['http://[::1]:1/a', '-d', dir, '-4']);
    assert.equal(literal.code, 2);
    assert.match(literal.stderr, /-4: \[::1\]:1 is an IPv6 address/);
    assert.equal((await runMain([url, '-4', '-6'])).code, 2);
  });

  it('--bind connects from the address given, as the server sees it; a name is a usage error', T, async (t) => {
    const server = await serve(t, { '/b.bin': { size: 200 * KiB } });
    const dir = await tempDir(t);
    const r = await runMain([server.url('/b.bin'), '-d', dir, '--bind', '127.0.0.2', '-c', '4', '--min-range', '16K']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'b.bin')), server.sha256('/b.bin'));
    assert.ok(server.stats.log.length > 1);
    assert.deepEqual([...new Set(server.stats.log.map((rec) => rec.remoteAddress))], ['127.0.0.2']);

    const bad = await runMain([server.url('/b.bin'), '-d', dir, '--bind', 'eth0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--bind: 'eth0' is not an IP address/);
  });
});

describe('--limit-rate', () => {
  it('is --max-speed under curl and wget\'s name; both at once is a usage error', T, async (t) => {
    assert.equal(toDownloadOptions({ ...base, limitRate: '500K' }).maxSpeed, 500 * KiB);
    // The CLI prints cliMessage: the flags' words.
    assert.throws(() => toDownloadOptions({ ...base, limitRate: '1M', maxSpeed: '1M' }), (err: RangegetError) => /^--limit-rate is --max-speed: give one$/.test(err.cliMessage));
    const server = await serve(t, { '/r.bin': { size: 64 * KiB } });
    const dir = await tempDir(t);
    const r = await runMain([server.url('/r.bin'), '-d', dir, '--limit-rate', '10M']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'r.bin')), server.sha256('/r.bin'));
  });
});
