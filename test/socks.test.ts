/**
 * SOCKS5 proxies against a real SOCKS server (microsocks): `--proxy socks5://` (names resolved
 * here) and `socks5h://` (resolved by the proxy), `ALL_PROXY`, on every connection a download
 * opens (the probe and each range). The proxy's outgoing connections come from 127.0.0.2, so
 * the test server tells proxied requests from direct ones.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, runMain } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { serve, type TestServer } from './helpers/server.js';
import { haveMicrosocks, PROXIED_FROM, startSocks } from './helpers/socks.js';
import { tempDir } from './helpers/tmp.js';

const KiB = 1024;
const T = { timeout: 40_000, skip: haveMicrosocks() ? false : 'microsocks is not installed (apt-get install microsocks)' };
const ARGS = ['-c', '4', '--min-range', '16K', '--retries', '0'];
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const from = (server: TestServer): string[] => [...new Set(server.stats.log.map((r) => r.remoteAddress))];

describe('SOCKS5 proxies', () => {
  it('--proxy socks5h:// and socks5:// carry the probe and every range; -6 shows who resolves the name', T, async (t) => {
    const socks = await startSocks(t);
    const server = await serve(t, { '/s.bin': { size: 300 * KiB } });
    const dir = await tempDir(t);
    const url = `http://localhost:${server.port}/s.bin`;
    for (const scheme of ['socks5h', 'socks5']) {
      server.resetStats();
      const r = await runMain([url, '-d', join(dir, scheme), '--proxy', `${scheme}://127.0.0.1:${socks}`, ...ARGS]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await sha256File(join(dir, scheme, 's.bin')), server.sha256('/s.bin'));
      assert.ok(server.stats.log.filter((rec) => rec.status === 206).length > 1, 'several ranges');
      assert.deepEqual(from(server), [PROXIED_FROM], `${scheme}: every request through the proxy`);
    }

    // localhost has no IPv6 address here: resolved here with -6 it fails; the proxy resolves it anyway.
    server.resetStats();
    const local = await runMain([url, '-d', join(dir, 'six'), '-6', '--proxy', `socks5://127.0.0.1:${socks}`, ...ARGS]);
    assert.equal(local.code, 4, local.stderr);
    assert.equal(server.stats.requests, 0);
    const remote = await runMain([url, '-d', join(dir, 'sixh'), '-6', '--proxy', `socks5h://127.0.0.1:${socks}`, ...ARGS]);
    assert.equal(remote.code, 0, remote.stderr);
    assert.deepEqual(from(server), [PROXIED_FROM]);
  });

  it('https through the tunnel: TLS with the name of the host, and --ca-cert, over the SOCKS connection', T, async (t) => {
    const socks = await startSocks(t);
    const tls = { key: readFileSync(join(FIXTURES, 'key.pem')), cert: readFileSync(join(FIXTURES, 'cert.pem')) };
    const server = await serve(t, { '/t.bin': { size: 200 * KiB } }, { tls });
    const dir = await tempDir(t);
    const url = `https://localhost:${server.port}/t.bin`;
    const r = await runMain([url, '-d', dir, '--proxy', `socks5h://127.0.0.1:${socks}`, '--ca-cert', join(FIXTURES, 'cert.pem'), ...ARGS]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 't.bin')), server.sha256('/t.bin'));
    assert.deepEqual(from(server), [PROXIED_FROM]);
    const untrusted = await runMain([url, '-d', join(dir, 'no'), '--proxy', `socks5h://127.0.0.1:${socks}`, ...ARGS]);
    assert.equal(untrusted.code, 4, 'the certificate is still checked through the tunnel');
    assert.match(untrusted.stderr, /certificate/);
  });

  it('ALL_PROXY=socks5h:// applies without --proxy; a proxy that is down is a network error (exit 4)', T, async (t) => {
    const socks = await startSocks(t);
    const server = await serve(t, { '/a.bin': { size: 100 * KiB } });
    const dir = await tempDir(t);
    const r = await runCli(t, [server.url('/a.bin'), ...ARGS], { cwd: dir, env: { ALL_PROXY: `socks5h://127.0.0.1:${socks}` } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'a.bin')), server.sha256('/a.bin'));
    assert.deepEqual(from(server), [PROXIED_FROM]);

    server.resetStats();
    const down = await runMain([server.url('/a.bin'), '-d', join(dir, 'down'), '--proxy', 'socks5://127.0.0.1:1', ...ARGS]);
    assert.equal(down.code, 4, down.stderr);
    assert.match(down.stderr, /SOCKS proxy 127\.0\.0\.1:1/);
    assert.equal(server.stats.requests, 0);
    assert.equal((await runMain([server.url('/a.bin'), '--proxy', 'socks4://127.0.0.1:1'])).code, 2);
  });
});
