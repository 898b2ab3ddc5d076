/**
 * Hostile servers, flaky networks and bad input, end to end against the fault-injecting
 * test server on 127.0.0.1: every download either finishes byte-exact (sha256) or fails
 * clearly with the right code / exit code and nothing at the final path.
 *
 * A test that fails because of a file this suite does not own says so in a comment above it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download, NoSpaceError, RangegetError, type DownloadEvent, type DownloadOptions, type DownloadResult } from '../src/index.js';
import { backoffDelay, parseRetryAfter } from '../src/http/retry-policy.js';
import { probe } from '../src/http/probe.js';
import { createClient } from '../src/http/client.js';
import { type RequestSettings } from '../src/http/request.js';
import { runCli, runMain, startCli, type CliProcess, type Exit } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { retries, warnings } from './helpers/events.js';
import { gets, serve, startServer, type FileSpec, type RequestRecord, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const execFileAsync = promisify(execFile);

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Short retry waits so faults cost milliseconds; several connections with small ranges; one
 * worker thread (start-up is most of the time of a small download). The timeout stays
 * generous so a loaded machine does not add retries; timeout tests set their own.
 */
const FAST = { retryWait: 10, timeout: 5000, connections: 4, threads: 1, minRangeSize: 64 * KiB } satisfies DownloadOptions;
/** The same for the CLI. */
const FAST_ARGS = ['--retry-wait', '10ms', '--timeout', '5s', '-c', '4', '--threads', '1', '--min-range', '64K'];

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** FAST settings into `dir`, then `options`, with every event also recorded in `events`. */
function fast(dir: string, options: DownloadOptions, events: DownloadEvent[]): DownloadOptions {
  const onEvent = options.onEvent;
  return {
    dir,
    ...FAST,
    ...options,
    onEvent: (e) => {
      events.push(e);
      onEvent?.(e);
    },
  };
}

interface Run {
  result: DownloadResult;
  events: DownloadEvent[];
}

/** Download with FAST settings and check the file is byte-exact (the content of `expect`, default `path`). */
async function fetchExact(srv: TestServer, path: string, dir: string, options: DownloadOptions = {}, expect = path): Promise<Run> {
  const events: DownloadEvent[] = [];
  const result = await download(srv.url(path), fast(dir, options, events));
  assert.equal(result.size, srv.content(expect).length, 'size');
  assert.equal(await sha256File(result.path), srv.sha256(expect), `sha256 of ${result.path}`);
  assert.equal(await exists(result.path + '.part'), false, '.part removed');
  assert.equal(await exists(result.path + '.part.json'), false, 'control file removed');
  return { result, events };
}

/** Expect a rejection with this RangegetError code; returns the error for more checks. */
async function failsWith(promise: Promise<unknown>, code: string): Promise<RangegetError> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  assert.ok(error !== undefined, `expected a failure with ${code}, but it succeeded`);
  assert.ok(error instanceof RangegetError, `expected a RangegetError, got ${String((error as Error)?.stack ?? error)}`);
  assert.equal(error.code, code, `code (message: ${error.message})`);
  return error;
}

/** Download expecting failure with `code`; checks that nothing reached the final path. */
async function downloadFails(srv: TestServer, path: string, dir: string, code: string, options: DownloadOptions = {}): Promise<{ error: RangegetError; events: DownloadEvent[] }> {
  const events: DownloadEvent[] = [];
  const error = await failsWith(download(srv.url(path), fast(dir, options, events)), code);
  const probe = events.find((e) => e.type === 'probe');
  if (probe?.type === 'probe') assert.equal(await exists(probe.path), false, `nothing at ${probe.path}`);
  return { error, events };
}

/** Start of the Range a request asked for, or undefined. */
function rangeStart(rec: RequestRecord): number | undefined {
  const m = /^bytes=(\d+)-/.exec(String(rec.headers.range ?? ''));
  return m ? Number(m[1]) : undefined;
}


// ---------------------------------------------------------------------------------------

describe('retry timing (src/http/retry-policy.ts)', { concurrency: 4 }, () => {
  const settings = { retries: 5, retryWait: 100, maxRetryWait: 60_000 };

  test('exponential backoff with equal jitter, capped', () => {
    for (let failures = 1; failures <= 6; failures++) {
      const full = 100 * 2 ** (failures - 1);
      assert.equal(backoffDelay(failures, settings, undefined, () => 0), full / 2);
      assert.equal(backoffDelay(failures, settings, undefined, () => 0.999999), Math.round(full / 2 + (0.999999 * full) / 2));
    }
    assert.equal(backoffDelay(40, settings, undefined, () => 1), 60_000);
    assert.equal(backoffDelay(0, settings, undefined, () => 0), 50);
  });

  test('Retry-After wins over backoff, capped at maxRetryWait, never negative', () => {
    assert.equal(backoffDelay(3, settings, 1500), 1500);
    assert.equal(backoffDelay(1, settings, 0), 0);
    assert.equal(backoffDelay(1, settings, 86_400_000), 60_000);
    assert.equal(backoffDelay(1, settings, -5), 0);
  });

  test('parseRetryAfter reads delay-seconds and HTTP-dates, ignores junk', () => {
    const now = Date.UTC(2025, 0, 1, 12, 0, 0);
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wednesday, 01-Jan-25 12:00:30 GMT', now), 30_000); // RFC 850
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 12:00:00 GMT', now), 0); // in the past
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('Wed Jan  1 12:00:30 2025', now), 30_000); // asctime, GMT
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 12:01:00 gmt', now), 60_000);
    for (const junk of ['', 'soon', '-1', '1.5', '10s', '0x10', '1e3', 'Infinity', '12 34', '2025-01-01T12:00:30Z', 'Wed, 31 Feb 2025 12:00:30 GMT', 'Wed, 01 Jan 2025 25:00:00 GMT']) {
      assert.equal(parseRetryAfter(junk, now), undefined, JSON.stringify(junk));
    }
  });
});

describe('retries', { concurrency: 4 }, () => {
  test('503 on the first GETs: retried with exponential backoff until byte-exact', async (t) => {
    const srv = await serve(t, { '/f': { size: 256 * KiB, faults: { failFirst: 3 } } });
    // One range (the minimum range size is the file's), so every GET is a retry of the first.
    const { events } = await fetchExact(srv, '/f', await tempDir(t), { connections: 1, minRangeSize: 256 * KiB, retryWait: 20 });
    const r = retries(events);
    assert.deepEqual(r.map((e) => e.attempt), [1, 2, 3]);
    r.forEach((e, i) => {
      const full = 20 * 2 ** i;
      assert.ok(e.delay >= full / 2 && e.delay <= full, `attempt ${i + 1}: delay ${e.delay} within [${full / 2}, ${full}]`);
      assert.match(e.reason, /503/);
    });
    assert.deepEqual(gets(srv).map((r) => r.status), [503, 503, 503, 206]);
  });

  test('429 with Retry-After in seconds: the wait is what the server asked', async (t) => {
    const srv = await serve(t, { '/f': { size: 64 * KiB, faults: { failFirst: 1, errorStatus: 429, retryAfter: '1' } } });
    const started = performance.now();
    const { events } = await fetchExact(srv, '/f', await tempDir(t), { connections: 1 });
    assert.deepEqual(retries(events).map((e) => e.delay), [1000]);
    assert.ok(performance.now() - started >= 950, 'waited about a second');
  });

  test('503 with Retry-After as an HTTP-date: the wait runs to that date', async (t) => {
    let when = 0;
    // The date is made when the 503 is sent (3 s ahead, whole seconds), so a slow start cannot eat the wait.
    const retryAfter = (): string => {
      when = Math.floor((Date.now() + 3000) / 1000) * 1000;
      return new Date(when).toUTCString();
    };
    const srv = await serve(t, { '/f': { size: 64 * KiB, faults: { failFirst: 1, retryAfter } } });
    const { events } = await fetchExact(srv, '/f', await tempDir(t), { connections: 1 });
    const [retry] = retries(events);
    assert.ok(retry, 'one retry');
    assert.ok(retry.delay > 1000 && retry.delay <= 3000, `delay ${retry.delay}`);
    assert.ok(Date.now() >= when, 'finished after the date');
  });

  test('bounded by retries: gives up after N retries naming the status (CLI exit 4)', async (t) => {
    const srv = await serve(t, { '/f': { size: 64 * KiB, faults: { failFirst: 1000 } } });
    const dir = await tempDir(t);
    const run = await runCli(t, [...FAST_ARGS, '-c', '1', '--retries', '2', '-d', dir, srv.url('/f')], { cwd: dir });
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /HTTP 503/);
    assert.match(run.stderr, /2 retries/);
    assert.equal(gets(srv).length, 3, 'one attempt and two retries');
    assert.equal(await exists(join(dir, 'f')), false);
    // The partial download is kept for a later run.
    assert.equal(await exists(join(dir, 'f.part')), true);
  });

  test('retries: 0 means one attempt', async (t) => {
    const srv = await serve(t, { '/f': { size: 64 * KiB, faults: { failFirst: 1 } } });
    const { error } = await downloadFails(srv, '/f', await tempDir(t), 'ENETWORK', { connections: 1, retries: 0 });
    assert.match(error.message, /503/);
    assert.equal(gets(srv).length, 1);
  });
});

describe('the probe (src/http/probe.ts) retries what may clear up', { concurrency: 4 }, () => {
  const settingsFor = (srv: TestServer): RequestSettings => ({
    headers: {},
    credentialOrigin: srv.origin,
    maxRedirects: 10,
    connection: { insecure: false, connectTimeout: 500, headersTimeout: 500, stallTimeout: 500 },
  });
  const retry = (retries: number, log: number[]) => ({ retries, retryWait: 10, maxRetryWait: 60_000, onRetry: (r: { delay: number }) => log.push(r.delay) });

  test('a whole small file kept from the probe that breaks off before it is read: its reader sees it, nothing is thrown', async (t) => {
    // Half of 20 KiB, then the connection closed: less than a body buffers, so its end is read
    // at once, before anybody reads the body. In a process of its own: the test runner catches
    // uncaught errors its own way, and this one used to end the process.
    const srv = await serve(t, { '/f': { size: 20 * 1024, faults: { shortBody: 1 } } });
    const script = `
      import { probe } from ${JSON.stringify(new URL('../src/http/probe.js', import.meta.url).href)};
      import { createClient } from ${JSON.stringify(new URL('../src/http/client.js', import.meta.url).href)};
      const url = new URL(process.argv[1]);
      const settings = ${JSON.stringify(settingsFor(srv))};
      const client = createClient(settings.connection, 2);
      const { body } = await probe(client, url, settings, undefined, { retries: 0, retryWait: 10, maxRetryWait: 100, whole: true }, 'GET', true);
      await new Promise((resolve) => { const check = setInterval(() => body.errored && resolve(clearInterval(check)), 5); });
      try { for await (const chunk of body) void chunk; } catch (err) { console.log('seen:', err.message); }
      await client.close();`;
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script, srv.url('/f')], { timeout: 20_000 });
    // Worded by the lean reader or by undici (the suite runs both ways).
    assert.match(stdout, /^seen: other side closed( before the response was complete)?\n$/);
  });

  test('503 to HEAD and GET: tried again with backoff, Retry-After honoured', async (t) => {
    const past = new Date(Date.now() - 60_000).toUTCString();
    const srv = await serve(t, { '/f': { size: 5000, faults: { headFailFirst: 2, failFirst: 2, retryAfter: past } } });
    const client = createClient(settingsFor(srv).connection, 2);
    t.after(() => client.close());
    const delays: number[] = [];
    const info = await probe(client, new URL(srv.url('/f')), settingsFor(srv), undefined, retry(2, delays));
    assert.equal(info.size, 5000);
    assert.equal(info.acceptsRanges, true);
    assert.deepEqual(delays, [0, 0], 'a Retry-After date in the past: no wait');
    // Without retries (the default), the first failure is final.
    srv.set('/f', { size: 5000, faults: { headFailFirst: 1, failFirst: 1, errorStatus: 429 } });
    const err = await failsWith(probe(client, new URL(srv.url('/f')), settingsFor(srv)), 'EHTTP');
    assert.match(err.message, /429/);
  });

  test('bounded by retries; a 404 or a bad redirect is never retried', async (t) => {
    const srv = await serve(t, { '/busy': { size: 10, faults: { headFailFirst: 99, failFirst: 99 } }, '/gone': { size: 10, status: 404 }, '/ftp': { size: 0, redirect: 'ftp://x/' } });
    const client = createClient(settingsFor(srv).connection, 2);
    t.after(() => client.close());
    const delays: number[] = [];
    await failsWith(probe(client, new URL(srv.url('/busy')), settingsFor(srv), undefined, retry(2, delays)), 'EHTTP');
    assert.equal(delays.length, 2);
    assert.equal(srv.stats.log.filter((r) => r.path === '/busy').length, 6, 'HEAD + GET, three times');
    delays.length = 0;
    await failsWith(probe(client, new URL(srv.url('/gone')), settingsFor(srv), undefined, retry(5, delays)), 'EHTTP');
    await failsWith(probe(client, new URL(srv.url('/ftp')), settingsFor(srv), undefined, retry(5, delays)), 'EREDIRECT');
    assert.deepEqual(delays, []);
  });

  test('connection refused is retried, then fails as a network error', async (t) => {
    const srv = await startServer({});
    const url = new URL(srv.url('/f'));
    const settings = settingsFor(srv);
    await srv.close();
    const client = createClient(settings.connection, 2);
    t.after(() => client.close());
    const delays: number[] = [];
    const err = await failsWith(probe(client, url, settings, undefined, retry(2, delays)), 'ENETWORK');
    assert.match(err.message, /ECONNREFUSED/);
    assert.equal(delays.length, 2);
  });

  // Regression: the download passes its retry settings to probe() (src/engine/download.ts).
  test('download(): a 503 on the very first request is retried like any other', async (t) => {
    const srv = await serve(t, { '/f': { size: 64 * KiB, head: false, faults: { failFirst: 1 } } });
    await fetchExact(srv, '/f', await tempDir(t), { connections: 1 });
  });
});

describe('timeouts', { concurrency: 4 }, () => {
  test('a body that stalls is detected and the rest is fetched from the last byte written', async (t) => {
    const srv = await serve(t, { '/f': { size: 256 * KiB, faults: { stallAfter: 1000 } } });
    const { events } = await fetchExact(srv, '/f', await tempDir(t), { connections: 1, timeout: 1000 });
    const [retry] = retries(events);
    assert.ok(retry);
    assert.match(retry.reason, /stall|no data/i);
    const log = gets(srv);
    assert.ok(log.length >= 2);
    assert.equal(rangeStart(log[1]!), 1000, 'continued after the 1000 bytes received');
  });

  test('every GET stalling before its first byte: fails clearly with a timeout after the retries', async (t) => {
    const srv = await serve(t, { '/f': { size: 256 * KiB, faults: { stallAfter: 0, stallEvery: true } } });
    const { error } = await downloadFails(srv, '/f', await tempDir(t), 'ETIMEOUT', { connections: 1, retries: 1, timeout: 500 });
    assert.match(error.message, /stall|no data/i);
  });

  test('a server that never sends headers is timed out and retried', async (t) => {
    const srv = await serve(t, { '/f': { size: 128 * KiB, faults: { noHeaders: 1 } } });
    const { events } = await fetchExact(srv, '/f', await tempDir(t), { connections: 1, timeout: 1000 });
    assert.ok(retries(events).length >= 1);
    assert.match(retries(events)[0]!.reason, /timeout/i);
  });

  test('connection refused fails clearly (CLI exit 4) and leaves nothing', async (t) => {
    const srv = await startServer({});
    const url = srv.url('/f');
    await srv.close();
    const dir = await tempDir(t);
    const run = await runMain([...FAST_ARGS, '-d', dir, url]);
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /ECONNREFUSED|refused/);
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('connections closed early', { concurrency: 4 }, () => {
  test('a short body (connection closed half way) is continued from its last byte', async (t) => {
    const size = 256 * KiB;
    const srv = await serve(t, { '/f': { size, faults: { shortBody: 2 } } });
    await fetchExact(srv, '/f', await tempDir(t), { connections: 1, minRangeSize: size });
    const starts = gets(srv).map(rangeStart);
    assert.deepEqual(starts, [0, size / 2, size / 2 + size / 4]);
  });

  test('a reset (TCP RST) mid-body is retried', async (t) => {
    const srv = await serve(t, { '/f': { size: 512 * KiB, faults: { reset: 3 } } });
    // One connection: with more, a split or the endgame may finish a range before its reset lands.
    const { events } = await fetchExact(srv, '/f', await tempDir(t), { connections: 1 });
    assert.ok(retries(events).length >= 3);
  });

  test('random drops and 503s on four connections', async (t) => {
    const srv = await serve(t, { '/f': { size: 2 * MiB, faults: { seed: 11, dropRate: 0.3, errorRate: 0.1 } } });
    await fetchExact(srv, '/f', await tempDir(t), { retries: 10 });
    assert.ok(gets(srv).some((r) => r.status === 503), 'some 503s were served');
  });
});

describe('every response is checked before a byte is written', { concurrency: 6 }, () => {
  test('a 206 with a shifted Content-Range is a failed attempt, never written', async (t) => {
    const srv = await serve(t, { '/f': { size: 512 * KiB, faults: { wrongContentRange: 3 } } });
    const { events } = await fetchExact(srv, '/f', await tempDir(t));
    const reasons = retries(events).map((e) => e.reason);
    assert.equal(reasons.length, 3);
    for (const reason of reasons) assert.match(reason, /server sent bytes/);
  });

  test('a 206 shorter than asked (a server that caps responses) continues without counting a failure', async (t) => {
    const srv = await serve(t, { '/f': { size: 256 * KiB, faults: { rangeCap: 32 * KiB } } });
    // With no retry allowed, a capped but valid 206 must not count as a failed attempt.
    await fetchExact(srv, '/f', await tempDir(t), { connections: 2, retries: 0 });
  });

  test('bytes past the end a 206 announced are never written', async (t) => {
    // Chunked 206s whose body runs 100 junk bytes past their Content-Range.
    const srv = await serve(t, { '/f': { size: 256 * KiB, faults: { rangeCap: 32 * KiB, extraBytes: 100 } } });
    await fetchExact(srv, '/f', await tempDir(t), { connections: 1, retries: 50 });
  });

  test('HEAD and the ranges disagree on the size: fails clearly as a changed file (exit 7)', async (t) => {
    const srv = await serve(t, { '/f': { size: 256 * KiB, faults: { headSize: 256 * KiB + 1000 } } });
    const dir = await tempDir(t);
    const { error } = await downloadFails(srv, '/f', dir, 'ECHANGED', { connections: 1, restart: false });
    assert.match(error.message, /size/);
    assert.equal(error.exitCode, 7);
    assert.equal(gets(srv).length, 1, 'the first 206 was refused (and no byte of it written)');
  });

  test('HEAD smaller than the file, server without ranges: never saved as complete', async (t) => {
    const size = 256 * KiB;
    const srv = await serve(t, { '/f': { size, faults: { acceptRanges: 'none', headSize: size - 1000 } } });
    await downloadFails(srv, '/f', await tempDir(t), 'ECHANGED', { connections: 1, restart: false });
  });

  test('HEAD larger than the file, server without ranges: fails clearly as a changed file', async (t) => {
    const size = 256 * KiB;
    const srv = await serve(t, { '/f': { size, faults: { acceptRanges: 'none', headSize: size + 1000 } } });
    await downloadFails(srv, '/f', await tempDir(t), 'ECHANGED', { connections: 1, restart: false });
    assert.ok(gets(srv).length <= 2, `gave up quickly (${gets(srv).length} GETs)`);
  });

  test('HEAD smaller than the file and Range ignored: the 200 fallback is never saved short', async (t) => {
    const size = 256 * KiB;
    const srv = await serve(t, { '/f': { size, faults: { headSize: size - 1000, ignoreRangeAfter: 0 } } });
    await downloadFails(srv, '/f', await tempDir(t), 'ECHANGED', { restart: false });
  });

  test('the file replaced after the probe (new ETag): starts over and saves the new file', async (t) => {
    const srv = await serve(t, { '/f': { size: 512 * KiB, seed: 1 } });
    let replaced = false;
    const { events } = await fetchExact(srv, '/f', await tempDir(t), {
      onEvent: (e) => {
        if (e.type === 'probe' && !replaced) {
          replaced = true;
          srv.set('/f', { size: 300 * KiB, seed: 2 });
        }
      },
    });
    assert.ok(warnings(events).some((w) => /changed/.test(w)), 'warned that the file changed');
    assert.equal(events.filter((e) => e.type === 'probe').length, 2);
  });

  for (const restart of [true, false]) {
    test(`a total that changes, no validators: ${restart ? 'starts over and saves the new file' : 'fails with exit 7 under --no-restart'}`, async (t) => {
      const srv = await serve(t, { '/f': { size: 512 * KiB, seed: 1, etag: null, lastModified: null } });
      let replaced = false;
      const onEvent = (e: DownloadEvent): void => {
        if (e.type === 'probe' && !replaced) {
          replaced = true;
          srv.set('/f', { size: 300 * KiB, seed: 2, etag: null, lastModified: null });
        }
      };
      const dir = await tempDir(t);
      if (restart) {
        await fetchExact(srv, '/f', dir, { onEvent });
      } else {
        const { error } = await downloadFails(srv, '/f', dir, 'ECHANGED', { onEvent, restart: false });
        assert.match(error.message, /size|changed/);
        assert.equal(error.exitCode, 7);
      }
    });
  }

  for (const restart of [true, false]) {
    test(`a file that shrank below every range (each answered 416 bytes */0): ${restart ? 'starts over and saves it' : 'exit 7 under --no-restart'}`, async (t) => {
      // Every range meets a 416 with the new total, so no 206 can say first that the file changed.
      const srv = await serve(t, { '/f': { size: 512 * KiB, etag: null, lastModified: null } });
      let replaced = false;
      const onEvent = (e: DownloadEvent): void => {
        if (e.type === 'probe' && !replaced) {
          replaced = true;
          srv.set('/f', { size: 0, etag: null, lastModified: null });
        }
      };
      const dir = await tempDir(t);
      if (restart) {
        const { result } = await fetchExact(srv, '/f', dir, { onEvent });
        assert.equal(result.size, 0);
      } else {
        const { error } = await downloadFails(srv, '/f', dir, 'ECHANGED', { onEvent, restart: false });
        assert.match(error.message, /changed size from 524288 to 0 bytes/);
        assert.equal(error.exitCode, 7);
      }
      assert.ok(gets(srv).some((r) => r.status === 416), 'ranges were answered 416');
    });
  }

  test('a 200 to a range request: one connection from the start, byte-exact', async (t) => {
    const srv = await serve(t, { '/f': { size: 1 * MiB, faults: { ignoreRangeAfter: 0 } } });
    const { result, events } = await fetchExact(srv, '/f', await tempDir(t));
    assert.equal(result.connections, 1);
    assert.ok(warnings(events).some((w) => /one connection/.test(w)));
  });

  test('Range honoured at first, then ignored (200): falls back from the start, byte-exact', async (t) => {
    const srv = await serve(t, { '/f': { size: 1 * MiB, faults: { ignoreRangeAfter: 2 } } });
    const { result } = await fetchExact(srv, '/f', await tempDir(t));
    assert.equal(result.connections, 1);
  });

  test('Content-Encoding that was not asked for: the bytes are saved as served', async (t) => {
    const srv = await serve(t, { '/f.gz': { size: 256 * KiB, contentEncoding: 'gzip' } });
    await fetchExact(srv, '/f.gz', await tempDir(t));
    for (const r of srv.stats.log) assert.equal(r.headers['accept-encoding'], 'identity');
  });
});

describe('HTTP errors name the status', { concurrency: 4 }, () => {
  test('416 to the ranges of a file that advertised them: HTTP error (exit 3)', async (t) => {
    const srv = await serve(t, { '/f': { size: 256 * KiB, faults: { rangeStatus: 416 } } });
    const { error } = await downloadFails(srv, '/f', await tempDir(t), 'EHTTP');
    assert.match(error.message, /416/);
    assert.equal(error.exitCode, 3);
  });

  test('403 to the ranges: not retried, HTTP error naming 403', async (t) => {
    const srv = await serve(t, { '/f': { size: 256 * KiB, faults: { rangeStatus: 403 } } });
    const { error } = await downloadFails(srv, '/f', await tempDir(t), 'EHTTP', { connections: 1 });
    assert.match(error.message, /403/);
    assert.equal(gets(srv).length, 1, 'a 403 is not retried');
  });

  for (const status of [404, 410, 500]) {
    test(`${status} at the probe: CLI exit 3 naming ${status}, nothing written`, async (t) => {
      const srv = await serve(t, { '/f': { size: 100, status } });
      const dir = await tempDir(t);
      const run = await runMain([...FAST_ARGS, '-d', dir, srv.url('/f')]);
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, new RegExp(`HTTP ${status}`));
      assert.deepEqual(await readdir(dir), []);
    });
  }
});

describe('redirects', { concurrency: 4 }, () => {
  function chain(n: number, last: FileSpec): Record<string, FileSpec> {
    const files: Record<string, FileSpec> = {};
    for (let i = 0; i < n; i++) files[`/r${i}`] = { size: 0, redirect: i + 1 < n ? `/r${i + 1}` : '/final.bin' };
    files['/final.bin'] = last;
    return files;
  }

  test('a chain of redirects is followed; the name comes from the final URL', async (t) => {
    const srv = await serve(t, chain(3, { size: 300 * KiB }));
    const events: DownloadEvent[] = [];
    const result = await download(srv.url('/r0'), { dir: await tempDir(t), ...FAST, onEvent: (e) => events.push(e) });
    assert.equal(await sha256File(result.path), srv.sha256('/final.bin'));
    assert.match(result.path, /final\.bin$/);
    assert.equal(result.finalUrl, srv.url('/final.bin'));
    // Ranges go to the final URL, not through the chain again.
    assert.ok(gets(srv).filter((r) => r.path !== '/final.bin').length === 0);
  });

  test('at most --max-redirects (default 10)', async (t) => {
    const srv = await serve(t, chain(11, { size: 1000 }));
    const dir = await tempDir(t);
    const { error } = await downloadFails(srv, '/r0', dir, 'EREDIRECT');
    assert.match(error.message, /too many redirects/);
    assert.equal(error.exitCode, 3);
    await fetchExact(srv, '/r1', dir, {}, '/final.bin'); // exactly 10 is fine
    await failsWith(download(srv.url('/r8'), { dir, ...FAST, maxRedirects: 2 }), 'EREDIRECT');
    await fetchExact(srv, '/r9', dir, { maxRedirects: 2, overwrite: true }, '/final.bin');
  });

  test('a redirect loop is detected', async (t) => {
    const srv = await serve(t, { '/a': { size: 0, redirect: '/b' }, '/b': { size: 0, redirect: '/a?x' }, '/a?x': { size: 0, redirect: '/b' } });
    const { error } = await downloadFails(srv, '/a', await tempDir(t), 'EREDIRECT');
    assert.match(error.message, /loop/);
  });

  for (const target of ['ftp://127.0.0.1/f', 'file:///etc/passwd', 'data:text/plain,hello', 'javascript:alert(1)']) {
    test(`a redirect to ${target.split(':')[0]}: is refused`, async (t) => {
      const srv = await serve(t, { '/r': { size: 0, redirect: target } });
      const dir = await tempDir(t);
      const run = await runMain([...FAST_ARGS, '-d', dir, srv.url('/r')]);
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, /redirect/);
      assert.deepEqual(await readdir(dir), []);
    });
  }

  test('a redirect to another origin drops Authorization, Cookie and Proxy-Authorization', async (t) => {
    const other = await serve(t, { '/f.bin': { size: 300 * KiB } });
    const srv = await serve(t, { '/start': { size: 0, redirect: other.url('/f.bin') }, '/same': { size: 0, redirect: '/f.bin' }, '/f.bin': { size: 300 * KiB } });
    const headers = { Authorization: 'Bearer secret', Cookie: 'session=secret', 'Proxy-Authorization': 'Basic c2VjcmV0', 'X-Trace': 'kept' };
    const dir = await tempDir(t);
    const url = srv.url('/start').replace('http://', 'http://user:pw@');
    const result = await download(url, { dir, ...FAST, headers });
    assert.equal(await sha256File(result.path), other.sha256('/f.bin'));
    assert.ok(srv.stats.log.length > 0 && other.stats.log.length > 0);
    for (const r of srv.stats.log) {
      assert.equal(r.headers.cookie, 'session=secret');
      assert.equal(r.headers['proxy-authorization'], 'Basic c2VjcmV0');
    }
    for (const r of other.stats.log) {
      assert.equal(r.headers.authorization, undefined, `${r.method} ${r.path} carried Authorization`);
      assert.equal(r.headers.cookie, undefined, `${r.method} ${r.path} carried Cookie`);
      assert.equal(r.headers['proxy-authorization'], undefined, `${r.method} ${r.path} carried Proxy-Authorization`);
      assert.equal(r.headers['x-trace'], 'kept');
    }
    // Same origin: credentials follow.
    srv.resetStats();
    await download(srv.url('/same'), { dir, ...FAST, headers, overwrite: true });
    const ranges = gets(srv, '/f.bin');
    assert.ok(ranges.length > 0);
    for (const r of ranges) assert.equal(r.headers.authorization, 'Bearer secret');
  });

  for (const status of [403, 410]) {
    // Regression: a range refused with 403/410/3xx makes the download probe the original URL again (src/engine/restart.ts).
    test(
      `the final URL expires (${status}) mid-download: the original URL is probed again once`,
      async (t) => {
        const size = 512 * KiB;
        const srv = await serve(t, {
          '/file.bin': { size: 0, redirect: '/signed/1' },
          '/signed/1': { size, seed: 9 },
        });
        let expired = false;
        const { result } = await fetchExact(
          srv,
          '/file.bin',
          await tempDir(t),
          {
            output: 'file.bin',
            onEvent: (e) => {
              if (e.type === 'probe' && !expired) {
                expired = true;
                srv.set('/signed/1', { size, seed: 9, status });
                srv.set('/file.bin', { size: 0, redirect: '/signed/2' });
                srv.set('/signed/2', { size, seed: 9 });
              }
            },
          },
          '/signed/2',
        );
        assert.equal(result.finalUrl, srv.url('/signed/2'));
        assert.equal(srv.stats.log.filter((r) => r.path === '/file.bin').length, 2, 'the original URL probed twice');
      },
    );
  }

  test('an expired final URL that stays expired after the second probe fails clearly, once', async (t) => {
    const size = 256 * KiB;
    const srv = await serve(t, { '/file.bin': { size: 0, redirect: '/signed/1' }, '/signed/1': { size, seed: 9 } });
    let expired = false;
    const { error } = await downloadFails(srv, '/file.bin', await tempDir(t), 'EHTTP', {
      output: 'file.bin',
      onEvent: (e) => {
        if (e.type === 'probe' && !expired) {
          expired = true;
          srv.set('/signed/1', { size, seed: 9, status: 403 });
          srv.set('/file.bin', { size: 0, status: 403 });
        }
      },
    });
    assert.match(error.message, /403/);
    assert.ok(srv.stats.log.filter((r) => r.path === '/file.bin').length <= 3, 'no loop of probes');
  });
});

describe('local side', { concurrency: 4 }, () => {
  test('names from the server never leave the output directory', async (t) => {
    const srv = await serve(t, {
      '/cd1': { size: 1000, contentDisposition: 'attachment; filename="../../escape1.txt"' },
      '/cd2': { size: 1000, contentDisposition: "attachment; filename*=UTF-8''..%2F..%2Fescape2.txt" },
      '/cd3': { size: 1000, contentDisposition: 'attachment; filename="/etc/escape3"' },
      '/cd4': { size: 1000, contentDisposition: 'attachment; filename=".."' },
      '/dl/..%2F..%2Fescape5.bin': { size: 1000 },
    });
    const root = await tempDir(t);
    const dir = join(root, 'a', 'b');
    const saved = await Promise.all(
      ['/cd1', '/cd2', '/cd3', '/cd4', '/dl/..%2F..%2Fescape5.bin'].map(async (path) => {
        const { result } = await fetchExact(srv, path, dir, { connections: 1 });
        assert.equal(join(result.path, '..'), dir, `${path} saved as ${result.path}`);
        return result.path.slice(dir.length + 1);
      }),
    );
    assert.deepEqual(saved, ['escape1.txt', 'escape2.txt', 'escape3', 'cd4', 'escape5.bin']);
    assert.deepEqual(await readdir(root), ['a']);
    assert.deepEqual(await readdir(join(root, 'a')), ['b']);
  });

  test('an existing file is not clobbered without --overwrite (exit 6), and is with it', async (t) => {
    const srv = await serve(t, { '/f.bin': { size: 300 * KiB } });
    const dir = await tempDir(t);
    const path = join(dir, 'f.bin');
    await writeFile(path, 'precious');
    const run = await runMain([...FAST_ARGS, '-d', dir, srv.url('/f.bin')]);
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /already exists/);
    assert.equal(await readFile(path, 'utf8'), 'precious');
    assert.equal(gets(srv).length, 0, 'no byte fetched');
    const ok = await runMain([...FAST_ARGS, '-d', dir, '--overwrite', srv.url('/f.bin')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await sha256File(path), srv.sha256('/f.bin'));
  });

  test('not enough free space: refused before any byte (statfs), exit 6', async (t) => {
    const srv = await serve(t, { '/huge.bin': { size: 2 ** 50 } });
    const dir = await tempDir(t);
    const run = await runMain([...FAST_ARGS, '-d', dir, srv.url('/huge.bin')]);
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /not enough free space/);
    assert.equal(gets(srv).length, 0, 'no GET');
    assert.deepEqual(await readdir(dir), []);
  });

  test('disk full mid-download: clear message, exit code 6, .part kept; resumes once space is free', async (t) => {
    if (process.platform !== 'linux') return t.skip('tmpfs needs Linux');
    const mnt = await mkdtemp(join(tmpdir(), 'rangeget-full-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      await rm(mnt, { recursive: true, force: true });
      return t.skip('cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)');
    }
    t.after(async () => {
      execFileSync('umount', ['-l', mnt], { stdio: 'ignore' });
      await rm(mnt, { recursive: true, force: true });
    });
    // Over 4 MiB, and FAST's --threads 1: a worker thread writes it.
    const srv = await serve(t, { '/f.bin': { size: 5 * MiB } });
    const filler = join(mnt, 'filler');
    const events: DownloadEvent[] = [];
    const error = await failsWith(
      download(srv.url('/f.bin'), {
        dir: mnt,
        ...FAST,
        onEvent: (e) => {
          events.push(e);
          // The free-space check passed; now something else fills the disk.
          if (e.type === 'start') {
            const fs = statfsSync(mnt);
            writeFileSync(filler, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 512 * KiB)));
          }
        },
      }),
      'ENOSPACE',
    );
    // Raised in a worker thread, it arrives as its own class, as the README promises.
    assert.ok(error instanceof NoSpaceError, `got ${error.constructor.name}`);
    assert.equal(error.exitCode, 6);
    assert.match(error.message, /no space/);
    assert.equal(await exists(join(mnt, 'f.bin')), false, 'nothing at the final path');
    assert.equal(await exists(join(mnt, 'f.bin.part')), true, '.part kept');
    await rm(filler);
    await fetchExact(srv, '/f.bin', mnt);
  });

  test('permission denied: clear message, exit code 6', async (t) => {
    const srv = await serve(t, { '/f.bin': { size: 100 * KiB } });
    const root = await tempDir(t);
    const locked = join(root, 'locked');
    await mkdir(locked);
    await chmod(root, 0o755);
    await chmod(locked, 0o555);
    // root ignores permissions: run the CLI as nobody then.
    const asRoot = process.getuid?.() === 0;
    const ids = asRoot ? { uid: 65534, gid: 65534 } : {};
    let run: Exit;
    try {
      let child: CliProcess;
      try {
        child = startCli(t, [...FAST_ARGS, '-d', locked, srv.url('/f.bin')], { cwd: root, ...ids });
      } catch (err) {
        return t.skip(`cannot run as another user: ${(err as Error).message}`);
      }
      run = await child.wait();
    } finally {
      await chmod(locked, 0o755);
    }
    if (asRoot && /Cannot find module|EACCES.*rangeget\.js/.test(run.stderr)) return t.skip('the build is not readable by nobody');
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /permission denied/);
    assert.deepEqual(await readdir(locked), []);
  });

  test('output path is a directory (--overwrite): clear message, exit 6, the directory untouched', async (t) => {
    const srv = await serve(t, { '/f.bin': { size: 100 * KiB } });
    const dir = await tempDir(t);
    await mkdir(join(dir, 'out'));
    await writeFile(join(dir, 'out', 'keep'), 'x');
    const run = await runMain([...FAST_ARGS, '-d', dir, '-o', 'out', '--overwrite', srv.url('/f.bin')]);
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /is a directory/);
    assert.deepEqual(await readdir(join(dir, 'out')), ['keep']);
    // Whatever was fetched is kept for a run with a usable -o.
    const left = await readdir(dir);
    assert.ok(!left.includes('out.part') || left.includes('out.part.json'), `a .part comes with its control file: ${left.join(', ')}`);
  });

  // Regression: the output checks tell a directory from a file (src/storage/output-checks.ts).
  test(
    'output path is a directory (no --overwrite): the message says so, not "pass --overwrite"',
    async (t) => {
      const srv = await serve(t, { '/f.bin': { size: 100 * KiB } });
      const dir = await tempDir(t);
      await mkdir(join(dir, 'out'));
      const run = await runMain([...FAST_ARGS, '-d', dir, '-o', 'out', srv.url('/f.bin')]);
      assert.equal(run.code, 6, run.stderr);
      assert.match(run.stderr, /is a directory/);
      assert.doesNotMatch(run.stderr, /--overwrite/);
    },
  );
});

describe('bad input never reaches the network', { concurrency: 4 }, () => {
  test('CLI: invalid URLs, schemes, numbers, checksums and headers exit 2 with no request', async (t) => {
    const srv = await serve(t, { '/f': { size: 100 } });
    const dir = await tempDir(t);
    const url = srv.url('/f');
    const hostPort = `127.0.0.1:${srv.port}`;
    const cases: string[][] = [
      ['not a url'],
      [hostPort + '/f'],
      ['http://'],
      [`ftp://${hostPort}/f`],
      ['file:///etc/passwd'],
      ['data:text/plain,hello'],
      ['javascript:alert(1)'],
      ['-c', '0', url],
      ['-c', '-1', url],
      ['-c', '65', url],
      ['-c', '1e3', url],
      ['-c', '2.5', url],
      ['-c', 'many', url],
      ['--threads', '0', url],
      ['--threads', '9', '-c', '4', url],
      ['--retries', '-1', url],
      ['--retries', '99999999999999999999', url],
      ['--retry-wait', '-1', url],
      ['--retry-wait', 'soon', url],
      ['--timeout', '0', url],
      ['--timeout', '-5', url],
      ['--timeout', '9999h', url],
      ['--max-redirects', '-1', url],
      ['--max-redirects', '1000', url],
      ['--min-range', '-1M', url],
      ['--min-range', '0', url],
      ['--max-speed', '0', url],
      ['--max-speed', '99999999T', url],
      ['--checksum', 'sha256=xyz', url],
      ['--checksum', `sha256=${'a'.repeat(63)}`, url],
      ['--checksum', `crc32=${'a'.repeat(8)}`, url],
      // A bare digest must have a digest's length (64 is sha256's: accepted).
      ['--checksum', 'a'.repeat(50), url],
      ['-H', 'NoColon', url],
      ['-H', 'Bad Name: v', url],
      ['-H', 'X-A: a\r\nInjected: b', url],
      ['-H', 'X-A: a\u0000b', url],
      ['-H', 'Host: evil.example', url],
      ['-H', 'Range: bytes=0-1', url],
      ['--ca-cert', join(dir, 'missing.pem'), url],
      ['--proxy', 'ftp://proxy.example', url],
    ];
    for (const args of cases) {
      const run = await runMain([...args, '-d', dir]);
      assert.equal(run.code, 2, `${JSON.stringify(args)} → ${run.code}: ${run.stderr}`);
      assert.match(run.stderr, /^rangeget: /, JSON.stringify(args));
      assert.equal(run.stderr.trim().split('\n').length, 1, `one line for ${JSON.stringify(args)}: ${run.stderr}`);
      assert.doesNotMatch(run.stderr, /Injected: b/, 'header values are never echoed');
    }
    assert.equal(srv.stats.requests, 0);
    assert.deepEqual(await readdir(dir), []);
  });

  test('CLI child: -c 0 and ftp: exit 2 with no request', async (t) => {
    const srv = await serve(t, { '/f': { size: 100 } });
    const dir = await tempDir(t);
    for (const args of [['-c', '0', srv.url('/f')], [`ftp://127.0.0.1:${srv.port}/f`]]) {
      const run = await runMain([...args, '-d', dir]);
      assert.equal(run.code, 2, run.stderr);
    }
    assert.equal(srv.stats.requests, 0);
  });

  test('library: bad options reject with EUSAGE before any request', async (t) => {
    const srv = await serve(t, { '/f': { size: 100 } });
    const dir = await tempDir(t);
    const url = srv.url('/f');
    const cases: Array<[string, DownloadOptions]> = [
      ['ftp://127.0.0.1/f', {}],
      ['file:///etc/passwd', {}],
      ['data:,x', {}],
      ['not a url', {}],
      [url, { connections: 0 }],
      [url, { connections: -3 }],
      [url, { connections: 1.5 }],
      [url, { connections: Number.NaN }],
      [url, { connections: 10_000 }],
      [url, { threads: 0 }],
      [url, { retries: -1 }],
      [url, { retries: Number.POSITIVE_INFINITY }],
      [url, { retryWait: -10 }],
      [url, { timeout: 0 }],
      [url, { timeout: -1 }],
      [url, { maxRedirects: -1 }],
      [url, { maxRedirects: 1e9 }],
      [url, { minRangeSize: 0 }],
      [url, { maxSpeed: 0 }],
      [url, { maxSpeed: -1 }],
      [url, { checksum: 'sha256=nothex' }],
      [url, { checksum: { algorithm: 'sha256', hex: 'abc' } }],
      [url, { headers: { 'Bad Name': 'x' } }],
      [url, { headers: { 'X-A': 'a\r\nInjected: 1' } }],
      [url, { headers: [['Host', 'evil']] }],
      [url, { user: ':nouser' }],
      [url, { caCert: join(dir, 'missing.pem') }],
      [url, { output: '' }],
    ];
    for (const [u, options] of cases) {
      const err = await failsWith(download(u, { dir, ...options }), 'EUSAGE').catch((e: unknown) => {
        throw new Error(`${u} ${JSON.stringify(options)}: ${(e as Error).message}`);
      });
      assert.equal(err.exitCode, 2);
    }
    assert.equal(srv.stats.requests, 0);
    assert.deepEqual(await readdir(dir), []);
  });

  // Regression: src/options.ts checks -o the way resolveTarget() does.
  test('an output name that is a directory (-o sub/, -o .) is refused before any request', async (t) => {
    const srv = await serve(t, { '/f': { size: 100 } });
    const dir = await tempDir(t);
    await failsWith(download(srv.url('/f'), { dir, output: 'sub/' }), 'EUSAGE');
    assert.equal((await runMain(['-o', '.', '-d', dir, srv.url('/f')])).code, 2);
    assert.equal(srv.stats.requests, 0);
  });
});
