/**
 * Everyday use of the CLI, end to end against the loopback test server: --dry-run, -v,
 * --json events, request headers and credentials (-H, --user-agent, --referer, --cookie,
 * --user, URL credentials, $RANGEGET_USER) across redirects, and plain output without
 * escape codes when stdout is not a terminal. The oracle is the byte-exact SHA-256.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RangegetError } from '../src/index.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toDownloadOptions } from '../src/cli/flags.js';
import { download, ExitCode } from '../src/index.js';
import { jsonLines, runCli, runMain } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { serve, type RequestRecord, type TestServer } from './helpers/server.js';
import { list, tempDir, waitFor } from './helpers/tmp.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const T = { timeout: 40_000 };
const basic = (userPass: string): string => `Basic ${Buffer.from(userPass).toString('base64')}`;

/** Leave a partial download of `path` in `dir`: abort once `bytes` are on disk. */
async function interrupted(server: TestServer, path: string, dir: string, bytes: number): Promise<void> {
  const controller = new AbortController();
  let seen = false;
  const running = download(server.url(path), {
    dir,
    connections: 1,
    minRangeSize: 64 * MiB, // one range: the stall below is met before the end
    progressInterval: 20,
    signal: controller.signal,
    onEvent: (e) => {
      if (e.type === 'progress' && e.downloaded >= bytes) seen = true;
    },
  });
  running.catch(() => undefined);
  await waitFor('bytes on disk', () => seen, 20_000);
  controller.abort();
  await assert.rejects(running, (err: unknown) => (err as { code?: string }).code === 'EABORTED');
}

describe('--dry-run', () => {
  it('prints the plan, with the bytes an earlier run left, and fetches nothing; --json gives one plan object', T, async (t) => {
    const server = await serve(t, {
      // Stalls after 1.5 MiB per GET, so the first run is still running when all of those
      // bytes are on disk (a buffer is written at the latest a flush interval after it fills).
      '/part.bin': { size: 3 * MiB, faults: { stallAfter: 1.5 * MiB, stallEvery: true } },
      '/here.bin': { size: 10 * KiB },
      '/plain.bin': { size: 10 * KiB, etag: null, lastModified: null },
      '/norange.bin': { size: 10 * KiB, ranges: false },
      '/missing.bin': { size: 1, status: 404 },
    });
    const dir = await tempDir(t);
    await interrupted(server, '/part.bin', dir, 1.5 * MiB);
    server.set('/part.bin', { size: 3 * MiB }); // same content and validators, no stalls
    await writeFile(join(dir, 'here.bin'), 'something else');
    const before = await list(dir);
    server.resetStats();

    const text = await runMain([server.url('/part.bin'), '-d', dir, '--dry-run', '-c', '4', '--min-range', '64K']);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stderr, '');
    const rows = Object.fromEntries(text.stdout.trimEnd().split('\n').map((l) => [l.slice(0, 11).replace(/:\s*$/, ''), l.slice(11)]));
    assert.deepEqual(Object.keys(rows), ['url', 'size', 'ranges', 'plan', 'resumable', 'output', 'kept']);
    assert.equal(rows.url, server.url('/part.bin'));
    assert.equal(rows.size, '3.00 MiB (3145728 bytes)');
    assert.equal(rows.ranges, 'supported');
    assert.match(rows.resumable!, /^yes \(ETag "\d+-3145728"\)$/);
    assert.equal(rows.output, join(dir, 'part.bin'));
    const kept = Number(/\((\d+) bytes\) from an earlier run$/.exec(rows.kept!)?.[1]);
    assert.ok(kept >= MiB && kept < 3 * MiB, `kept: ${rows.kept}`);
    assert.match(rows.plan!, /^\d+ ranges?, [\d.]+ [KM]iB to fetch: \d+-\d+/);

    const json = await runMain([server.url('/part.bin'), '-d', dir, '--dry-run', '--json', '-c', '4', '--min-range', '64K']);
    assert.equal(json.code, 0);
    const lines = jsonLines(json.stdout);
    assert.equal(lines.length, 1);
    const plan = lines[0]!;
    assert.deepEqual(Object.keys(plan).sort(), ['etag', 'exists', 'finalUrl', 'have', 'lastModified', 'path', 'rangeSupport', 'ranges', 'resumable', 'size', 'type', 'url']);
    assert.equal(plan.type, 'plan');
    assert.equal(plan.have, kept);
    assert.equal(plan.exists, false);
    assert.equal(plan.resumable, true);
    const ranges = plan.ranges as Array<{ start: number; end: number }>;
    assert.equal(ranges.reduce((sum, r) => sum + r.end - r.start, 0), 3 * MiB - kept, 'the plan fetches exactly what is missing');

    // Only probes went out; nothing on disk changed.
    assert.ok(server.stats.log.every((r) => r.method === 'HEAD' || r.bytes <= 1), JSON.stringify(server.stats.log.map((r) => [r.method, r.bytes])));
    assert.deepEqual(await list(dir), before);

    const others = await runMain([server.url('/here.bin'), server.url('/plain.bin'), server.url('/norange.bin'), server.url('/missing.bin'), '-d', dir, '--dry-run']);
    assert.equal(others.code, ExitCode.batch, 'a batch with a failed probe');
    assert.match(others.stdout, /^\[1\/4\]\n(.+\n)*output: {4}.*here\.bin \(exists; the download would stop unless --overwrite is given\)$/m);
    assert.match(others.stdout, /^resumable: no: the server gives no strong ETag or Last-Modified, so an interrupted download would start over$/m);
    assert.match(others.stdout, /^ranges: {4}not supported: the server ignores range requests$/m);
    // The URL once (the message names it), no internal code.
    const errLines = others.stderr.split('\n');
    assert.ok(errLines.includes(`rangeget: [4/4] error: server answered HTTP 404 for ${server.url('/missing.bin')}`), others.stderr);
    assert.ok(errLines.includes(`  server answered HTTP 404 for ${server.url('/missing.bin')}`), others.stderr);
    assert.deepEqual(await list(dir), before);

    const single404 = await runMain([server.url('/missing.bin'), '-d', dir, '--dry-run']);
    assert.equal(single404.code, ExitCode.http);
    assert.match(single404.stderr, /^rangeget: error: server answered HTTP 404/);

    // The real run then resumes exactly the bytes the plan promised to keep.
    const run = await runMain([server.url('/part.bin'), '-d', dir, '--json', '-c', '4', '--min-range', '64K']);
    assert.equal(run.code, 0, run.stdout);
    const events = jsonLines(run.stdout);
    const resume = events.find((e) => e.type === 'resume');
    assert.deepEqual(resume, { type: 'resume', have: kept, left: 3 * MiB - kept });
    assert.equal(events.at(-1)?.resumed, kept);
    assert.equal(await sha256File(join(dir, 'part.bin')), server.sha256('/part.bin'));
  });
});

describe('--json', () => {
  const keys = (e: Record<string, unknown>): string[] => Object.keys(e).sort();

  it('emits the documented fields for probe, start, retry, progress (at most 2 a second), warning, done and error', T, async (t) => {
    const server = await serve(t, {
      '/flaky.bin': { size: 256 * KiB, throttle: 128 * KiB, faults: { failFirst: 1 } },
      '/whole.bin': { size: 32 * KiB, ranges: false },
      '/nope.bin': { size: 1, status: 404 },
    });
    const dir = await tempDir(t);
    const r = await runMain([server.url('/flaky.bin'), '-d', dir, '--json', '-c', '2', '--min-range', '64K', '--retry-wait', '10ms', '--checksum', `sha256=${server.sha256('/flaky.bin')}`]);
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.stderr, '');
    assert.equal(await sha256File(join(dir, 'flaky.bin')), server.sha256('/flaky.bin'));
    const events = jsonLines(r.stdout);
    const of = (type: string) => events.filter((e) => e.type === type);
    assert.equal(events[0]?.type, 'probe');
    assert.equal(events.at(-1)?.type, 'done');
    assert.deepEqual(keys(of('probe')[0]!), ['etag', 'finalUrl', 'lastModified', 'path', 'ranges', 'size', 'type', 'url']);
    assert.deepEqual(keys(of('start')[0]!), ['connections', 'path', 'ranges', 'size', 'type']);
    const retry = of('retry')[0];
    assert.ok(retry, 'a retry event');
    assert.deepEqual(keys(retry), ['attempt', 'delay', 'reason', 'type']);
    assert.equal(retry.attempt, 1);
    assert.match(String(retry.reason), /503/);
    const done = of('done')[0]!;
    assert.deepEqual(keys(done), ['connections', 'digest', 'duration', 'finalUrl', 'path', 'resumed', 'size', 'type', 'url', 'verified']);
    assert.equal(done.digest, server.sha256('/flaky.bin'));
    const progress = of('progress');
    assert.ok(progress.length >= 2, `progress events: ${progress.length}`);
    for (const p of progress) assert.deepEqual(keys(p), ['connections', 'downloaded', 'elapsed', 'speed', 'total', 'type']);
    for (let i = 1; i < progress.length; i++) {
      const gap = (progress[i]!.elapsed as number) - (progress[i - 1]!.elapsed as number);
      assert.ok(gap >= 490, `progress ${i} came ${gap} ms after the one before`);
    }

    const whole = await runMain([server.url('/whole.bin'), '-d', dir, '--json']);
    assert.equal(whole.code, 0);
    const warning = jsonLines(whole.stdout).find((e) => e.type === 'warning');
    assert.deepEqual(warning, { type: 'warning', message: 'using one connection: the server ignores range requests' });

    const failed = await runMain([server.url('/nope.bin'), '-d', dir, '--json']);
    assert.equal(failed.code, ExitCode.http);
    assert.deepEqual(jsonLines(failed.stdout).at(-1), {
      type: 'error',
      code: 'EHTTP',
      message: `server answered HTTP 404 for ${server.url('/nope.bin')}`,
      exitCode: 3,
    });
  });
});

describe('requests: headers and credentials', () => {
  const secret = 's3cr:et';

  it('sends exactly the -H, --user-agent, --referer, --cookie and --user headers on every request', T, async (t) => {
    const server = await serve(t, { '/h.bin': { size: 200 * KiB } });
    const dir = await tempDir(t);
    const r = await runMain([
      server.url('/h.bin'), '-d', dir, '-c', '2', '--min-range', '64K',
      '-H', 'X-Trace: abc 123', '-H', 'Accept: application/octet-stream',
      '--user-agent', 'everyday/1.0', '--referer', 'http://127.0.0.1/page?q=1', '--cookie', 'a=b; c=d',
      '--user', `alice:${secret}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'h.bin')), server.sha256('/h.bin'));
    const allowed = new Set(['host', 'connection', 'user-agent', 'x-trace', 'accept', 'referer', 'cookie', 'authorization', 'accept-encoding', 'range', 'if-range']);
    assert.ok(server.stats.log.length >= 3);
    for (const rec of server.stats.log) {
      const h = rec.headers;
      assert.equal(h['user-agent'], 'everyday/1.0');
      assert.equal(h['x-trace'], 'abc 123');
      assert.equal(h.accept, 'application/octet-stream');
      assert.equal(h.referer, 'http://127.0.0.1/page?q=1');
      assert.equal(h.cookie, 'a=b; c=d');
      assert.equal(h.authorization, basic(`alice:${secret}`));
      assert.equal(h['accept-encoding'], 'identity');
      // The probe also asks for the server's digest of the file (RFC 9530).
      const probing = rec.headers.range === undefined || rec.headers.range === 'bytes=0-0';
      for (const name of Object.keys(h)) assert.ok(allowed.has(name) || (probing && name === 'want-repr-digest'), `unexpected header ${name} on ${rec.method}`);
    }
  });

  it('takes credentials from the URL, and --user over $RANGEGET_USER', T, async (t) => {
    const server = await serve(t, { '/u.bin': { size: 16 * KiB } });
    const dir = await tempDir(t);
    const r = await runMain([server.url('/u.bin').replace('://', '://bob:pa%40ss@'), '-d', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(server.stats.log.every((rec) => rec.headers.authorization === basic('bob:pa@ss')));
    assert.equal(await sha256File(join(dir, 'u.bin')), server.sha256('/u.bin'));

    const base = { resume: true, restart: true };
    assert.equal(toDownloadOptions({ ...base }, { RANGEGET_USER: 'carol:pw' }).user, 'carol:pw');
    assert.equal(toDownloadOptions({ ...base, user: 'dave:x' }, { RANGEGET_USER: 'carol:pw' }).user, 'dave:x');
    assert.equal(toDownloadOptions({ ...base }, {}).user, undefined);
    for (const [flag, value, message] of [
      ['referer', 'http://x/\r\nX-Evil: 1', /^--referer: the value must not contain CR, LF/],
      ['cookie', 'a=b\nc=d', /^--cookie: the value must not contain CR, LF/],
      ['cookie', 'cookies.txt', /^--cookie: expected 'name=value' or 'a=b; c=d' \(for a cookies.txt file, use --load-cookies FILE\)$/],
      ['referer', '', /^--referer: the value is empty$/],
    ] as const) {
      // The CLI prints cliMessage: the flags' words.
      assert.throws(() => toDownloadOptions({ ...base, [flag]: value }, {}), (err: RangegetError) => message.test(err.cliMessage));
    }
  });

  it('never sends Authorization or Cookie to another origin after a redirect; same-origin redirects keep them', T, async (t) => {
    const other = await serve(t, { '/file.bin': { size: 128 * KiB } });
    const origin = await serve(t, {
      '/away': { size: 0, redirect: other.url('/file.bin') },
      '/here': { size: 0, redirect: '/local.bin', redirectStatus: 301 },
      '/local.bin': { size: 48 * KiB },
    });
    const dir = await tempDir(t);
    const common = ['-c', '2', '--min-range', '32K', '-H', 'X-Trace: t1', '--referer', 'http://127.0.0.1/r', '--cookie', 'sid=42'];
    const r = await runMain([origin.url('/away'), '-d', dir, ...common, '--user', `alice:${secret}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'file.bin')), other.sha256('/file.bin'));
    const check = (log: RequestRecord[], credentials: boolean, what: string): void => {
      assert.ok(log.length > 0, `${what}: requests`);
      for (const rec of log) {
        assert.equal(rec.headers['x-trace'], 't1', what);
        assert.equal(rec.headers.referer, 'http://127.0.0.1/r', what);
        assert.equal(rec.headers['user-agent'], 'rangeget/0.1.0', what);
        if (credentials) {
          assert.equal(rec.headers.authorization, basic(`alice:${secret}`), `${what}: ${rec.method} ${rec.path}`);
          assert.equal(rec.headers.cookie, 'sid=42', what);
        } else {
          assert.equal(rec.headers.authorization, undefined, `${what}: ${rec.method} ${rec.path}`);
          assert.equal(rec.headers.cookie, undefined, what);
        }
      }
    };
    check(origin.stats.log, true, 'first origin');
    check(other.stats.log, false, 'other origin');
    assert.ok(other.stats.log.some((rec) => rec.status === 206), 'ranges came from the other origin');

    // Credentials in the URL follow the same rule.
    origin.resetStats();
    other.resetStats();
    const viaUrl = await runMain([origin.url('/away').replace('://', '://bob:pw@'), '-d', join(dir, 'u'), ...common]);
    assert.equal(viaUrl.code, 0, viaUrl.stderr);
    assert.ok(origin.stats.log.every((rec) => rec.headers.authorization === basic('bob:pw')));
    assert.ok(other.stats.log.every((rec) => rec.headers.authorization === undefined && rec.headers.cookie === undefined));

    origin.resetStats();
    const same = await runMain([origin.url('/here'), '-d', dir, ...common, '--user', `alice:${secret}`]);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(await sha256File(join(dir, 'local.bin')), origin.sha256('/local.bin'));
    check(origin.stats.log, true, 'same-origin redirect');
    assert.ok(origin.stats.log.some((rec) => rec.path === '/local.bin' && rec.status === 206));
  });
});

describe('-v', () => {
  it('prints each request and response on stderr, headers indented, credentials masked; --json -v gives http events', T, async (t) => {
    const server = await serve(t, { '/v.bin': { size: 100 * KiB } });
    const dir = await tempDir(t);
    const r = await runMain([server.url('/v.bin'), '-d', dir, '-v', '-c', '2', '--min-range', '32K', '--user', 'alice:hunter2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(await sha256File(join(dir, 'v.bin')), server.sha256('/v.bin'));
    const url = server.url('/v.bin');
    const blocks = r.stderr.split(/\n(?=[<>!] |saved )/);
    const requests = blocks.filter((b) => b.startsWith(`> GET ${url}\n`));
    const responses = blocks.filter((b) => b.startsWith(`< 206 GET ${url}\n`));
    assert.ok(requests.length >= 2, r.stderr);
    assert.ok(responses.length >= 2, r.stderr);
    for (const b of requests) {
      assert.match(b, /^ {4}range: bytes=\d+-\d+$/m);
      assert.match(b, /^ {4}authorization: \*\*\*$/m);
      assert.match(b, /^ {4}user-agent: rangeget\/0\.1\.0$/m);
      for (const line of b.trimEnd().split('\n').slice(1)) assert.match(line, /^ {4}[a-z0-9-]+: /);
    }
    for (const b of responses) assert.match(b, /^ {4}content-range: bytes \d+-\d+\/102400$/m);
    assert.match(r.stderr, /^saved .*v\.bin/m);
    assert.doesNotMatch(r.stderr, /hunter2|YWxpY2U6aHVudGVyMg/);

    const json = await runMain([server.url('/v.bin'), '-d', dir, '--overwrite', '--json', '-v', '-c', '1', '--user', 'alice:hunter2']);
    assert.equal(json.code, 0);
    assert.equal(json.stderr, '');
    const http = jsonLines(json.stdout).filter((e) => e.type === 'http');
    // The probe's HEAD comes first; the range GET's request and response follow.
    const request = http.find((e) => e.kind === 'request' && e.method === 'GET');
    const response = http.find((e) => e.kind === 'response' && e.method === 'GET');
    assert.ok(request && response, json.stdout);
    assert.deepEqual(Object.keys(request).sort(), ['headers', 'kind', 'method', 'type', 'url']);
    assert.deepEqual(Object.keys(response).sort(), ['headers', 'kind', 'method', 'status', 'type', 'url']);
    assert.equal((request.headers as Record<string, string>).authorization, '***');
    assert.equal(response.status, 206);
    assert.doesNotMatch(json.stdout, /hunter2|YWxpY2U6aHVudGVyMg/);
  });

  it(
    'also shows the probe: its HEAD and the redirects it follows',
    T,
    async (t) => {
      const server = await serve(t, { '/r': { size: 0, redirect: '/p.bin' }, '/p.bin': { size: 16 * KiB } });
      const dir = await tempDir(t);
      const r = await runMain([server.url('/r'), '-d', dir, '-v', '-c', '1']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`^> HEAD ${server.url('/r')}$`, 'm'));
      assert.match(r.stderr, new RegExp(`^< 302 HEAD ${server.url('/r')}$`, 'm'));
      assert.match(r.stderr, new RegExp(`^> HEAD ${server.url('/p.bin')}$`, 'm'));
    },
  );

  it('cannot be combined with -q', async () => {
    const r = await runMain(['http://127.0.0.1:1/x', '-q', '-v']);
    assert.equal(r.code, ExitCode.usage);
    assert.match(r.stderr, /option '-q, --quiet' cannot be used with option '-v, --verbose'/);
  });
});

describe('child processes: environment and plain output', () => {
  const secret = 's3cr:et';

  it('$RANGEGET_USER reaches the server and is never printed, even with -v; NO_COLOR and a pipe: no escape codes', T, async (t) => {
    const server = await serve(t, { '/env.bin': { size: 64 * KiB } });
    const dir = await tempDir(t);
    const r = await runCli(t, [server.url('/env.bin'), '-d', dir, '-c', '1', '-v', '--cookie', 'session=topsecret'], {
      cwd: dir,
      env: { RANGEGET_USER: `carol:${secret}`, NO_COLOR: '1', TERM: 'xterm-256color' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'env.bin')), server.sha256('/env.bin'));
    assert.ok(server.stats.log.every((rec) => rec.headers.authorization === basic(`carol:${secret}`)));
    const all = r.stdout + r.stderr;
    assert.doesNotMatch(all, new RegExp(`${secret}|${Buffer.from(`carol:${secret}`).toString('base64')}|topsecret`));
    assert.match(r.stderr, /^ {4}authorization: \*\*\*$/m);
    assert.match(r.stderr, /^ {4}cookie: \*\*\*$/m);
    assert.match(r.stderr, /^saved .*env\.bin/m);
    assert.equal(r.stdout, '');
    assert.ok(!all.includes('\x1b['), `no escape codes in ${JSON.stringify(r)}`);
  });

  it('a batch on a pipe (even with FORCE_COLOR): a plain line per file and a summary, no escape codes', T, async (t) => {
    const server = await serve(t, { '/b.bin': { size: 32 * KiB }, '/gone': { size: 1, status: 410 } });
    const dir = await tempDir(t);
    const r = await runCli(t, [server.url('/b.bin'), server.url('/gone'), '-d', dir, '-c', '1'], {
      cwd: dir,
      env: { TERM: 'xterm-256color', FORCE_COLOR: '1' },
    });
    assert.equal(r.code, ExitCode.batch, r.stderr);
    assert.equal(await sha256File(join(dir, 'b.bin')), server.sha256('/b.bin'));
    assert.ok(!r.stdout.includes('\x1b[') && !r.stderr.includes('\x1b['), `no escape codes in ${JSON.stringify(r)}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^\[1\/2\] saved .*b\.bin/m);
    assert.match(r.stderr, /^rangeget: 1 ok, 1 failed:$/m);
  });
});
