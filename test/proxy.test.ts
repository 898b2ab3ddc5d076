/**
 * Proxies: `--proxy URL`, and HTTP_PROXY / NO_PROXY in a child process, through the loopback
 * forward proxy of helpers/proxy.ts. undici's ProxyAgent tunnels plain http targets with
 * CONNECT by default, so that is what rangeget's traffic looks like to the proxy.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { runCli, runMain } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { startProxy, type ProxyOptions, type TestProxy } from './helpers/proxy.js';
import { serve } from './helpers/server.js';
import { list, tempDir } from './helpers/tmp.js';

const KiB = 1024;
const T = { timeout: 40_000 };

async function proxyFor(t: TestContext, options?: ProxyOptions): Promise<TestProxy> {
  const proxy = await startProxy(options);
  t.after(() => proxy.close());
  return proxy;
}

/** A raw request to the proxy with an absolute-URI target, as a plain-HTTP proxy client sends it. */
function viaProxy(proxy: TestProxy, method: string, target: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method, path: target, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the test proxy', () => {
  it('forwards absolute-URI GET and HEAD, tunnels CONNECT, and relays only to 127.0.0.1', T, async (t) => {
    const server = await serve(t, { '/f.bin': { size: 100 * KiB } });
    const proxy = await proxyFor(t);

    const got = await viaProxy(proxy, 'GET', server.url('/f.bin'));
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, server.content('/f.bin'));
    const head = await viaProxy(proxy, 'HEAD', server.url('/f.bin'));
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(100 * KiB));
    assert.equal(proxy.stats.forwarded, 2);

    // undici's own plain-HTTP mode (no tunnel) goes through the same path.
    const plain = new ProxyAgent({ uri: proxy.url, proxyTunnel: false });
    t.after(() => plain.close());
    const res = await request(server.url('/f.bin'), { dispatcher: plain, headers: { range: 'bytes=10-19' } });
    assert.equal(res.statusCode, 206);
    assert.deepEqual(Buffer.from(await res.body.arrayBuffer()), server.content('/f.bin').subarray(10, 20));
    assert.equal(proxy.stats.forwarded, 3);
    assert.equal(proxy.stats.tunnels, 0);

    // Its default: a CONNECT tunnel, even for an http:// target.
    const tunnel = new ProxyAgent({ uri: proxy.url });
    t.after(() => tunnel.close());
    const res2 = await request(server.url('/f.bin'), { dispatcher: tunnel });
    assert.equal(res2.statusCode, 200);
    assert.deepEqual(Buffer.from(await res2.body.arrayBuffer()), server.content('/f.bin'));
    assert.equal(proxy.stats.tunnels, 1);
    assert.equal(proxy.stats.log.at(-1)?.target, `127.0.0.1:${server.port}`);

    // Anything but 127.0.0.1 is refused without a connection attempt.
    const refused = await viaProxy(proxy, 'GET', 'http://example.invalid/x');
    assert.equal(refused.status, 403);
    assert.equal(proxy.stats.refused, 1);
    assert.equal(proxy.relayed(), 4);
    assert.equal(server.stats.requests, 4);
  });
});

describe('rangeget through a proxy', () => {
  it('--proxy: several connections, each through the proxy, byte-exact; proxy credentials go to the proxy only', T, async (t) => {
    const server = await serve(t, { '/big.bin': { size: 512 * KiB } });
    const proxy = await proxyFor(t);
    const dir = await tempDir(t);
    const proxyUrl = `http://puser:ppass@127.0.0.1:${proxy.port}`;
    const r = await runMain([server.url('/big.bin'), '-d', dir, '-c', '4', '--min-range', '64K', '--proxy', proxyUrl]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'big.bin')), server.sha256('/big.bin'));
    // Plain http is forwarded, not tunnelled: the probe's HEAD and one GET per range.
    assert.equal(proxy.stats.tunnels, 0);
    assert.ok(proxy.stats.forwarded >= 5, `forwarded: ${proxy.stats.forwarded}`);
    assert.equal(proxy.stats.forwarded, proxy.relayed());
    for (const rec of proxy.stats.log) {
      assert.equal(rec.target, server.url('/big.bin'));
      assert.equal(rec.proxyAuthorization, `Basic ${Buffer.from('puser:ppass').toString('base64')}`);
    }
    const ranged = server.stats.log.filter((rec) => rec.method === 'GET' && rec.status === 206);
    assert.ok(ranged.length >= 4, `range GETs: ${ranged.length}`);
    assert.ok(server.stats.log.every((rec) => rec.headers['proxy-authorization'] === undefined), 'the origin never sees proxy credentials');
    assert.doesNotMatch(r.stderr, /ppass/);
  });

  it('HTTP_PROXY in the environment: through the proxy; with NO_PROXY=127.0.0.1: direct', T, async (t) => {
    const server = await serve(t, { '/env.bin': { size: 200 * KiB } });
    const proxy = await proxyFor(t);
    const dir = await tempDir(t);

    const through = await runCli(t, [server.url('/env.bin'), '-d', join(dir, 'via'), '-c', '2', '--min-range', '64K'], { cwd: dir, env: { HTTP_PROXY: proxy.url } });
    assert.equal(through.code, 0, through.stderr);
    assert.equal(await sha256File(join(dir, 'via', 'env.bin')), server.sha256('/env.bin'));
    assert.ok(proxy.relayed() >= 2, `relayed: ${proxy.relayed()}`);

    proxy.resetStats();
    server.resetStats();
    const direct = await runCli(t, [server.url('/env.bin'), '-d', join(dir, 'direct'), '-c', '2', '--min-range', '64K'], {
      cwd: dir,
      env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' },
    });
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(await sha256File(join(dir, 'direct', 'env.bin')), server.sha256('/env.bin'));
    assert.equal(proxy.relayed(), 0, 'nothing through the proxy');
    assert.equal(proxy.stats.log.length, 0);
    assert.ok(server.stats.requests >= 2, 'the server was reached directly');
    assert.deepEqual(await list(dir), ['direct', 'via']);
  });

  it(
    'a proxy that refuses CONNECT to port 80-style targets (squid default) still relays plain http',
    T,
    async (t) => {
      const server = await serve(t, { '/f.bin': { size: 64 * KiB } });
      const squid = await proxyFor(t, { connect: false });
      const dir = await tempDir(t);
      const r = await runMain([server.url('/f.bin'), '-d', dir, '-c', '1', '--retries', '0', '--proxy', squid.url]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await sha256File(join(dir, 'f.bin')), server.sha256('/f.bin'));
      assert.ok(squid.stats.forwarded > 0);
    },
  );
});
