/**
 * `--load-cookies FILE`: a Netscape cookies.txt, as curl -b FILE, wget and aria2c read it.
 * Each cookie reaches only the requests its domain, path, secure flag and expiry allow,
 * across a redirect to another host; a broken file is reported with file:line before any
 * request.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cookieHeader, parseCookiesFile, type StoredCookie } from '../src/http/cookies.js';
import { runMain } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { serve, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const KiB = 1024;
const T = { timeout: 40_000 };
const sent = (server: TestServer): Array<string | undefined> => [...new Set(server.stats.log.map((r) => r.headers.cookie))];

describe('cookieHeader (pure)', () => {
  it('matches domain (and subdomains), path, secure flag and expiry', () => {
    const file = [
      '# Netscape HTTP Cookie File',
      '.example.com\tTRUE\t/\tFALSE\t0\tall\t1',
      'example.com\tFALSE\t/docs\tFALSE\t0\tdocs\t2',
      'example.com\tFALSE\t/\tTRUE\t0\tsecure\t3',
      'example.com\tFALSE\t/\tFALSE\t1000\told\t4',
      '#HttpOnly_example.com\tFALSE\t/\tFALSE\t4000\thttponly\t5',
    ].join('\n');
    const cookies = parseCookiesFile(file) as StoredCookie[];
    assert.equal(cookies.length, 5);
    const at = (url: string): string | undefined => cookieHeader(cookies, new URL(url), 2_000_000);
    assert.equal(at('http://example.com/docs/a'), 'docs=2; all=1; httponly=5');
    assert.equal(at('https://example.com/docsx'), 'all=1; secure=3; httponly=5');
    assert.equal(at('http://cdn.example.com/docs/a'), 'all=1');
    assert.equal(at('http://example.org/'), undefined);
    assert.deepEqual(parseCookiesFile('a\tb\n'), { line: 1, reason: 'expected 7 tab-separated fields: domain, subdomains, path, secure, expires, name, value' });
  });
});

describe('--load-cookies', () => {
  it('sends each cookie only where domain, path, secure flag and expiry allow, redirects included', T, async (t) => {
    const other = await serve(t, { '/file.bin': { size: 100 * KiB } });
    const origin = await serve(t, { '/away': { size: 0, redirect: `http://localhost:${other.port}/file.bin` } });
    const dir = await tempDir(t);
    const jar = join(dir, 'cookies.txt');
    const future = Math.floor(Date.now() / 1000) + 3600;
    await writeFile(
      jar,
      [
        '# Netscape HTTP Cookie File',
        '127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\ta1',
        '127.0.0.1\tFALSE\t/other\tFALSE\t0\tpathonly\tx',
        '127.0.0.1\tFALSE\t/\tTRUE\t0\tsec\ts',
        '127.0.0.1\tFALSE\t/\tFALSE\t1\told\to',
        `#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t${future}\tho\th`,
        `localhost\tFALSE\t/\tFALSE\t${future}\tlh\tl`,
        '',
      ].join('\n'),
    );
    const out = join(dir, 'out');
    const r = await runMain([origin.url('/away'), '-d', out, '--load-cookies', jar, '-c', '2', '--min-range', '16K']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(out, 'file.bin')), other.sha256('/file.bin'));
    assert.deepEqual(sent(origin), ['sid=a1; ho=h']);
    assert.deepEqual(sent(other), ['lh=l']);
    assert.ok(other.stats.log.some((rec) => rec.status === 206), 'the ranges carried it too');

    await writeFile(jar, '# fine\n127.0.0.1 FALSE / FALSE 0 a b\n');
    origin.resetStats();
    const bad = await runMain([origin.url('/away'), '-d', out, '--load-cookies', jar]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, new RegExp(`--load-cookies: ${jar}:2: expected 7 tab-separated fields`));
    assert.equal(origin.stats.requests, 0, 'nothing sent');
  });
});
