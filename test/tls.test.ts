/**
 * TLS: certificates are verified by default; `--insecure` skips the check; `--ca-cert FILE`
 * trusts a CA. Against an HTTPS test server (node:https) on 127.0.0.1 with the committed
 * self-signed fixture (test/fixtures/, CN/SAN 127.0.0.1 and localhost).
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { download, RangegetError, type DownloadEvent } from '../src/index.js';
import { tlsOptions } from '../src/http/dispatcher.js';
import { runCli, runMain } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { CERT, FIXTURES, serverTls } from './helpers/fixtures.js';
import { serve, type FileSpec, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const OTHER_CA = join(FIXTURES, 'other-ca.pem');
const tls = serverTls();

const SIZE = 700 * 1024;
/** Big enough for worker threads (small files are fetched in the main thread). */
const BIG = 5 * 1024 * 1024;
const FILES: Record<string, FileSpec> = { '/secure.bin': { size: SIZE }, '/big.bin': { size: BIG } };

const serveTls = (t: TestContext): Promise<TestServer> => serve(t, FILES, { tls });

const FAST = ['--retry-wait', '10ms', '--timeout', '5s', '-c', '4', '--threads', '1', '--min-range', '64K'];

describe('TLS', { concurrency: 3 }, () => {
  test('verified by default: a self-signed certificate fails clearly, before any request', async (t) => {
    const srv = await serveTls(t);
    assert.match(srv.origin, /^https:/);
    const dir = await tempDir(t);
    const run = await runCli(t, [...FAST, '-d', dir, srv.url('/secure.bin')], { cwd: dir });
    assert.ok(run.code === 4 || run.code === 3, `exit ${run.code}: ${run.stderr}`);
    assert.match(run.stderr, /certificate/i);
    assert.match(run.stderr, /--ca-cert|--insecure/, 'says what to do');
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.deepEqual(await readdir(dir), []);
    assert.equal(srv.stats.requests, 0, 'no HTTP request got past the handshake');
  });

  test('--insecure: byte-exact over several connections', async (t) => {
    const srv = await serveTls(t);
    const dir = await tempDir(t);
    const run = await runCli(t, [...FAST, '--insecure', '-d', dir, srv.url('/secure.bin')], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await sha256File(join(dir, 'secure.bin')), srv.sha256('/secure.bin'));
    assert.ok(srv.stats.log.filter((r) => r.status === 206).length >= 2, 'several ranges');
  });

  test('--ca-cert with the fixture: byte-exact', async (t) => {
    const srv = await serveTls(t);
    const dir = await tempDir(t);
    const run = await runCli(t, [...FAST, '--ca-cert', CERT, '-d', dir, srv.url('/secure.bin')], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await sha256File(join(dir, 'secure.bin')), srv.sha256('/secure.bin'));
  });

  test('--ca-cert: one certificate context per thread and CA, whoever connects', () => {
    const settings = (ca: string) => ({ insecure: false, ca, connectTimeout: 1000, headersTimeout: 1000, stallTimeout: 1000 });
    const ca = readFileSync(CERT, 'utf8');
    const other = readFileSync(OTHER_CA, 'utf8');
    const first = tlsOptions(settings(ca)).secureContext;
    assert.ok(first, 'a context for --ca-cert');
    assert.equal(tlsOptions(settings(ca)).secureContext, first, 'the same CA: the same context');
    assert.notEqual(tlsOptions(settings(other)).secureContext, first, 'another CA: its own context');
  });

  test('--ca-cert adds to the trusted certificates: those of NODE_EXTRA_CA_CERTS stay trusted', async (t) => {
    const srv = await serveTls(t);
    const dir = await tempDir(t);
    const run = await runCli(t, [...FAST, '--ca-cert', OTHER_CA, '-d', dir, srv.url('/secure.bin')], { cwd: dir, env: { NODE_EXTRA_CA_CERTS: CERT } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await sha256File(join(dir, 'secure.bin')), srv.sha256('/secure.bin'));
  });

  test('--ca-cert with an unrelated CA still fails verification', async (t) => {
    const srv = await serveTls(t);
    const dir = await tempDir(t);
    const run = await runMain([...FAST, '--ca-cert', OTHER_CA, '-d', dir, srv.url('/secure.bin')]);
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /certificate/i);
    assert.deepEqual(await readdir(dir), []);
  });

  test('--ca-cert with a file that holds no certificate is a usage error (exit 2), before any connection', async (t) => {
    const srv = await serveTls(t);
    const dir = await tempDir(t);
    const junk = join(dir, 'junk.pem');
    await writeFile(junk, 'this is not a certificate\n');
    for (const file of [junk, join(dir, 'missing.pem'), dir]) {
      const run = await runMain(['--ca-cert', file, '-d', dir, srv.url('/secure.bin')]);
      assert.equal(run.code, 2, `${file}: ${run.stderr}`);
      assert.match(run.stderr, /--ca-cert/);
    }
    assert.deepEqual(await readdir(dir), ['junk.pem']);
    assert.equal(srv.stats.requests, 0);
  });

  test('library: caCert for https://localhost (DNS name in the SAN), a 5 MiB file over worker threads', async (t) => {
    const srv = await serveTls(t);
    const dir = await tempDir(t);
    const url = srv.url('/big.bin').replace('127.0.0.1', 'localhost');
    const result = await download(url, { dir, caCert: CERT, connections: 4, threads: 2, minRangeSize: 256 * 1024, retryWait: 10 });
    assert.equal(await sha256File(result.path), srv.sha256('/big.bin'));
    assert.equal(result.connections, 4);
  });

  test('library: insecure byte-exact; default refused with a certificate error that is not retried', async (t) => {
    const srv = await serveTls(t);
    const dir = await tempDir(t);
    const result = await download(srv.url('/secure.bin'), { dir, insecure: true, connections: 4, minRangeSize: 64 * 1024 });
    assert.equal(await sha256File(result.path), srv.sha256('/secure.bin'));

    const events: DownloadEvent[] = [];
    const other = await tempDir(t);
    let error: unknown;
    try {
      await download(srv.url('/secure.bin'), { dir: other, retryWait: 10, onEvent: (e) => events.push(e) });
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof RangegetError, String(error));
    assert.equal(error.code, 'ENETWORK');
    assert.equal(error.exitCode, 4);
    assert.match(error.message, /certificate/i);
    assert.equal(events.filter((e) => e.type === 'retry').length, 0, 'a bad certificate is not retried');
    assert.deepEqual(await readdir(other), []);
  });
});
