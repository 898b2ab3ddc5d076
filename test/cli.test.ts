/**
 * The CLI end to end, as a child process (`node bin/rangeget.js`), against the test server:
 * exit codes, what goes to stdout and stderr, --json events, and SIGINT with a resume.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, realpath, writeFile } from 'node:fs/promises';
import { closedPort } from './helpers/loopback.js';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatBytes } from '../src/cli/format.js';
import { BIN, childEnv, jsonLines, runCli, startCli } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { serve, type FileSpec } from './helpers/server.js';
import { list, tempDir, waitFor } from './helpers/tmp.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const T = { timeout: 45_000 };

/** A temp dir by its real path, as the child's process.cwd() reports it. */
async function workDir(t: TestContext): Promise<string> {
  return realpath(await tempDir(t, 'rangeget-cli-'));
}

/** `fn` over `items`, at most `limit` at once, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Every flag the CLI documents; `--help` must list each one. */
const FLAGS = [
  '-o, --output',
  '-d, --dir',
  '-c, --connections',
  '--threads',
  '--min-range',
  '--checksum',
  '-H, --header',
  '--user-agent',
  '--user',
  '--overwrite',
  '--no-resume',
  '--no-restart',
  '--retries',
  '--retry-wait',
  '--timeout',
  '--max-redirects',
  '--max-speed',
  '--insecure',
  '--ca-cert',
  '--proxy',
  '-q, --quiet',
  '--json',
  '-V, --version',
  '-h, --help',
];

describe('cli: success', () => {
  it('saves the file, exits 0, prints the summary on stderr and nothing on stdout', T, async (t) => {
    const size = 300_007;
    const server = await serve(t, { '/cli.bin': { size } });
    const cwd = await workDir(t);
    const r = await runCli(t, [server.url('/cli.bin'), '-c', '4', '--min-range', '64K'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const path = join(cwd, 'cli.bin');
    assert.match(r.stderr, new RegExp(`^saved ${escape(path)} \\(293\\.0 KiB\\), in \\d+\\.\\d\\d?s, [\\d.]+ (B|KiB|MiB|GiB)/s, 4 connections\\n$`));
    assert.equal(await sha256File(path), server.sha256('/cli.bin'));
    assert.deepEqual(await list(cwd), ['cli.bin']);
    assert.equal(server.stats.log.filter((x) => x.method === 'GET').length, 4);
  });

  it('saves to -o inside -d', T, async (t) => {
    const server = await serve(t, { '/x.bin': { size: 5000 } });
    const cwd = await workDir(t);
    const r = await runCli(t, [server.url('/x.bin'), '-d', 'sub', '-o', 'named.out'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(await sha256File(join(cwd, 'sub', 'named.out')), server.sha256('/x.bin'));
    assert.deepEqual(await list(cwd), ['sub']);
    assert.deepEqual(await list(join(cwd, 'sub')), ['named.out']);
  });

  it('prints nothing at all with -q', T, async (t) => {
    const server = await serve(t, { '/q.bin': { size: 70_000 } });
    const cwd = await workDir(t);
    const r = await runCli(t, ['-q', server.url('/q.bin')], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    assert.equal(await sha256File(join(cwd, 'q.bin')), server.sha256('/q.bin'));
  });

  it('verifies --checksum and says so in the summary', T, async (t) => {
    const server = await serve(t, { '/sum.bin': { size: 123_457 } });
    const cwd = await workDir(t);
    const r = await runCli(t, [server.url('/sum.bin'), '--checksum', `sha256=${server.sha256('/sum.bin')}`], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /, checksum ok\n$/);
    assert.equal(await sha256File(join(cwd, 'sum.bin')), server.sha256('/sum.bin'));
  });
});

describe('cli: --json', () => {
  it('prints probe, start and done events, one JSON object a line', T, async (t) => {
    const size = MiB + 7;
    const server = await serve(t, { '/j.bin': { size } });
    const cwd = await workDir(t);
    const r = await runCli(t, ['--json', '-c', '4', '--min-range', '64K', server.url('/j.bin')], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const events = jsonLines(r.stdout);
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'probe');
    assert.equal(types[1], 'start');
    assert.equal(types.at(-1), 'done');
    assert.deepEqual(
      types.filter((x) => x !== 'progress' && x !== 'http'),
      ['probe', 'start', 'done'],
    );
    const path = join(cwd, 'j.bin');
    const probe = events[0]!;
    assert.equal(probe.url, server.url('/j.bin'));
    assert.equal(probe.size, size);
    assert.equal(probe.ranges, true);
    assert.equal(probe.path, path);
    assert.deepEqual(events[1], { type: 'start', path, size, connections: 4, ranges: 16 }); // 4 pieces per connection
    const done = events.at(-1)!;
    assert.equal(done.path, path);
    assert.equal(done.size, size);
    assert.equal(done.resumed, 0);
    assert.equal(done.connections, 4);
    assert.equal(done.finalUrl, server.url('/j.bin'));
    assert.equal(await sha256File(path), server.sha256('/j.bin'));
  });

  it('ends with an error event carrying code and exitCode on failure', T, async (t) => {
    const server = await serve(t, {});
    const cwd = await workDir(t);
    const r = await runCli(t, ['--json', server.url('/nope.bin')], { cwd });
    assert.equal(r.code, 3);
    assert.equal(r.stderr, '');
    const events = jsonLines(r.stdout);
    assert.deepEqual(events.at(-1), {
      type: 'error',
      code: 'EHTTP',
      message: `server answered HTTP 404 for ${server.url('/nope.bin')}`,
      exitCode: 3,
    });
    assert.deepEqual(await list(cwd), []);
  });

  it('reports a usage error as a JSON error event', T, async (t) => {
    const server = await serve(t, { '/x.bin': { size: 10 } });
    const cwd = await workDir(t);
    const r = await runCli(t, ['--json', '-c', '0', server.url('/x.bin')], { cwd });
    assert.equal(r.code, 2);
    const events = jsonLines(r.stdout);
    assert.equal(events.length, 1, r.stdout);
    assert.equal(events[0]!.type, 'error');
    assert.equal(events[0]!.code, 'EUSAGE');
    assert.equal(events[0]!.exitCode, 2);
    assert.equal(server.stats.requests, 0);
  });
});

describe('cli: exit codes', () => {
  it('exits 2 on usage errors without sending a request', T, async (t) => {
    const server = await serve(t, { '/x.bin': { size: 10 } });
    const cwd = await workDir(t);
    const url = server.url('/x.bin');
    const cases: Array<[string[], RegExp]> = [
      [['--bogus', url], /unknown option '--bogus'/],
      [['-c', '0', url], /-c: '0' must be an integer from 1 to 64/],
      [['-c', 'abc', url], /-c: 'abc' must be an integer from 1 to 64/],
      [[], /missing URL/],
      [[`ftp://127.0.0.1:${server.port}/x.bin`], /ftp: is not supported/],
      [['--checksum', 'sha256=xyz', url], /--checksum: a sha256 digest is 64 hex digits/],
      [['-H', 'NoColon', url], /--header: 'NoColon' must look like 'Name: value'/],
      [['-H', 'Range: bytes=0-1', url], /--header: rangeget sets the Range header itself/],
    ];
    // Two at a time: a child is mostly Node's start-up, and the machine may have two cores.
    const results = await mapLimit(cases, 2, ([args]) => runCli(t, args, { cwd }));
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      const label = `rangeget ${args.join(' ')}`;
      assert.equal(r.code, 2, `${label}: exit ${r.code}, stderr ${r.stderr}`);
      assert.equal(r.stdout, '', label);
      assert.match(r.stderr, /^rangeget: /, label);
      assert.match(r.stderr, message, label);
      assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, `${label}: one line: ${r.stderr}`);
    });
    assert.equal(server.stats.requests, 0, 'no request reached the server');
    assert.deepEqual(await list(cwd), []);
  });

  it('exits 3 on HTTP 404', T, async (t) => {
    const server = await serve(t, {});
    const cwd = await workDir(t);
    const url = server.url('/missing.bin');
    const r = await runCli(t, [url], { cwd });
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `rangeget: error: server answered HTTP 404 for ${url}\n`);
    assert.deepEqual(await list(cwd), []);
  });

  it('exits 4 when the connection is refused', T, async (t) => {
    const port = await closedPort();
    const cwd = await workDir(t);
    const url = `http://127.0.0.1:${port}/x.bin`;
    const r = await runCli(t, [url, '--retries', '0'], { cwd });
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^rangeget: error: cannot reach ${escape(url)}: .*ECONNREFUSED.*\\n$`));
    assert.deepEqual(await list(cwd), []);
  });

  it('a refused connection at the probe fails at once with the default retries (one quick retry), exit 4', T, async (t) => {
    const port = await closedPort();
    const cwd = await workDir(t);
    const started = performance.now();
    const r = await runCli(t, [`http://127.0.0.1:${port}/x.bin`, '--json'], { cwd });
    const elapsed = performance.now() - started;
    assert.equal(r.code, 4, r.stderr);
    const lines = jsonLines(r.stdout);
    assert.deepEqual(lines.map((l) => l.type), ['retry', 'error']);
    assert.equal(lines[0]!.delay, 100);
    // Five retries with backoff took 25 s; one quick retry takes well under a second (plus the process start).
    assert.ok(elapsed < 8000, `took ${elapsed} ms`);
    assert.deepEqual(await list(cwd), []);
  });

  it('an explicit --retries keeps a refused probe retrying, with backoff', T, async (t) => {
    const port = await closedPort();
    const cwd = await workDir(t);
    const r = await runCli(t, [`http://127.0.0.1:${port}/x.bin`, '--json', '--retries', '3', '--retry-wait', '20ms'], { cwd });
    assert.equal(r.code, 4, r.stderr);
    const retries = jsonLines(r.stdout).filter((l) => l.type === 'retry');
    assert.deepEqual(retries.map((l) => l.attempt), [1, 2, 3]);
  });

  it('exits 5 on a checksum mismatch, saves nothing at the path, and keeps the bytes; the right bare digest then verifies them without a download', T, async (t) => {
    const size = 200_000;
    const server = await serve(t, { '/c.bin': { size } });
    const cwd = await workDir(t);
    const wrong = createHash('sha256').update('not it').digest('hex');
    const right = server.sha256('/c.bin');
    const sent = (): number => server.stats.log.filter((x) => x.method === 'GET').reduce((n, x) => n + x.bytes, 0);
    const r = await runCli(t, [server.url('/c.bin'), '--checksum', `sha256=${wrong}`], { cwd });
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stdout, '');
    const part = join(cwd, 'c.bin.part');
    assert.equal(
      r.stderr,
      `rangeget: error: sha256 mismatch: expected ${wrong}, got ${right}; the file was not saved; its bytes are kept in ${part}: ` +
        'with the right checksum, the next run verifies them without fetching them again\n',
    );
    assert.deepEqual(await list(cwd), ['c.bin.part', 'c.bin.part.json']);
    const state = JSON.parse(await readFile(`${part}.json`, 'utf8')) as { written: unknown; digest: unknown };
    assert.deepEqual([state.written, state.digest], [[[0, size]], `sha256=${right}`]);

    // The same wrong checksum again: the kept bytes are checked, fail, and are fetched again.
    server.resetStats();
    const again = await runCli(t, [server.url('/c.bin'), '--checksum', wrong], { cwd });
    assert.equal(again.code, 5, again.stderr);
    assert.match(again.stderr, new RegExp(`warning: the ${size} bytes kept in ${escape(part)} have sha256 ${right}, not ${wrong}; fetching the file again`));
    assert.equal(sent(), size, 'fetched once more, whole');
    assert.deepEqual(await list(cwd), ['c.bin.part', 'c.bin.part.json']);

    // The right digest, bare as sha256sum prints it: verified on disk, not a byte fetched.
    server.resetStats();
    const fixed = await runCli(t, [server.url('/c.bin'), '--checksum', right], { cwd });
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stderr, /checksum ok/);
    assert.equal(sent(), 0, 'no byte fetched again');
    assert.deepEqual(await list(cwd), ['c.bin']);
    assert.equal(await sha256File(join(cwd, 'c.bin')), right);
  });

  it('exits 6 for an existing output file and leaves it untouched; --overwrite replaces it', T, async (t) => {
    const server = await serve(t, { '/data.bin': { size: 100_000 } });
    const cwd = await workDir(t);
    const path = join(cwd, 'data.bin');
    await writeFile(path, 'mine\n');
    const r = await runCli(t, [server.url('/data.bin')], { cwd });
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `rangeget: error: ${path} already exists; pass --continue to finish it (nothing is fetched if it is complete), --overwrite to replace it, or -o to choose another name\n`);
    assert.equal(await readFile(path, 'utf8'), 'mine\n');
    assert.deepEqual(await list(cwd), ['data.bin']);
    assert.equal(server.stats.log.filter((x) => x.method === 'GET').length, 0);

    const again = await runCli(t, [server.url('/data.bin'), '--overwrite'], { cwd });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await sha256File(path), server.sha256('/data.bin'));
    assert.deepEqual(await list(cwd), ['data.bin']);
  });
});

describe('cli: --version and --help', () => {
  it('prints the version of package.json and exits 0', T, async (t) => {
    const cwd = await workDir(t);
    const pkg = JSON.parse(await readFile(new URL('../package.json', pathToFileURL(BIN)), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await runCli(t, [flag], { cwd });
      assert.equal(r.code, 0, flag);
      assert.equal(r.stdout, `${pkg.version}\n`, flag);
      assert.equal(r.stderr, '', flag);
    }
  });

  it('lists every flag and the exit codes with --help and exits 0', T, async (t) => {
    const cwd = await workDir(t);
    for (const flag of ['--help', '-h']) {
      const r = await runCli(t, [flag], { cwd });
      assert.equal(r.code, 0, flag);
      assert.equal(r.stderr, '', flag);
      for (const f of FLAGS) assert.ok(r.stdout.includes(f), `${flag} does not list ${f}`);
      assert.match(r.stdout, /^Usage: rangeget /);
      assert.match(r.stdout, /Exit codes: 0 ok, 2 usage, 3 HTTP error, 4 network, 5 verification failed,\s+6 local file error/);
    }
    assert.deepEqual(await list(cwd), []);
  });

  /** Runs the CLI with its stdout or stderr a pipe whose reader is gone before the child has started. */
  function closedPipe(t: TestContext, args: string[], cwd: string, closed: 'stdout' | 'stderr' = 'stdout'): Promise<{ code: number | null; other: string }> {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    // Closed synchronously, while the child is still loading Node: its first write meets EPIPE.
    child[closed].destroy();
    let other = '';
    child[closed === 'stdout' ? 'stderr' : 'stdout'].setEncoding('utf8').on('data', (s: string) => (other += s));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, other })));
  }

  it('--help into a reader that has left (| head) exits 0 quietly, not with an EPIPE crash', T, async (t) => {
    const r = await closedPipe(t, ['--help'], await workDir(t));
    assert.equal(r.other, '');
    assert.equal(r.code, 0);
  });

  it('--json into a reader that has left still saves the file', T, async (t) => {
    const spec: FileSpec = { size: 3 * MiB + 17 };
    const server = await serve(t, { '/f': spec });
    const cwd = await workDir(t);
    const r = await closedPipe(t, ['--json', '-c', '4', '-o', 'out.bin', server.url('/f')], cwd);
    assert.equal(r.other, '');
    assert.equal(r.code, 0);
    assert.equal(await sha256File(join(cwd, 'out.bin')), server.sha256('/f'));
  });

  it('progress into a stderr whose reader has left (2>&1 | head) still saves the file', T, async (t) => {
    const spec: FileSpec = { size: 3 * MiB + 17 };
    const server = await serve(t, { '/f': spec });
    const cwd = await workDir(t);
    const r = await closedPipe(t, ['-c', '4', '-o', 'out.bin', server.url('/f')], cwd, 'stderr');
    assert.equal(r.other, '');
    assert.equal(r.code, 0);
    assert.equal(await sha256File(join(cwd, 'out.bin')), server.sha256('/f'));
  });
});

describe('cli: interrupt and resume', () => {
  /** Bytes a control file claims, or undefined while there is none (or it claims nothing yet). */
  async function claimed(controlPath: string): Promise<number | undefined> {
    let text: string;
    try {
      text = await readFile(controlPath, 'utf8');
    } catch {
      return undefined;
    }
    const state = JSON.parse(text) as { written: Array<[number, number]> };
    const n = state.written.reduce((sum, [a, b]) => sum + b - a, 0);
    return n > 0 ? n : undefined;
  }

  it('SIGINT exits 130 keeping .part and .part.json; the same command then finishes byte-exact', T, async (t) => {
    const size = 4 * MiB;
    const spec: FileSpec = { size };
    // 256 KiB/s per response: four 1 MiB ranges take 4 s, far longer than the test waits.
    const server = await serve(t, { '/slow.bin': { ...spec, throttle: 256 * KiB } });
    const cwd = await workDir(t);
    const args = [server.url('/slow.bin'), '-c', '4', '--min-range', '256K'];
    const child = startCli(t, args, { cwd });
    const controlPath = join(cwd, 'slow.bin.part.json');
    // The control file claims bytes once they are synced to the .part file.
    const before = await waitFor('a control file that claims bytes', () => claimed(controlPath), 10_000);
    assert.ok(child.child.kill('SIGINT'));
    const r = await child.wait();
    assert.equal(r.signal, null);
    assert.equal(r.code, 130, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(await list(cwd), ['slow.bin.part', 'slow.bin.part.json']);
    const kept = await claimed(controlPath);
    assert.ok(kept !== undefined && kept >= before && kept < size, `control claims ${kept} (had ${before})`);
    // Exactly what the control file claims, and no "error:": nothing went wrong.
    assert.equal(r.stderr, `rangeget: interrupted at ${formatBytes(kept)} of 4.00 MiB; run the same command to resume\n`);

    server.set('/slow.bin', spec); // same file, no longer throttled
    server.resetStats();
    const again = await runCli(t, args, { cwd });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, '');
    const lines = again.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 2, again.stderr);
    assert.match(lines[0]!, /^rangeget: resuming: [\d.]+ (B|KiB|MiB) already downloaded, [\d.]+ (KiB|MiB) left$/);
    assert.match(lines[1]!, /^saved .*slow\.bin \(4\.00 MiB\), .* resumed$/);
    assert.equal(await sha256File(join(cwd, 'slow.bin')), server.sha256('/slow.bin'));
    assert.deepEqual(await list(cwd), ['slow.bin']);
    // Only the missing bytes went over the wire again.
    const sent = server.stats.log.filter((x) => x.method === 'GET').reduce((n, x) => n + x.bytes, 0);
    assert.ok(sent <= size - kept, `sent ${sent} bytes again, ${size - kept} were missing`);
  });

  it('SIGINT with --json ends with an EABORTED error event; the resume reports resumed bytes', T, async (t) => {
    const size = 4 * MiB;
    const spec: FileSpec = { size };
    const server = await serve(t, { '/slowj.bin': { ...spec, throttle: 256 * KiB } });
    const cwd = await workDir(t);
    const args = ['--json', server.url('/slowj.bin'), '-c', '4', '--min-range', '256K'];
    const child = startCli(t, args, { cwd });
    await child.waitForLine(
      (line) => {
        const e = JSON.parse(line) as { type: string; downloaded?: number };
        return e.type === 'progress' && (e.downloaded ?? 0) > 0;
      },
      { what: 'a progress event with bytes downloaded' },
    );
    assert.ok(child.child.kill('SIGINT'));
    const r = await child.wait();
    assert.equal(r.code, 130, r.stderr);
    assert.equal(r.stderr, '');
    const events = jsonLines(r.stdout);
    assert.deepEqual(await list(cwd), ['slowj.bin.part', 'slowj.bin.part.json']);
    const state = JSON.parse(await readFile(join(cwd, 'slowj.bin.part.json'), 'utf8')) as { written: Array<[number, number]> };
    const kept = state.written.reduce((sum, [a, b]) => sum + b - a, 0);
    assert.ok(kept > 0);
    assert.deepEqual(events.at(-1), {
      type: 'error',
      code: 'EABORTED',
      message: `interrupted at ${formatBytes(kept)} of 4.00 MiB; run the same command to resume`,
      exitCode: 130,
    });

    server.set('/slowj.bin', spec);
    const again = await runCli(t, args, { cwd });
    assert.equal(again.code, 0, again.stderr);
    const out = jsonLines(again.stdout);
    assert.deepEqual(out.find((e) => e.type === 'resume'), { type: 'resume', have: kept, left: size - kept });
    const done = out.at(-1)!;
    assert.equal(done.type, 'done');
    assert.equal(done.resumed, kept);
    assert.equal(await sha256File(join(cwd, 'slowj.bin')), server.sha256('/slowj.bin'));
    assert.deepEqual(await list(cwd), ['slowj.bin']);
  });

  it('SIGTERM exits 143 and keeps the partial download', T, async (t) => {
    const server = await serve(t, { '/slowt.bin': { size: 4 * MiB, throttle: 256 * KiB } });
    const cwd = await workDir(t);
    const child = startCli(t, [server.url('/slowt.bin'), '-c', '4', '--min-range', '256K'], { cwd });
    await waitFor('a control file that claims bytes', () => claimed(join(cwd, 'slowt.bin.part.json')), 10_000);
    assert.ok(child.child.kill('SIGTERM'));
    const r = await child.wait();
    assert.equal(r.code, 143, r.stderr);
    assert.match(r.stderr, /^rangeget: interrupted at [\d.]+ (KiB|MiB) of 4\.00 MiB; run the same command to resume\n$/);
    assert.deepEqual(await list(cwd), ['slowt.bin.part', 'slowt.bin.part.json']);
  });

  it('SIGINT during the probe says that nothing was downloaded, and leaves nothing', T, async (t) => {
    // HEAD refused, then a GET that is never answered: the probe waits.
    const server = await serve(t, { '/hang.bin': { size: MiB, head: false, faults: { noHeaders: 1 } } });
    const cwd = await workDir(t);
    const child = startCli(t, [server.url('/hang.bin')], { cwd });
    await waitFor('the probe GET', () => server.stats.log.some((r) => r.method === 'GET') || undefined, 10_000);
    assert.ok(child.child.kill('SIGINT'));
    const r = await child.wait();
    assert.equal(r.code, 130, r.stderr);
    assert.equal(r.stderr, 'rangeget: interrupted before any byte was downloaded\n');
    assert.deepEqual(await list(cwd), []);
  });

  it('SIGINT on a server without ranges promises no resume, and the next run indeed starts over', T, async (t) => {
    const spec: FileSpec = { size: 4 * MiB, ranges: false };
    const server = await serve(t, { '/nr.bin': { ...spec, throttle: 256 * KiB } });
    const cwd = await workDir(t);
    const child = startCli(t, ['--json', server.url('/nr.bin')], { cwd });
    const progress = await child.waitForLine(
      (line) => {
        const e = JSON.parse(line) as { type: string; downloaded?: number };
        return e.type === 'progress' && (e.downloaded ?? 0) > 0;
      },
      { what: 'a progress event with bytes downloaded' },
    );
    assert.ok(progress);
    assert.ok(child.child.kill('SIGINT'));
    const r = await child.wait();
    assert.equal(r.code, 130, r.stderr);
    const last = jsonLines(r.stdout).at(-1)!;
    assert.equal(last.code, 'EABORTED');
    const part = join(cwd, 'nr.bin.part');
    assert.match(
      String(last.message),
      new RegExp(`^interrupted at [\\d.]+ (KiB|MiB) of 4\\.00 MiB \\(in ${escape(part)}\\); the server cannot resume this download .*, so the next run starts over$`),
    );
    // The control file claims nothing; it says that the .part is rangeget's (engine/resume.ts).
    assert.deepEqual(await list(cwd), ['nr.bin.part', 'nr.bin.part.json']);

    server.set('/nr.bin', spec);
    server.resetStats();
    const again = await runCli(t, [server.url('/nr.bin')], { cwd });
    assert.equal(again.code, 0, again.stderr);
    // Its control file (claiming nothing) says the .part is rangeget's: started over, not moved aside.
    assert.match(again.stderr, /cannot resume: the server does not support ranges, so the download cannot be resumed; starting over/);
    assert.doesNotMatch(again.stderr, /kept as/);
    assert.equal(await sha256File(join(cwd, 'nr.bin')), server.sha256('/nr.bin'));
  });
});
