/**
 * SOCKS5 proxies against real SOCKS servers: the project's own (test/helpers/socks-server.ts,
 * always) and Debian's microsocks (when installed): `--proxy socks5://` (names resolved here)
 * and `socks5h://` (resolved by the proxy), user and password, `ALL_PROXY` minus `NO_PROXY`,
 * on every connection a download opens (the probe and each range). Proxied connections come
 * from 127.0.0.2, so the test server tells them from direct ones.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bypassesProxy } from '../src/http/no-proxy.js';
import { runCli, runMain } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { CERT, serverTls } from './helpers/fixtures.js';
import { serve, type TestServer } from './helpers/server.js';
import { haveMicrosocks, startMicrosocks } from './helpers/socks.js';
import { PROXIED_FROM, serveSocks } from './helpers/socks-server.js';
import { tempDir, type AfterContext } from './helpers/tmp.js';

const KiB = 1024;
const T = { timeout: 40_000 };
const ARGS = ['-c', '4', '--min-range', '16K', '--retries', '0'];
const from = (server: TestServer): string[] => [...new Set(server.stats.log.map((r) => r.remoteAddress))];

/** socks5h and socks5 through the proxy at `port`, then -6: who resolves the name. */
async function bothSchemes(t: AfterContext, port: number): Promise<TestServer> {
  const server = await serve(t, { '/s.bin': { size: 300 * KiB } });
  const dir = await tempDir(t);
  const url = `http://localhost:${server.port}/s.bin`;
  for (const scheme of ['socks5h', 'socks5']) {
    server.resetStats();
    const r = await runMain([url, '-d', join(dir, scheme), '--proxy', `${scheme}://127.0.0.1:${port}`, ...ARGS]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, scheme, 's.bin')), server.sha256('/s.bin'));
    assert.ok(server.stats.log.filter((rec) => rec.status === 206).length > 1, 'several ranges');
    assert.deepEqual(from(server), [PROXIED_FROM], `${scheme}: every request through the proxy`);
  }

  // localhost has no IPv6 address here: resolved here with -6 it fails; the proxy resolves it anyway.
  server.resetStats();
  const local = await runMain([url, '-d', join(dir, 'six'), '-6', '--proxy', `socks5://127.0.0.1:${port}`, ...ARGS]);
  assert.equal(local.code, 4, local.stderr);
  assert.equal(server.stats.requests, 0);
  const remote = await runMain([url, '-d', join(dir, 'sixh'), '-6', '--proxy', `socks5h://127.0.0.1:${port}`, ...ARGS]);
  assert.equal(remote.code, 0, remote.stderr);
  assert.deepEqual(from(server), [PROXIED_FROM]);
  return server;
}

describe('NO_PROXY matching (pure, src/http/no-proxy.ts)', () => {
  it('names match themselves and their subdomains, ports only their port, * everything', () => {
    const u = (s: string): URL => new URL(s);
    assert.equal(bypassesProxy(u('http://a.example.org/'), ''), false);
    assert.equal(bypassesProxy(u('http://a.example.org/'), '*'), true);
    assert.equal(bypassesProxy(u('http://a.example.org/'), 'example.org'), true);
    assert.equal(bypassesProxy(u('http://a.example.org/'), '.example.org'), true);
    assert.equal(bypassesProxy(u('http://a.example.org/'), '*.example.org'), true);
    assert.equal(bypassesProxy(u('http://badexample.org/'), 'example.org'), false);
    assert.equal(bypassesProxy(u('http://EXAMPLE.org:8080/'), 'x.net example.org:8080'), true);
    assert.equal(bypassesProxy(u('http://example.org/'), 'example.org:8080'), false);
    assert.equal(bypassesProxy(u('https://example.org/'), 'example.org:443'), true);
    assert.equal(bypassesProxy(u('http://127.0.0.1:9/'), '127.0.0.1'), true);
    assert.equal(bypassesProxy(u('http://[::1]:9/'), '[::1]'), true);
  });
});

describe('SOCKS5 proxies', () => {
  it('--proxy socks5h:// and socks5:// carry the probe and every range; -6 shows who resolves the name', T, async (t) => {
    const socks = await serveSocks(t);
    await bothSchemes(t, socks.port);
    // socks5h:// sends the name, socks5:// the address resolved here.
    const types = new Set(socks.stats.log.map((r) => `${r.type} ${r.host}`));
    assert.deepEqual([...types].sort(), ['domain localhost', 'ipv4 127.0.0.1']);
    assert.ok(socks.stats.log.every((r) => r.reply === 0));
  });

  it('the same against microsocks, when installed', { ...T, skip: haveMicrosocks() ? false : 'microsocks is not installed (apt-get install microsocks)' }, async (t) => {
    await bothSchemes(t, await startMicrosocks(t));
  });

  it('every connection the download opens goes through the proxy; user and password are sent, a wrong one is refused', T, async (t) => {
    const socks = await serveSocks(t, { auth: { user: 'ann', password: 'p@ss:w' } });
    const server = await serve(t, { '/u.bin': { size: 400 * KiB } });
    const dir = await tempDir(t);
    const proxy = `socks5://${encodeURIComponent('ann')}:${encodeURIComponent('p@ss:w')}@127.0.0.1:${socks.port}`;
    const r = await runMain([server.url('/u.bin'), '-d', dir, '--proxy', proxy, ...ARGS]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'u.bin')), server.sha256('/u.bin'));
    assert.deepEqual(from(server), [PROXIED_FROM]);
    assert.ok(server.stats.connections >= 2, `${server.stats.connections} connections`);
    assert.equal(socks.stats.connections, server.stats.connections, 'one proxy connection per connection to the server');
    assert.ok(socks.stats.log.every((rec) => rec.user === 'ann' && rec.type === 'ipv4' && rec.port === server.port));

    server.resetStats();
    const wrong = await runMain([server.url('/u.bin'), '-d', join(dir, 'no'), '--proxy', `socks5://ann:nope@127.0.0.1:${socks.port}`, ...ARGS]);
    assert.equal(wrong.code, 4, wrong.stderr);
    assert.match(wrong.stderr, new RegExp(`SOCKS proxy 127\\.0\\.0\\.1:${socks.port}`));
    assert.doesNotMatch(wrong.stderr, /nope/);
    assert.equal(server.stats.requests, 0);
  });

  it('https through the tunnel: TLS with the name of the host, and --ca-cert, over the SOCKS connection', T, async (t) => {
    const socks = await serveSocks(t);
    const tls = serverTls();
    const server = await serve(t, { '/t.bin': { size: 200 * KiB } }, { tls });
    const dir = await tempDir(t);
    const url = `https://localhost:${server.port}/t.bin`;
    const r = await runMain([url, '-d', dir, '--proxy', `socks5h://127.0.0.1:${socks.port}`, '--ca-cert', CERT, ...ARGS]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 't.bin')), server.sha256('/t.bin'));
    assert.deepEqual(from(server), [PROXIED_FROM]);
    const untrusted = await runMain([url, '-d', join(dir, 'no'), '--proxy', `socks5h://127.0.0.1:${socks.port}`, ...ARGS]);
    assert.equal(untrusted.code, 4, 'the certificate is still checked through the tunnel');
    assert.match(untrusted.stderr, /certificate/);
  });

  it('ALL_PROXY=socks5h:// applies without --proxy; a proxy that is down is a network error (exit 4)', T, async (t) => {
    const socks = await serveSocks(t);
    const server = await serve(t, { '/a.bin': { size: 100 * KiB } });
    const dir = await tempDir(t);
    const r = await runCli(t, [server.url('/a.bin'), ...ARGS], { cwd: dir, env: { ALL_PROXY: `socks5h://127.0.0.1:${socks.port}` } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'a.bin')), server.sha256('/a.bin'));
    assert.deepEqual(from(server), [PROXIED_FROM]);
    assert.equal(socks.stats.connections, server.stats.connections);

    server.resetStats();
    const down = await runMain([server.url('/a.bin'), '-d', join(dir, 'down'), '--proxy', 'socks5://127.0.0.1:1', ...ARGS]);
    assert.equal(down.code, 4, down.stderr);
    assert.match(down.stderr, /SOCKS proxy 127\.0\.0\.1:1/);
    assert.equal(server.stats.requests, 0);
    assert.equal((await runMain([server.url('/a.bin'), '--proxy', 'socks4://127.0.0.1:1'])).code, 2);
  });

  it('NO_PROXY applies to ALL_PROXY (socks5h:// and http://), as curl does: a named host is reached directly, others through the proxy', T, async (t) => {
    const socks = await serveSocks(t);
    const server = await serve(t, { '/n.bin': { size: 200 * KiB } });
    const dir = await tempDir(t);
    const all = `socks5h://127.0.0.1:${socks.port}`;
    const run = (name: string, env: Record<string, string>) =>
      runCli(t, [`http://localhost:${server.port}/n.bin`, '-d', join(dir, name), ...ARGS], { cwd: dir, env });
    const cases: Array<[string, Record<string, string>, 'direct' | 'proxied']> = [
      ['named', { ALL_PROXY: all, NO_PROXY: 'example.org, localhost' }, 'direct'],
      ['lower', { all_proxy: all, no_proxy: '.localhost' }, 'direct'],
      ['port', { ALL_PROXY: all, NO_PROXY: `localhost:${server.port}` }, 'direct'],
      ['star', { ALL_PROXY: all, NO_PROXY: '*' }, 'direct'],
      ['other', { ALL_PROXY: all, NO_PROXY: 'example.org,localhost:1' }, 'proxied'],
      // An HTTP proxy in ALL_PROXY: NO_PROXY too (the proxy is down: reaching it would fail).
      ['http', { ALL_PROXY: 'http://127.0.0.1:1', NO_PROXY: 'localhost' }, 'direct'],
    ];
    for (const [name, env, way] of cases) {
      server.resetStats();
      socks.resetStats();
      const r = await run(name, env);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.equal(await sha256File(join(dir, name, 'n.bin')), server.sha256('/n.bin'), name);
      assert.deepEqual(from(server), [way === 'direct' ? '127.0.0.1' : PROXIED_FROM], name);
      assert.equal(socks.stats.connections, way === 'direct' ? 0 : server.stats.connections, name);
    }
  });
});
