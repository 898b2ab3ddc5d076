/**
 * Streaming (`-o -`, downloadStream, downloadTo) against the loopback test server: the
 * stream's SHA-256 is the file's for every size and server; the connections stay within the
 * window of a slow reader; a child's peak RSS stays bounded by the window on a 256 MiB file;
 * a closed pipe, Ctrl-C and a wrong checksum end with their exit codes; no ring file is left.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, createReadStream, openSync } from 'node:fs';
import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortError, ChecksumError, download, downloadStream, downloadTo, ExitCode, FileError } from '../src/index.js';
import { main } from '../src/cli/main.js';
import { BIN, childEnv, runCli, startCli } from './helpers/cli.js';
import { serve } from './helpers/server.js';
import { list, tempDir, waitFor, type AfterContext } from './helpers/tmp.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const T = { timeout: 60_000 };
const ZEROS = `sha256=${'0'.repeat(64)}`;

/** How a streaming child ended, with the SHA-256 and length of its stdout. */
interface Streamed {
  code: number | null;
  sha256: string;
  bytes: number;
  stderr: string;
  /** Peak RSS of the child in bytes, when asked for. */
  maxRss?: number;
}

/** Reports the child's peak RSS (all its threads) on stderr as it exits. */
const RSS_HOOK = `data:text/javascript,${encodeURIComponent("process.on('exit', () => process.stderr.write('maxrss ' + process.resourceUsage().maxRSS + '\\n'))")}`;

/** What is in `tmp` besides the CLI's start-up cache (src/cli/compile-cache.ts): a ring file left would show here. */
async function ringFiles(tmp: string): Promise<string[]> {
  return (await list(tmp)).filter((name) => !name.startsWith('rangeget-compile-cache'));
}

/**
 * Run `rangeget ARGS` with stdout hashed as it arrives (read at `delayMs` per chunk when
 * given); `onData` sees the child once bytes arrive. Killed when the test ends.
 */
async function streamCli(
  t: AfterContext,
  args: string[],
  options: { tmp: string; rss?: boolean; onData?: (child: ReturnType<typeof spawn>, bytes: number) => void },
): Promise<Streamed> {
  const argv = [...(options.rss ? [`--import=${RSS_HOOK}`] : []), BIN, ...args];
  const child = spawn(process.execPath, argv, { env: childEnv({ TMPDIR: options.tmp }), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const hash = createHash('sha256');
  let bytes = 0;
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    options.onData?.(child, bytes);
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const rss = /^maxrss (\d+)$/m.exec(stderr);
  return { code, sha256: hash.digest('hex'), bytes, stderr, ...(rss ? { maxRss: Number(rss[1]) * KiB } : {}) };
}

/** A Writable that hashes what it is given, taking `delayMs` per chunk. */
function hashSink(delayMs = 0, onChunk?: (bytes: number) => void): Writable & { sha256: () => string; bytes: () => number } {
  const hash = createHash('sha256');
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      onChunk?.(bytes);
      if (delayMs > 0) setTimeout(done, delayMs);
      else done();
    },
  });
  return Object.assign(sink, { sha256: () => hash.digest('hex'), bytes: () => bytes });
}

describe('-o -: the CLI streams to stdout', () => {
  it('sizes 0, 1 and odd, ranged and not, byte-exact in file order, reports on stderr only, no ring file left', T, async (t) => {
    const tmp = await tempDir(t);
    const files = { '/zero': { size: 0 }, '/one': { size: 1 }, '/odd': { size: 3 * MiB + 17 }, '/big-odd': { size: 9 * MiB + 3 } };
    const server = await serve(t, { ...files, '/plain': { size: 5 * MiB + 1, ranges: false }, '/chunked': { size: 2 * MiB + 9, ranges: false, length: false } });
    for (const path of [...Object.keys(files), '/plain', '/chunked']) {
      // A small window over the 9 MiB file: the ring wraps many times.
      const r = await streamCli(t, ['-c', '8', '--stream-window', '1M', '-o', '-', server.url(path)], { tmp });
      assert.equal(r.code, 0, `${path}: ${r.stderr}`);
      assert.equal(r.sha256, server.sha256(path), path);
      assert.match(r.stderr, /streamed .* to stdout/, path);
    }
    assert.deepEqual(await ringFiles(tmp), []);
  });

  it('256 MiB at 16 connections: byte-exact, and the peak RSS stays within the window and a constant', T, async (t) => {
    const tmp = await tempDir(t);
    const server = await serve(t, { '/big': { size: 256 * MiB } });
    const window = 16 * MiB;
    const r = await streamCli(t, ['-c', '16', '--stream-window', '16M', '-o', '-', server.url('/big')], { tmp, rss: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.sha256, server.sha256('/big'));
    // Measured about 110 MiB (Node, the worker thread, undici) whatever the size: well under the file.
    assert.ok(r.maxRss !== undefined && r.maxRss < window + 160 * MiB, `peak RSS ${r.maxRss}`);
    assert.deepEqual(await ringFiles(tmp), []);
  });

  it('| head -c 100: the closed pipe ends the run quietly with exit 141', T, async (t) => {
    const tmp = await tempDir(t);
    const server = await serve(t, { '/f': { size: 64 * MiB } });
    const out = `${tmp}/head`;
    const script = '"$0" "$1" -c 8 -o - "$2" | head -c 100 > "$3"; echo "${PIPESTATUS[0]}"';
    const child = spawn('bash', ['-c', script, process.execPath, BIN, server.url('/f'), out], { env: childEnv({ TMPDIR: tmp }), stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    await new Promise((resolve) => child.once('close', resolve));
    assert.equal(stdout.trim(), String(ExitCode.pipe), stderr);
    assert.equal(stderr, '');
    const { readFile } = await import('node:fs/promises');
    assert.deepEqual(await readFile(out), server.content('/f').subarray(0, 100));
    assert.deepEqual(await ringFiles(tmp), ['head']);
  });

  it('a wrong --checksum exits 5 after the last byte: the reader got every byte', T, async (t) => {
    const tmp = await tempDir(t);
    const server = await serve(t, { '/f': { size: 6 * MiB + 5 } });
    const r = await streamCli(t, ['--checksum', ZEROS, '-o', '-', server.url('/f')], { tmp });
    assert.equal(r.code, ExitCode.verify);
    assert.equal(r.sha256, server.sha256('/f'));
    assert.match(r.stderr, /sha256 mismatch: .*already streamed/);
    const ok = await streamCli(t, ['--checksum', `sha256=${server.sha256('/f')}`, '-o', '-', server.url('/f')], { tmp });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /checksum ok/);
    // --json: the events on stderr, the bytes alone on stdout.
    const json = await streamCli(t, ['--json', '--checksum', ZEROS, '-o', '-', server.url('/f')], { tmp });
    assert.equal(json.code, ExitCode.verify);
    assert.equal(json.sha256, server.sha256('/f'));
    const events = json.stderr.trim().split('\n').map((line) => JSON.parse(line) as { type: string; path?: string; code?: string; exitCode?: number });
    assert.equal(events.find((e) => e.type === 'probe')?.path, '-');
    assert.deepEqual([events.at(-1)?.type, events.at(-1)?.code, events.at(-1)?.exitCode], ['error', 'ECHECKSUM', 5]);
  });

  it('Ctrl-C ends the stream with exit 130 and says a stream cannot be resumed; the ring file is gone', T, async (t) => {
    const tmp = await tempDir(t);
    const server = await serve(t, { '/slow': { size: 32 * MiB, throttle: 512 * KiB } });
    let sent = false;
    const r = await streamCli(t, ['-c', '4', '-o', '-', server.url('/slow')], {
      tmp,
      onData: (child, bytes) => {
        if (!sent && bytes > 0) sent = child.kill('SIGINT');
      },
    });
    assert.equal(r.code, ExitCode.sigint, r.stderr);
    assert.match(r.stderr, /interrupted after \d+ bytes were streamed; a stream cannot be resumed/);
    assert.equal(r.sha256, createHash('sha256').update(server.content('/slow').subarray(0, r.bytes)).digest('hex'));
    assert.deepEqual(await ringFiles(tmp), []);
  });

  it('a reader that stops reading stops the connections within the window, and Ctrl-C still ends the run at once', T, async (t) => {
    const tmp = await tempDir(t);
    const server = await serve(t, { '/f': { size: 64 * MiB } });
    const child = spawn(process.execPath, [BIN, '--stream-window', '4M', '-o', '-', server.url('/f')], { env: childEnv({ TMPDIR: tmp }), stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    child.stdout.pause(); // never read until the end: the pipe and the child's queue fill up
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waitFor('the window fetched', () => server.stats.bytesSent >= 4 * MiB, 20_000);
    // Given time to run on, it does not: the connections have nothing within the window left.
    let last = -1;
    await waitFor('the server to send nothing more for 300 ms', () => last === (last = server.stats.bytesSent), 20_000, 300);
    child.kill('SIGINT');
    const code = await exit;
    child.stdout.resume();
    assert.equal(code, ExitCode.sigint, stderr);
    assert.ok(server.stats.bytesSent <= 4 * MiB + MiB, `sent ${server.stats.bytesSent}`);
    assert.match(stderr, /interrupted after \d+ bytes were streamed/);
  });

  it('a bar on stderr when it is a terminal, though stdout is a pipe; none with TERM=dumb', T, async (t) => {
    const server = await serve(t, { '/f': { size: 6 * MiB, throttle: 2 * MiB } });
    const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 100 });
    let text = '';
    stderr.setEncoding('utf8').on('data', (s: string) => (text += s));
    const stdout = hashSink();
    const streams = { stdout, stderr, isTTY: false, env: childEnv({ TERM: 'xterm' }) };
    assert.equal(await main(['-o', '-', server.url('/f')], streams), 0);
    assert.equal(stdout.sha256(), server.sha256('/f'));
    assert.ok(text.includes('\x1b[?25l') && text.includes('\x1b[?25h'), JSON.stringify(text));
    assert.match(text, /streamed 6\.00 MiB to stdout/);
    text = '';
    assert.equal(await main(['-o', '-', server.url('/f')], { ...streams, stdout: hashSink(), env: childEnv({ TERM: 'dumb' }) }), 0);
    assert.doesNotMatch(text, /\x1b/);
  });

  it('usage mistakes exit 2 before any request', T, async (t) => {
    const dir = await tempDir(t);
    const server = await serve(t, { '/f': { size: 10 } });
    for (const args of [
      ['-o', '-', server.url('/f'), server.url('/f')],
      ['--stream-window', '1M', server.url('/f')],
      ['-o', '-', '--continue', server.url('/f')],
      ['-o', '-', '--stream-window', '1K', server.url('/f')],
    ]) {
      const r = await runCli(t, args, { cwd: dir });
      assert.equal(r.code, ExitCode.usage, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^rangeget: /);
    }
    assert.equal(server.stats.requests, 0);
  });
});

describe('-o naming a FIFO or a character device: streamed into, never replaced', () => {
  /** A named pipe in a temp dir (Node has no mkfifo). */
  async function fifo(t: AfterContext): Promise<string> {
    const path = join(await tempDir(t), 'pipe');
    assert.equal(spawnSync('mkfifo', [path]).status, 0, 'mkfifo');
    return path;
  }

  it('-o FIFO: the reader gets the file byte-exact; the FIFO stays a FIFO; the summary names it', T, async (t) => {
    const server = await serve(t, { '/f': { size: 9 * MiB + 3 } });
    const path = await fifo(t);
    const hash = createHash('sha256');
    // The reader opens the FIFO as the CLI does: each waits for the other.
    const read = pipeline(createReadStream(path), hash);
    const r = await runCli(t, ['-c', '8', '-o', path, server.url('/f')], { cwd: await tempDir(t) });
    // A run that never opened the FIFO would leave the reader waiting: let it go, then fail below.
    if (r.code !== 0) await writeFile(path, '');
    await read;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(hash.digest('hex'), server.sha256('/f'));
    assert.match(r.stderr, new RegExp(`streamed 9\\.00 MiB to ${path}`));
    assert.ok((await lstat(path)).isFIFO());
  });

  it('-o /dev/null downloads and discards, exit 0; /dev/null stays a character device', T, async (t) => {
    const server = await serve(t, { '/f': { size: 3 * MiB + 1 } });
    const r = await runCli(t, ['-c', '4', '-o', '/dev/null', server.url('/f')], { cwd: await tempDir(t) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /streamed 3\.00 MiB to \/dev\/null/);
    assert.ok(server.stats.bytesSent >= 3 * MiB + 1, `sent ${server.stats.bytesSent}`);
    assert.ok((await lstat('/dev/null')).isCharacterDevice());
  });

  it('--continue with -o FIFO is a usage error (exit 2) before any request', T, async (t) => {
    const server = await serve(t, { '/f': { size: 10 } });
    const path = await fifo(t);
    const r = await runCli(t, ['--continue', '-o', path, server.url('/f')], { cwd: await tempDir(t) });
    assert.equal(r.code, ExitCode.usage, r.stderr);
    assert.match(r.stderr, /--continue cannot be combined with -o \S*pipe: a stream has no file on disk/);
    assert.equal(server.stats.requests, 0);
    assert.ok((await lstat(path)).isFIFO());
  });

  it('-o /dev/stdout is -o - (--json on stderr, not into the bytes); -o /dev/stderr is refused (exit 2)', T, async (t) => {
    const tmp = await tempDir(t);
    const server = await serve(t, { '/f': { size: 3 * MiB + 5 } });
    const r = await streamCli(t, ['--json', '-c', '4', '-o', '/dev/stdout', server.url('/f')], { tmp });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.sha256, server.sha256('/f'));
    assert.match(r.stderr, /"type":"done"/);
    const e = await streamCli(t, ['-o', '/dev/stderr', server.url('/f')], { tmp });
    assert.equal(e.code, ExitCode.usage);
    assert.match(e.stderr, /^rangeget: error: -o \/dev\/stderr: stderr carries the reports/m);
    assert.equal(e.bytes, 0);
  });

  it('-o /dev/stdout with stdout a file (> out.bin): written in order into that file', T, async (t) => {
    const dir = await tempDir(t);
    const server = await serve(t, { '/f': { size: 3 * MiB + 5 } });
    const out = join(dir, 'out.bin');
    const fd = openSync(out, 'w');
    const child = spawn(process.execPath, [BIN, '-c', '4', '-o', '/dev/stdout', server.url('/f')], { env: childEnv(), stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    t.after(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, stderr);
    assert.equal(createHash('sha256').update(await readFile(out)).digest('hex'), server.sha256('/f'));
  });

  it('Ctrl-C while the FIFO has no reader ends the run at once: exit 130, no request sent', T, async (t) => {
    const server = await serve(t, { '/f': { size: 10 } });
    const path = await fifo(t);
    const cli = startCli(t, ['-o', path, server.url('/f')], { cwd: await tempDir(t) });
    // Linux names where a thread sleeps: in a FIFO's open, "wait_for_partner".
    const waiting = async (): Promise<boolean> => {
      const tasks = await readdir(`/proc/${cli.pid}/task`).catch(() => []);
      const wchans = await Promise.all(tasks.map((task) => readFile(`/proc/${cli.pid}/task/${task}/wchan`, 'utf8').catch(() => '')));
      return wchans.includes('wait_for_partner');
    };
    await waitFor('the CLI waiting for a reader of the FIFO', waiting);
    cli.kill('SIGINT');
    const r = await cli.wait();
    assert.equal(r.code, ExitCode.sigint, r.stderr);
    assert.match(r.stderr, /interrupted after 0 bytes were streamed/);
    assert.equal(server.stats.requests, 0);
    assert.ok((await lstat(path)).isFIFO());
  });

  it('the library never replaces one, even with overwrite: a FileError, the FIFO left as it was', T, async (t) => {
    const server = await serve(t, { '/f': { size: 10 } });
    const path = await fifo(t);
    await assert.rejects(download(server.url('/f'), { output: path, overwrite: true }), (err: unknown) => {
      assert.ok(err instanceof FileError, String(err));
      assert.match(err.message, /is a FIFO, not a file, and a download never replaces one: stream into it instead/);
      return true;
    });
    assert.ok((await lstat(path)).isFIFO());
  });
});

describe('the ring file', () => {
  it('a TMPDIR where it cannot be made is a file error (exit 6) that names TMPDIR; nothing reaches stdout', T, async (t) => {
    const server = await serve(t, { '/f': { size: 5 * MiB } });
    const r = await streamCli(t, ['-o', '-', server.url('/f')], { tmp: '/nonexistent/rangeget-test' });
    assert.equal(r.code, ExitCode.file, r.stderr);
    assert.equal(r.bytes, 0);
    assert.match(r.stderr, /^rangeget: error: cannot create the stream's temporary file in \/nonexistent\/rangeget-test .*set TMPDIR to a writable directory/m);
  });
});

describe('downloadStream and downloadTo', () => {
  it('a slow reader holds the connections within the window; the bytes arrive in order', T, async (t) => {
    const server = await serve(t, { '/f': { size: 16 * MiB + 11 } });
    const window = MiB;
    let ahead = 0;
    const sink = hashSink(15, (consumed) => {
      const fetched = server.stats.bytesSent;
      ahead = Math.max(ahead, fetched - consumed);
      // The window, the chunk in hand and the Readable's buffer: nothing more is fetched.
      assert.ok(fetched <= consumed + window + 512 * KiB, `fetched ${fetched} with ${consumed} consumed`);
    });
    const stream = downloadStream(server.url('/f'), { connections: 8, streamWindow: window });
    await pipeline(stream, sink);
    assert.equal(sink.sha256(), server.sha256('/f'));
    assert.ok(ahead > 0, 'the connections fetched ahead of the reader');
    const result = await stream.result;
    assert.equal(result.size, 16 * MiB + 11);
    assert.equal(result.path, '-');
  });

  it('a checksum mismatch errors the stream after its last byte', T, async (t) => {
    const server = await serve(t, { '/f': { size: 5 * MiB + 1 } });
    const sink = hashSink();
    const stream = downloadStream(server.url('/f'), { checksum: ZEROS });
    await assert.rejects(pipeline(stream, sink), (err: unknown) => err instanceof ChecksumError && err.code === 'ECHECKSUM');
    assert.equal(sink.sha256(), server.sha256('/f'));
    await assert.rejects(stream.result, ChecksumError);
  });

  it('a server that turns out to ignore ranges: the rest of the stream comes from one answer of the whole file', T, async (t) => {
    const server = await serve(t, { '/f': { size: 6 * MiB + 1 } });
    const warnings: string[] = [];
    const sink = hashSink();
    const stream = downloadStream(server.url('/f'), {
      onEvent: (e) => {
        // After the probe said ranges work, the server stops honouring them (same bytes).
        if (e.type === 'probe') server.set('/f', { size: 6 * MiB + 1, ranges: false });
        if (e.type === 'warning') warnings.push(e.message);
      },
    });
    await pipeline(stream, sink);
    assert.equal(sink.sha256(), server.sha256('/f'));
    assert.equal((await stream.result).connections, 1);
    assert.ok(warnings.some((w) => w.startsWith('using one connection from the start')), warnings.join('\n'));
  });

  it('destroying the stream stops the download: result rejects with an AbortError', T, async (t) => {
    const server = await serve(t, { '/f': { size: 64 * MiB, throttle: 4 * MiB } });
    const stream = downloadStream(server.url('/f'), { connections: 4 });
    await new Promise((resolve) => stream.once('data', resolve));
    stream.destroy();
    await assert.rejects(stream.result, AbortError);
    const sent = server.stats.bytesSent;
    await sleep(300);
    assert.ok(server.stats.bytesSent - sent < MiB, 'no connection goes on fetching');
  });

  it('an abort ends downloadTo at once even when the writable never drains', T, async (t) => {
    const server = await serve(t, { '/f': { size: 16 * MiB } });
    const controller = new AbortController();
    const stuck = new Writable({
      highWaterMark: 1,
      write() {
        controller.abort(); // the first chunk arrived; its callback never comes
      },
    });
    await assert.rejects(downloadTo(server.url('/f'), stuck, { signal: controller.signal }), AbortError);
  });

  it('downloadTo resolves only once the writable has taken every chunk, even one that never asks to drain', T, async (t) => {
    const server = await serve(t, { '/f': { size: 3 * MiB + 5, ranges: false } });
    const hash = createHash('sha256');
    // A buffer far above the file: write() always says "go on", each chunk is taken later.
    const sink = new Writable({
      highWaterMark: 64 * MiB,
      write(chunk: Buffer, _enc, done) {
        setTimeout(() => {
          hash.update(chunk);
          done();
        }, 1);
      },
    });
    await downloadTo(server.url('/f'), sink);
    assert.equal(hash.digest('hex'), server.sha256('/f'));
  });

  it('downloadTo waits for the writable, and a failing writable is a FileError with its cause', T, async (t) => {
    const server = await serve(t, { '/f': { size: 7 * MiB + 3, ranges: false }, '/g': { size: 9 * MiB } });
    const sink = hashSink(1);
    const result = await downloadTo(server.url('/f'), sink);
    assert.equal(sink.sha256(), server.sha256('/f'));
    assert.equal(result.connections, 1);
    const broken = new Writable({
      write(_chunk, _enc, done) {
        done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    await assert.rejects(downloadTo(server.url('/g'), broken), (err: unknown) => err instanceof FileError && (err.cause as NodeJS.ErrnoException).code === 'EPIPE');
  });
});
