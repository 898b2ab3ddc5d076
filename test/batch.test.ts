/**
 * Batches: `downloadMany()` in the library, and several URLs / `-i FILE` / `-j` in the CLI,
 * against the loopback test server. The oracle is the byte-exact SHA-256 of every file.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { batchInterruption, formatBytes } from '../src/cli/format.js';
import {
  AbortError,
  downloadMany,
  ExitCode,
  parseInputFile,
  RangegetError,
  UsageError,
  type BatchItemResult,
  type BatchOptions,
  type DownloadEvent,
} from '../src/index.js';
import { WHOLE_PROBE_MAX } from '../src/http/probe.js';
import { jsonLines, runMain } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { serve, type FileSpec, type TestServer } from './helpers/server.js';
import { list, tempDir, waitFor } from './helpers/tmp.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const T = { timeout: 40_000 };

async function assertSame(server: TestServer, path: string, file: string): Promise<void> {
  assert.equal(await sha256File(file), server.sha256(path), `${file} is byte-exact ${path}`);
}

/** A batch of every file served, each checked byte-exact; its warnings as `PATH: message`. */
async function fetchEvery(t: TestContext, files: Record<string, FileSpec>, options: Omit<BatchOptions, 'dir' | 'onEvent'>) {
  const server = await serve(t, files);
  const dir = await tempDir(t);
  const names = Object.keys(files);
  const warnings: string[] = [];
  const onEvent = (e: DownloadEvent, index: number): void => {
    if (e.type === 'warning') warnings.push(`${names[index]}: ${e.message}`);
  };
  const results = await downloadMany(names.map((p) => server.url(p)), { ...options, dir, onEvent });
  for (const [i, r] of results.entries()) {
    assert.ok(r.ok, `${names[i]}: ${r.ok ? '' : r.error.message}`);
    await assertSame(server, names[i]!, r.result.path);
  }
  return { server, names, results, warnings };
}

describe('parseInputFile (aria2 format)', () => {
  it('reads URLs, skips blank and # lines, takes indented out= / dir= / checksum= options', () => {
    const text =
      '\uFEFF# downloads\r\n' +
      'http://127.0.0.1:1/a.iso\r\n' +
      '  out=renamed.iso\r\n' +
      '\tdir=isos\r\n' +
      '\r\n' +
      '   # an indented comment\n' +
      'http://127.0.0.1:1/b.iso\n' +
      '  checksum=sha-256=' + 'ab'.repeat(32) + '\n' +
      'http://127.0.0.1:1/c?x=1\n';
    assert.deepEqual(parseInputFile(text, 'list.txt'), [
      { url: 'http://127.0.0.1:1/a.iso', line: 2, output: 'renamed.iso', dir: 'isos' },
      { url: 'http://127.0.0.1:1/b.iso', line: 7, checksum: 'sha-256=' + 'ab'.repeat(32) },
      { url: 'http://127.0.0.1:1/c?x=1', line: 9 },
    ]);
    assert.deepEqual(parseInputFile('', 'x'), []);
    assert.deepEqual(parseInputFile('# only a comment\n\n', 'x'), []);
  });

  it('refuses what it cannot honour, naming file and line', () => {
    const cases: Array<[string, RegExp]> = [
      ['  out=a\nhttp://127.0.0.1:1/a\n', /^list:1: an option line \(indented\) must follow a URL line$/],
      ['http://127.0.0.1:1/a\n  header=X: y\n', /^list:2: unknown option 'header=X: y' \(accepted: out=NAME, dir=DIR, checksum=ALGO=HEX\)$/],
      ['http://127.0.0.1:1/a\n  out=\n', /^list:2: out= needs a value$/],
      ['http://127.0.0.1:1/a\n  out\n', /^list:2: unknown option/],
      ['http://127.0.0.1:1/a\thttp://127.0.0.1:2/a\n', /^list:1: several URLs on one line \(aria2 mirrors\) are not supported/],
      ['http://127.0.0.1:1/a\nftp://127.0.0.1/b\n', /^list:2: ftp: is not supported/],
      ['\n\nexample.com/x\n', /^list:3: URL 'example.com\/x' has no scheme/],
      ['http://127.0.0.1:1/a\n  checksum=sha256=abc\n', /^list:2: checksum=: a sha256 digest is 64 hex digits; got 3 digits$/],
      ['http://user:secret@/x\n', /^list:1: /],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseInputFile(text, 'list'), (err: unknown) => {
        assert.ok(err instanceof UsageError, `UsageError for ${JSON.stringify(text)}`);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      });
    }
  });
});

describe('downloadMany', () => {
  it('downloads every item, in order, each byte-exact; one failure does not stop the others', T, async (t) => {
    const server = await serve(t, {
      '/a.bin': { size: 300 * KiB },
      '/b.bin': { size: 200 * KiB, ranges: false },
      '/c.bin': { size: 100 * KiB },
      '/missing.bin': { size: 1, status: 404 },
    });
    const dir = await tempDir(t);
    const events: Array<[DownloadEvent, number]> = [];
    const ended: BatchItemResult[] = [];
    const results = await downloadMany(
      [
        server.url('/a.bin'),
        server.url('/missing.bin'),
        new URL(server.url('/b.bin')),
        { url: server.url('/c.bin'), output: 'renamed.bin', connections: 1 },
        'ftp://127.0.0.1/nope',
      ],
      {
        jobs: 2,
        dir,
        connections: 4,
        minRangeSize: 32 * KiB,
        retryWait: 1,
        onEvent: (e, i) => events.push([e, i]),
        onItemEnd: (r) => ended.push(r),
      },
    );
    assert.deepEqual(results.map((r) => [r.index, r.ok]), [[0, true], [1, false], [2, true], [3, true], [4, false]]);
    assert.deepEqual(results.map((r) => r.url), [
      server.url('/a.bin'),
      server.url('/missing.bin'),
      server.url('/b.bin'),
      server.url('/c.bin'),
      'ftp://127.0.0.1/nope',
    ]);
    const [a, missing, b, c, ftp] = results;
    assert.ok(a?.ok && b?.ok && c?.ok);
    assert.ok(missing && !missing.ok && ftp && !ftp.ok);
    assert.equal(missing.error.code, 'EHTTP');
    assert.equal(missing.error.exitCode, ExitCode.http);
    assert.equal(ftp.error.code, 'EUSAGE');
    assert.equal(c.result.path, join(dir, 'renamed.bin'));
    assert.equal(c.result.connections, 1);
    await assertSame(server, '/a.bin', a.result.path);
    await assertSame(server, '/b.bin', b.result.path);
    await assertSame(server, '/c.bin', c.result.path);
    assert.deepEqual(await list(dir), ['a.bin', 'b.bin', 'renamed.bin']);
    // Every event is tagged with its own item.
    for (const [event, index] of events) {
      if (event.type === 'probe' || event.type === 'done') {
        assert.equal(event.url, results[index]!.url, `${event.type} event of item ${index}`);
      }
    }
    assert.deepEqual(events.filter(([e]) => e.type === 'done').map(([, i]) => i).sort(), [0, 2, 3]);
    assert.deepEqual(ended.map((r) => r.index).sort(), [0, 1, 2, 3, 4], 'onItemEnd once per item');
  });

  it('runs at most `jobs` files at once; jobs: 1 is strictly one after another', T, async (t) => {
    const files: Record<string, FileSpec> = {};
    for (let i = 0; i < 3; i++) files[`/f${i}.bin`] = { size: 64 * KiB, throttle: 128 * KiB };
    const server = await serve(t, files);
    for (const jobs of [1, 2]) {
      const dir = await tempDir(t);
      let running = 0;
      let most = 0;
      const order: string[] = [];
      const results = await downloadMany(Object.keys(files).map((p) => server.url(p)), {
        jobs,
        dir,
        connections: 1,
        onEvent: (e, i) => {
          if (e.type === 'probe') {
            running++;
            most = Math.max(most, running);
            order.push(`start ${i}`);
          }
        },
        onItemEnd: (r) => {
          running--;
          order.push(`end ${r.index}`);
        },
      });
      assert.ok(results.every((r) => r.ok), `jobs ${jobs}: all ok`);
      for (const r of results) if (r.ok) await assertSame(server, `/f${r.index}.bin`, r.result.path);
      assert.ok(most <= jobs, `jobs ${jobs}: at most ${jobs} at once, saw ${most}`);
      if (jobs === 1) {
        assert.deepEqual(order, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
      } else {
        // Each file takes at least 500 ms to send and the first two start together.
        assert.equal(most, 2, `jobs 2: two at once (${order.join(', ')})`);
      }
    }
  });

  it('reuses connections from one item to the next (probes by GET, not HEAD; redirects included)', T, async (t) => {
    const files: Record<string, FileSpec> = {};
    for (let i = 0; i < 20; i++) files[`/r${i}.bin`] = { size: 48 * KiB };
    // Half the URLs redirect: each redirect's response leaves its connection open too.
    for (let i = 0; i < 10; i++) files[`/go${i}`] = { size: 1, redirect: `/r${i}.bin` };
    const server = await serve(t, files);
    const dir = await tempDir(t);
    const urls = Array.from({ length: 20 }, (_, i) => server.url(i < 10 ? `/go${i}` : `/r${i}.bin`));
    const results = await downloadMany(urls, { jobs: 4, dir, connections: 2 });
    assert.ok(results.every((r) => r.ok), 'all ok');
    for (const r of results) if (r.ok) await assertSame(server, `/r${r.index}.bin`, r.result.path);
    // On its own, each download would open one connection to probe and another to fetch: 40.
    // undici closes the connection after every HEAD, so a batch probes with GET bytes=0-0 and
    // keeps at most jobs × (connections + 1) = 12 open (with HEAD probes: 22–24 seen).
    assert.equal(server.stats.log.filter((r) => r.method === 'HEAD').length, 0, 'no HEAD in a batch');
    // The same with the main thread's lean connections (the default) and with undici's.
    assert.ok(server.stats.connections <= 4 * 3, `${server.stats.connections} connections for 20 files`);
  });

  it('probes by GET of a small file\'s every byte for every kind of file: empty, chunked, ranges ignored, redirected', T, async (t) => {
    const files: Record<string, FileSpec> = {
      '/empty.bin': { size: 0 },
      '/chunked.bin': { size: 100 * KiB, length: false },
      '/whole.bin': { size: 1024 * KiB, ranges: false },
      '/ranged.bin': { size: 700 * KiB },
      '/moved': { size: 1, redirect: '/ranged.bin' },
    };
    const server = await serve(t, files);
    const dir = await tempDir(t);
    const names = ['/empty.bin', '/chunked.bin', '/whole.bin', '/moved'];
    const results = await downloadMany(names.map((p) => server.url(p)), { jobs: 2, dir, connections: 4, minRangeSize: 64 * KiB });
    assert.deepEqual(results.map((r) => r.ok), [true, true, true, true]);
    for (const [i, r] of results.entries()) {
      if (!r.ok) continue;
      const served = names[i] === '/moved' ? '/ranged.bin' : names[i]!;
      await assertSame(server, served, r.result.path);
    }
    assert.deepEqual(await list(dir), ['chunked.bin', 'empty.bin', 'ranged.bin', 'whole.bin']);
    // Each file's first request is the probe: a GET from the first byte (of a small file's every
    // byte, or of one byte after a bigger file: see the next test).
    for (const path of names) {
      const first = server.stats.log.find((r) => r.path === path);
      assert.equal(first?.method, 'GET', path);
      assert.match(first?.headers.range ?? '', new RegExp(`^bytes=0-(0|${WHOLE_PROBE_MAX - 1})$`), path);
    }
    assert.equal(server.stats.log.filter((r) => r.method === 'HEAD').length, 0);
  });

  it('a small file comes whole with the probe, one request; after a bigger file from the same server, one byte is asked', T, async (t) => {
    const files: Record<string, FileSpec> = {
      '/small.bin': { size: 100 * KiB },
      '/edge.bin': { size: WHOLE_PROBE_MAX },
      // A 200 to the probe's range: the whole file either way, and no warning for a small one.
      '/plain.bin': { size: 100 * KiB, ranges: false },
      '/over.bin': { size: WHOLE_PROBE_MAX + 1 },
      '/big.bin': { size: 2 * MiB },
      '/plain-big.bin': { size: 600 * KiB, ranges: false },
      '/small2.bin': { size: 50 * KiB },
      '/small3.bin': { size: 60 * KiB },
    };
    // One at a time, so that each probe follows the one before.
    const { server, names, results, warnings } = await fetchEvery(t, files, { jobs: 1, connections: 4, minRangeSize: 64 * KiB });
    const asked = (path: string): Array<[string, number]> => server.stats.log.filter((r) => r.path === path).map((r) => [r.headers.range ?? '', r.status]);
    const whole = `bytes=0-${WHOLE_PROBE_MAX - 1}`;
    assert.deepEqual(asked('/small.bin'), [[whole, 206]]);
    assert.deepEqual(asked('/edge.bin'), [[whole, 206]]);
    assert.deepEqual(asked('/plain.bin'), [[whole, 200]]);
    // After a bigger file, one byte: the probe, then ranges.
    for (const [path, probe] of [['/over.bin', whole], ['/big.bin', 'bytes=0-0'], ['/small2.bin', 'bytes=0-0']] as const) {
      const [first, ...rest] = asked(path);
      assert.deepEqual(first, [probe, 206], path);
      assert.ok(rest.length >= 1 && rest.every(([range, status]) => range !== whole && status === 206), `${path} in ranges: ${JSON.stringify(rest)}`);
    }
    assert.deepEqual(asked('/plain-big.bin'), [['bytes=0-0', 200]]);
    assert.deepEqual(asked('/small3.bin'), [[whole, 206]], 'after a small file, whole again');
    for (const name of ['/small.bin', '/edge.bin', '/plain.bin', '/small3.bin']) {
      const r = results[names.indexOf(name)];
      assert.equal(r?.ok && r.result.connections, 1, name);
    }
    assert.deepEqual(warnings, ['/plain-big.bin: using one connection: the server ignores range requests']);
  });

  it('a small file\'s whole answer that breaks off, resets, runs past its range, stops short or is refused is fetched right all the same', T, async (t) => {
    const files: Record<string, FileSpec> = {
      '/cut.bin': { size: 100 * KiB, faults: { shortBody: 1 } },
      '/reset.bin': { size: 120 * KiB, faults: { reset: 1 } },
      // Chunked 206s with junk after the announced range: never written.
      '/junk.bin': { size: 90 * KiB, faults: { extraBytes: 1000 } },
      // A server that caps each 206: the probe's answer is the first 32 KiB, not the file.
      '/capped.bin': { size: 200 * KiB, faults: { rangeCap: 32 * KiB } },
      // A server that refuses a range running past the end: asked for the first byte instead.
      '/strict.bin': { size: 70 * KiB, faults: { overlongRange416: true } },
    };
    const { server, warnings } = await fetchEvery(t, files, { jobs: 2, connections: 2, minRangeSize: 16 * KiB });
    const strict = server.stats.log.filter((r) => r.path === '/strict.bin').map((r) => [r.headers.range, r.status]);
    assert.deepEqual(strict.slice(0, 2), [[`bytes=0-${WHOLE_PROBE_MAX - 1}`, 416], ['bytes=0-0', 206]]);
    // The broken answers were noticed and the files fetched again; the others needed no word.
    for (const name of ['/cut.bin', '/reset.bin']) {
      assert.ok(warnings.some((w) => w.startsWith(`${name}: the answer `) && w.endsWith('fetching the file again')), `${name}: ${JSON.stringify(warnings)}`);
    }
    assert.ok(!warnings.some((w) => w.startsWith('/junk.bin') || w.startsWith('/capped.bin')), JSON.stringify(warnings));
  });

  it('one connection serves item after item when each answer was read to its end by a slower writer', T, async (t) => {
    // A kept body's last read filled the stream and paused the connection; it was parked so
    // and the next item's probe on it waited forever.
    const files: Record<string, FileSpec> = {};
    for (let i = 0; i < 3; i++) files[`/p${i}.bin`] = { size: 300 * KiB, ranges: false };
    for (let i = 0; i < 3; i++) files[`/s${i}.bin`] = { size: 200 * KiB };
    const server = await serve(t, files);
    const dir = await tempDir(t);
    const names = Object.keys(files);
    // One connection per file: a file probed by one byte (after a bigger one) may otherwise be
    // split over new connections when the probe's round trip looks long (a loaded CI machine).
    const results = await downloadMany(names.map((p) => server.url(p)), { jobs: 1, connections: 1, dir });
    for (const [i, r] of results.entries()) {
      assert.ok(r.ok, names[i]);
      await assertSame(server, names[i]!, r.result.path);
    }
    assert.equal(server.stats.connections, 1);
  });

  it('16 jobs on one signal print no listener warning (the caller\'s signal gets one listener)', T, async (t) => {
    const files: Record<string, FileSpec> = {};
    for (let i = 0; i < 20; i++) files[`/w${i}.bin`] = { size: 32 * KiB, throttle: 128 * KiB };
    const server = await serve(t, files);
    const dir = await tempDir(t);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const controller = new AbortController();
    let most = 0;
    let running = 0;
    const results = await downloadMany(Object.keys(files).map((p) => server.url(p)), {
      jobs: 16,
      dir,
      connections: 2,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'probe') most = Math.max(most, ++running);
      },
      onItemEnd: () => running--,
    });
    assert.ok(results.every((r) => r.ok), 'all ok');
    assert.ok(most > 10, `only ${most} items ran at once`);
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  });

  it('abort stops every item, keeps their partial state, and the same batch then resumes byte-exact', T, async (t) => {
    // Every GET of the first two files sends 1.5 MiB and then stalls: they are running, with
    // bytes on disk (a connection writes every 1 MiB), until the abort, however slow the machine.
    const stalling: FileSpec = { size: 3 * MiB, faults: { stallAfter: 1.5 * MiB, stallEvery: true } };
    const server = await serve(t, { '/slow1.bin': stalling, '/slow2.bin': stalling, '/later.bin': { size: 64 * KiB } });
    const dir = await tempDir(t);
    const items = ['/slow1.bin', '/slow2.bin', '/later.bin'].map((p) => server.url(p));
    const controller = new AbortController();
    const progressed = new Set<number>();
    const first = downloadMany(items, {
      jobs: 2,
      dir,
      connections: 1,
      progressInterval: 20,
      signal: controller.signal,
      onEvent: (e, i) => {
        if (e.type === 'progress' && e.downloaded > 0) progressed.add(i);
      },
    });
    await waitFor('both running items to write bytes', () => progressed.size === 2, 20_000);
    controller.abort();
    const stopped = await first;
    assert.deepEqual(stopped.map((r) => [r.ok, r.ok ? '' : r.error.code]), [[false, 'EABORTED'], [false, 'EABORTED'], [false, 'EABORTED']]);
    const left = await list(dir);
    assert.deepEqual(left, ['slow1.bin.part', 'slow1.bin.part.json', 'slow2.bin.part', 'slow2.bin.part.json'], 'the item not started left nothing');
    // Each error says what its item left: the bytes its control file claims, resumable; nothing for the third.
    const claims = await Promise.all(['slow1', 'slow2'].map(async (name) => {
      const state = JSON.parse(await readFile(join(dir, `${name}.bin.part.json`), 'utf8')) as { written: Array<[number, number]> };
      return state.written.reduce((sum, [a, b]) => sum + b - a, 0);
    }));
    const errors = stopped.map((r) => (r.ok ? undefined : r.error));
    assert.ok(errors.every((e) => e instanceof AbortError));
    const at = (errors as AbortError[]).map((e) => [e.written, e.resumable]);
    assert.deepEqual(at, [[claims[0], true], [claims[1], true], [0, false]]);
    assert.ok(claims[0]! > 0 && claims[1]! > 0);
    assert.equal(
      batchInterruption(errors as AbortError[]),
      `interrupted; 2 partial downloads kept (${formatBytes(claims[0]! + claims[1]!)}): run the same command to resume`,
    );

    // Same content, same validators, no more stalls.
    server.set('/slow1.bin', { size: 3 * MiB });
    server.set('/slow2.bin', { size: 3 * MiB });

    const again = await downloadMany(items, { jobs: 3, dir, connections: 2, threads: 1, minRangeSize: 64 * KiB });
    for (const [i, r] of again.entries()) {
      assert.ok(r.ok, `item ${i} ok after resume: ${r.ok ? '' : r.error.message}`);
      await assertSame(server, ['/slow1.bin', '/slow2.bin', '/later.bin'][i]!, r.result.path);
      if (i < 2) assert.ok(r.result.resumed > 0, `item ${i} resumed its bytes`);
    }
    assert.deepEqual(await list(dir), ['later.bin', 'slow1.bin', 'slow2.bin']);
  });

  it('never lets two items of one batch write the same file, even with overwrite', T, async (t) => {
    const server = await serve(t, {
      '/one': { size: 200 * KiB, contentDisposition: 'attachment; filename="same.bin"', throttle: 1024 * KiB },
      '/two': { size: 150 * KiB, contentDisposition: 'attachment; filename="same.bin"', throttle: 1024 * KiB },
    });
    const dir = await tempDir(t);
    const results = await downloadMany([server.url('/one'), server.url('/two')], { jobs: 2, dir, overwrite: true, connections: 2, threads: 1 });
    const ok = results.filter((r) => r.ok);
    const failed = results.filter((r) => !r.ok);
    assert.equal(ok.length, 1);
    assert.equal(failed.length, 1);
    const winner = ok[0]!;
    const loser = failed[0]!;
    assert.ok(winner.ok && !loser.ok);
    assert.equal(loser.error.code, 'EFILE');
    assert.match(loser.error.message, new RegExp(`same\\.bin is already the output of item ${winner.index + 1} of this batch`));
    await assertSame(server, winner.index === 0 ? '/one' : '/two', join(dir, 'same.bin'));
    assert.deepEqual(await list(dir), ['same.bin']);
    // The loser's probe told its name (its answer carried the file, small as it is): nothing after it.
    const loserPath = winner.index === 0 ? '/two' : '/one';
    assert.deepEqual(server.stats.log.filter((r) => r.path === loserPath).map((r) => [r.method, r.headers.range]), [['GET', 'bytes=0-262143']], 'the loser sent its probe only');
  });

  it('rejects only for invalid batch options', async () => {
    await assert.rejects(downloadMany(['http://127.0.0.1:1/x'], { jobs: 0 }), (err: unknown) => err instanceof UsageError && /jobs: 0 must be an integer from 1 to 64/.test(err.message));
    await assert.rejects(
      downloadMany(['http://127.0.0.1:1/x'], { output: 'x' } as never),
      (err: unknown) => err instanceof RangegetError && err.code === 'EUSAGE',
    );
    assert.deepEqual(await downloadMany([]), []);
  });
});

describe('cli: batches', () => {
  it('several URLs: one line per file, a summary naming the failure, exit 8', T, async (t) => {
    const server = await serve(t, {
      '/a.bin': { size: 200 * KiB },
      '/b.bin': { size: 100 * KiB },
      '/gone.bin': { size: 1, status: 410 },
    });
    const dir = await tempDir(t);
    const r = await runMain([server.url('/a.bin'), server.url('/gone.bin'), server.url('/b.bin'), '-d', dir, '-j', '2', '-c', '2']);
    assert.equal(r.code, ExitCode.batch, r.stderr);
    assert.equal(r.stdout, '');
    await assertSame(server, '/a.bin', join(dir, 'a.bin'));
    await assertSame(server, '/b.bin', join(dir, 'b.bin'));
    const lines = r.stderr.trimEnd().split('\n');
    assert.ok(lines.some((l) => l.startsWith(`[1/3] saved ${join(dir, 'a.bin')} (200.0 KiB)`)), r.stderr);
    assert.ok(lines.some((l) => l.startsWith(`[3/3] saved ${join(dir, 'b.bin')} (100.0 KiB)`)), r.stderr);
    assert.ok(lines.includes(`rangeget: [2/3] error: server answered HTTP 410 for ${server.url('/gone.bin')}`), r.stderr);
    assert.deepEqual(lines.slice(-2), [
      'rangeget: 2 ok, 1 failed:',
      `  server answered HTTP 410 for ${server.url('/gone.bin')}`,
    ]);
    assert.doesNotMatch(r.stderr, /\x1b\[/);
  });

  it('-i FILE with out= names and comments, plus a URL on the command line; exit 0', T, async (t) => {
    const server = await serve(t, { '/a.bin': { size: 120 * KiB }, '/b.bin': { size: 80 * KiB }, '/c.bin': { size: 40 * KiB } });
    const dir = await tempDir(t);
    const input = join(dir, 'list.txt');
    await writeFile(input, `# my files\n${server.url('/b.bin')}\n  out=bee.bin\n\n${server.url('/c.bin')}\n  dir=${join(dir, 'sub')}\n`);
    const r = await runMain([server.url('/a.bin'), '-i', input, '-d', join(dir, 'out'), '-j', '3', '--threads', '1']);
    assert.equal(r.code, 0, r.stderr);
    await assertSame(server, '/a.bin', join(dir, 'out', 'a.bin'));
    await assertSame(server, '/b.bin', join(dir, 'out', 'bee.bin'));
    await assertSame(server, '/c.bin', join(dir, 'sub', 'c.bin'));
    assert.match(r.stderr, /^\[1\/3\] saved .*a\.bin/m);
    assert.match(r.stderr, /^\[2\/3\] saved .*bee\.bin/m);
    assert.match(r.stderr, /^\[3\/3\] saved .*c\.bin/m);
    assert.match(r.stderr, /^rangeget: all 3 downloads ok$/m);
  });

  it("-i - reads stdin; --json tags events with index and ends with a summary", T, async (t) => {
    const server = await serve(t, { '/a.bin': { size: 64 * KiB }, '/b.bin': { size: 32 * KiB }, '/no': { size: 1, status: 404 } });
    const dir = await tempDir(t);
    const r = await runMain(['-i', '-', '-d', dir, '--json', '-j', '3', '--threads', '1'], {
      stdin: `${server.url('/a.bin')}\n  out=first.bin\n${server.url('/no')}\n${server.url('/b.bin')}\n`,
    });
    assert.equal(r.code, ExitCode.batch, r.stdout);
    assert.equal(r.stderr, '');
    await assertSame(server, '/a.bin', join(dir, 'first.bin'));
    await assertSame(server, '/b.bin', join(dir, 'b.bin'));
    const events = jsonLines(r.stdout);
    const last = events[events.length - 1]!;
    assert.deepEqual(last, {
      type: 'summary',
      total: 3,
      ok: 2,
      failed: 1,
      exitCode: 8,
      failures: [{ index: 1, url: server.url('/no'), code: 'EHTTP', message: `server answered HTTP 404 for ${server.url('/no')}`, exitCode: 3 }],
    });
    for (const e of events.slice(0, -1)) assert.equal(typeof e.index, 'number', `index on ${JSON.stringify(e)}`);
    assert.deepEqual(
      events.filter((e) => e.type === 'done').map((e) => [e.index, e.path]).sort(),
      [[0, join(dir, 'first.bin')], [2, join(dir, 'b.bin')]],
    );
    assert.deepEqual(events.filter((e) => e.type === 'error'), [
      { type: 'error', index: 1, url: server.url('/no'), code: 'EHTTP', message: `server answered HTTP 404 for ${server.url('/no')}`, exitCode: 3 },
    ]);
  });

  it('usage errors before any request: -o with several URLs or -i, a bad input line, a missing file', T, async (t) => {
    const server = await serve(t, { '/a.bin': { size: 10 } });
    const dir = await tempDir(t);
    const input = join(dir, 'list.txt');
    await writeFile(input, `${server.url('/a.bin')}\n  referer=x\n`);
    const cases: Array<[string[], RegExp]> = [
      [['-o', 'x.bin', server.url('/a.bin'), server.url('/a.bin')], /-o names one file, but several URLs were given/],
      [['-o', 'x.bin', '-i', input], /-o names one file, but several URLs were given/],
      [['-i', input], new RegExp(`${input.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: unknown option 'referer=x'`)],
      [['-i', join(dir, 'nope.txt')], /-i: cannot read .*nope\.txt: ENOENT/],
      [[server.url('/a.bin'), 'ftp://127.0.0.1/x'], /ftp: is not supported/],
      [['-j', '0', server.url('/a.bin')], /-j: '0' must be an integer from 1 to 64/],
      [[], /missing URL/],
    ];
    for (const [args, message] of cases) {
      const r = await runMain([...args, '-d', dir]);
      assert.equal(r.code, ExitCode.usage, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
    }
    const empty = join(dir, 'empty.txt');
    await writeFile(empty, '# nothing\n');
    const r = await runMain(['-i', empty, '-d', dir]);
    assert.equal(r.code, ExitCode.usage);
    assert.match(r.stderr, /-i: no URLs in .*empty\.txt/);
    assert.equal(server.stats.requests, 0, 'nothing was sent');
  });

  it('SIGTERM stops the whole batch: exit 143, partial files kept', T, async (t) => {
    // Both files stall after 32 KiB: still running when the signal comes, however slow the machine.
    const stalling: FileSpec = { size: 512 * KiB, faults: { stallAfter: 32 * KiB, stallEvery: true } };
    const server = await serve(t, { '/s1.bin': stalling, '/s2.bin': stalling });
    const dir = await tempDir(t);
    const signals = new EventEmitter();
    const running = runMain([server.url('/s1.bin'), server.url('/s2.bin'), '-d', dir, '-c', '1', '--json'], { signals });
    await waitFor('two .part.json files', async () => (await list(dir)).filter((f) => f.endsWith('.part.json')).length === 2, 20_000);
    signals.emit('SIGTERM');
    const r = await running;
    assert.equal(r.code, ExitCode.sigterm);
    const last = jsonLines(r.stdout).pop();
    assert.equal(last?.type, 'summary');
    assert.equal(last?.exitCode, 143);
    assert.equal(last?.failed, 2);
    assert.deepEqual(await list(dir), ['s1.bin.part', 's1.bin.part.json', 's2.bin.part', 's2.bin.part.json']);
  });

  it('on a terminal: a line for the whole batch, one bar per running file, a line per finished file, cursor restored', T, async (t) => {
    const server = await serve(t, {
      '/a.bin': { size: 256 * KiB, throttle: 128 * KiB },
      '/b.bin': { size: 128 * KiB, throttle: 128 * KiB },
    });
    const dir = await tempDir(t);
    const r = await runMain([server.url('/a.bin'), server.url('/b.bin'), '-d', dir, '-c', '2'], { tty: true });
    assert.equal(r.code, 0, r.stderr);
    await assertSame(server, '/a.bin', join(dir, 'a.bin'));
    await assertSame(server, '/b.bin', join(dir, 'b.bin'));
    assert.match(r.stderr, /\[1\/2\] a\.bin +\S+ +\d+% \|/, 'a bar for a.bin');
    assert.match(r.stderr, /(^|\r|\x1b\[J)0\/2 files done [█░]+ [\d.]+ (B|KiB|MiB) \| [\d.]+ (B|KiB|MiB)\/s\n\[1\/2\] a\.bin/, 'the whole batch first');
    assert.match(r.stderr, /\[1\/2\] saved .*a\.bin/);
    assert.match(r.stderr, /\[2\/2\] saved .*b\.bin/);
    assert.match(r.stderr, /rangeget: all 2 downloads ok\n$/);
    // The cursor was hidden for the bars and is shown again.
    assert.ok(r.stderr.lastIndexOf('\x1b[?25h') > r.stderr.lastIndexOf('\x1b[?25l'));
    assert.equal(r.stdout, '');
    const size = (await stat(join(dir, 'a.bin'))).size;
    assert.equal(size, 256 * KiB);
    assert.ok((await readFile(join(dir, 'b.bin'))).length === 128 * KiB);
  });
});
