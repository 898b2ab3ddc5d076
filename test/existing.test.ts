/**
 * A file already at the output path, as wget, curl and aria2c users re-run: --continue
 * (complete: nothing fetched; shorter: continued from its end under If-Range; untrustworthy:
 * fetched again and replaced), --skip-existing, -N / --timestamping, the remote time on the
 * saved file (--no-remote-time), a batch re-run with --continue, and `-o -` (a stream) refused
 * with them. The oracle is the SHA-256 of the output and the body bytes the server sent.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { existingAction, type ExistingPolicy } from '../src/engine/existing.js';
import { download } from '../src/index.js';
import { runMain } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { gets, serve, type TestServer } from './helpers/server.js';
import { list, tempDir } from './helpers/tmp.js';

const KiB = 1024;
const T = { timeout: 40_000 };
const ARGS = ['--retry-wait', '10ms', '--timeout', '5s', '-c', '4', '--min-range', '16K'];

/** Body bytes the server sent for GETs (the probe of a batch, `bytes=0-0`, not counted). */
function bodyBytes(server: TestServer): number {
  return gets(server)
    .filter((r) => r.headers.range !== 'bytes=0-0')
    .reduce((sum, r) => sum + r.bytes, 0);
}

/** The remote Last-Modified of `path`, in ms. */
async function remoteTime(server: TestServer, path: string): Promise<number> {
  const res = await fetch(server.url(path), { method: 'HEAD' });
  return Date.parse(res.headers.get('last-modified')!);
}

describe('existingAction (pure)', () => {
  const none: ExistingPolicy = { overwrite: false, continue: false, skipExisting: false, timestamping: false };
  const cont = { ...none, continue: true };
  const lm = 'Mon, 01 Jan 2024 00:00:00 GMT';
  const at = Date.parse(lm);
  const remote = { size: 100, lastModified: lm, acceptsRanges: true };

  it('refuses by default, skips with skipExisting, replaces with overwrite', () => {
    assert.deepEqual(existingAction({ size: 100, mtimeMs: at }, remote, none), { kind: 'refuse' });
    assert.deepEqual(existingAction({ size: 3, mtimeMs: at }, remote, { ...none, skipExisting: true }), { kind: 'skip', why: 'exists' });
    assert.deepEqual(existingAction({ size: 3, mtimeMs: at }, remote, { ...none, overwrite: true }), { kind: 'replace' });
  });

  it('continue: complete when the size matches and the remote is not newer; continues a shorter file; replaces what it cannot trust', () => {
    assert.deepEqual(existingAction({ size: 100, mtimeMs: at + 999 }, remote, cont), { kind: 'skip', why: 'complete' });
    assert.deepEqual(existingAction({ size: 40, mtimeMs: at + 5000 }, remote, cont), { kind: 'continue' });
    assert.equal(existingAction({ size: 100, mtimeMs: at - 1000 }, remote, cont).kind, 'replace');
    assert.equal(existingAction({ size: 40, mtimeMs: at - 1000 }, remote, cont).kind, 'replace');
    assert.equal(existingAction({ size: 40, mtimeMs: at }, { size: 100, acceptsRanges: true }, cont).kind, 'replace');
    assert.equal(existingAction({ size: 40, mtimeMs: at }, { ...remote, acceptsRanges: false }, cont).kind, 'replace');
    assert.equal(existingAction({ size: 40, mtimeMs: at }, { ...remote, size: undefined }, cont).kind, 'replace');
    const larger = existingAction({ size: 200, mtimeMs: at }, remote, cont);
    assert.equal(larger.kind, 'refuse');
    assert.match(larger.kind === 'refuse' ? (larger.reason ?? '') : '', /larger \(200 bytes\) than the remote file \(100 bytes\)/);
  });

  it('timestamping: not modified when not newer and the same size; fetched when newer, resized or undated', () => {
    const ts = { ...none, timestamping: true };
    assert.deepEqual(existingAction({ size: 100, mtimeMs: at }, remote, ts), { kind: 'skip', why: 'not-modified' });
    assert.deepEqual(existingAction({ size: 100, mtimeMs: at - 1000 }, remote, ts), { kind: 'replace' });
    assert.deepEqual(existingAction({ size: 99, mtimeMs: at + 1000 }, remote, ts), { kind: 'replace' });
    assert.match(String((existingAction({ size: 100, mtimeMs: at }, { size: 100, acceptsRanges: true }, ts) as { warning?: string }).warning), /no Last-Modified, so -N cannot compare times/);
  });
});

describe('--continue', () => {
  it('a re-run after a finished download exits 0, "already complete", fetching no body byte', T, async (t) => {
    const server = await serve(t, { '/a.bin': { size: 200 * KiB } });
    const dir = await tempDir(t);
    const first = await runMain([...ARGS, server.url('/a.bin'), '-d', dir]);
    assert.equal(first.code, 0, first.stderr);
    server.resetStats();
    const again = await runMain([...ARGS, server.url('/a.bin'), '-d', dir, '--continue']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, `${join(dir, 'a.bin')}: already complete; nothing fetched\n`);
    assert.equal(gets(server).length, 0);
    assert.equal(bodyBytes(server), 0);
    assert.equal(await sha256File(join(dir, 'a.bin')), server.sha256('/a.bin'));

    // Without --continue the message names both ways out.
    const refused = await runMain([...ARGS, server.url('/a.bin'), '-d', dir]);
    assert.equal(refused.code, 6);
    assert.match(refused.stderr, /already exists; pass --continue to finish it .*--overwrite to replace it/);
  });

  it('continues a shorter file with no control file from its end, under If-Range, fetching only the rest', T, async (t) => {
    const server = await serve(t, { '/b.bin': { size: 300 * KiB } });
    const dir = await tempDir(t);
    const path = join(dir, 'b.bin');
    const have = 100 * KiB + 7;
    await writeFile(path, server.content('/b.bin').subarray(0, have)); // as another tool left it, just now
    const r = await runMain([...ARGS, server.url('/b.bin'), '-d', dir, '--continue']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(path), server.sha256('/b.bin'));
    assert.equal(bodyBytes(server), 300 * KiB - have);
    for (const get of gets(server)) {
      assert.ok(get.headers['if-range'], 'every range request is guarded by If-Range');
      assert.ok(Number(/^bytes=(\d+)-/.exec(String(get.headers.range))?.[1]) >= have);
    }
    assert.deepEqual(await list(dir), ['b.bin']);
  });

  it('fetches again and replaces a shorter file older than the remote Last-Modified, with a warning', T, async (t) => {
    const server = await serve(t, { '/c.bin': { size: 64 * KiB } });
    const dir = await tempDir(t);
    const path = join(dir, 'c.bin');
    await writeFile(path, Buffer.alloc(10 * KiB, 1));
    const old = new Date('2001-01-01T00:00:00Z');
    await utimes(path, old, old);
    const r = await runMain([...ARGS, server.url('/c.bin'), '-d', dir, '--continue']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /newer than the existing one; fetching it all again/);
    assert.equal(await sha256File(path), server.sha256('/c.bin'));
    assert.equal(bodyBytes(server), 64 * KiB);
  });

  it('refuses a file larger than the remote one (exit 6), leaving it', T, async (t) => {
    const server = await serve(t, { '/d.bin': { size: 1 * KiB } });
    const dir = await tempDir(t);
    await writeFile(join(dir, 'd.bin'), Buffer.alloc(2 * KiB, 7));
    const r = await runMain([...ARGS, server.url('/d.bin'), '-d', dir, '--continue']);
    assert.equal(r.code, 6);
    assert.match(r.stderr, /already exists and it is larger \(2048 bytes\) than the remote file \(1024 bytes\)/);
    assert.deepEqual(await readFile(join(dir, 'd.bin')), Buffer.alloc(2 * KiB, 7));
  });

  it('in a batch, re-running finishes only what is missing (exit 0)', T, async (t) => {
    const files = { '/1.bin': { size: 50 * KiB }, '/2.bin': { size: 80 * KiB }, '/3.bin': { size: 30 * KiB } };
    const server = await serve(t, files);
    const dir = await tempDir(t);
    const urls = Object.keys(files).map((p) => server.url(p));
    assert.equal((await runMain([...ARGS, urls[0]!, '-d', dir])).code, 0);
    await writeFile(join(dir, '2.bin'), server.content('/2.bin').subarray(0, 20 * KiB));
    server.resetStats();
    const r = await runMain([...ARGS, ...urls, '-d', dir, '--continue']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /1\.bin: already complete; nothing fetched/);
    assert.equal(bodyBytes(server), 60 * KiB + 30 * KiB);
    for (const p of Object.keys(files)) assert.equal(await sha256File(join(dir, p.slice(1))), server.sha256(p));
  });
});

describe('--skip-existing, -o -', () => {
  it('--skip-existing leaves any existing file alone and exits 0; -o - with -d or --skip-existing is a usage error', T, async (t) => {
    const server = await serve(t, { '/e.bin': { size: 20 * KiB } });
    const dir = await tempDir(t);
    await writeFile(join(dir, 'e.bin'), 'mine');
    const r = await runMain([...ARGS, server.url('/e.bin'), '-d', dir, '--skip-existing']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `${join(dir, 'e.bin')}: exists; skipped (--skip-existing), nothing fetched\n`);
    assert.equal(await readFile(join(dir, 'e.bin'), 'utf8'), 'mine');
    assert.equal(gets(server).length, 0);

    const both = await runMain([server.url('/e.bin'), '-d', dir, '--skip-existing', '--overwrite']);
    assert.equal(both.code, 2);
    const dash = await runMain([server.url('/e.bin'), '-d', dir, '-o', '-']);
    assert.equal(dash.code, 2);
    assert.equal(dash.stderr, 'rangeget: error: -d cannot be combined with -o -: a stream has no file on disk\n');
    const skip = await runMain([server.url('/e.bin'), '--skip-existing', '-o', '-']);
    assert.equal(skip.code, 2);
    assert.equal(skip.stderr, 'rangeget: error: --skip-existing cannot be combined with -o -: a stream has no file on disk\n');
    assert.deepEqual(await list(dir), ['e.bin']);
  });
});

describe('time stamps', () => {
  it('the saved file gets the remote Last-Modified; --no-remote-time keeps the time of saving', T, async (t) => {
    const server = await serve(t, { '/f.bin': { size: 40 * KiB }, '/g.bin': { size: 40 * KiB } });
    const dir = await tempDir(t);
    await download(server.url('/f.bin'), { dir });
    assert.equal((await stat(join(dir, 'f.bin'))).mtimeMs, await remoteTime(server, '/f.bin'));
    const before = Date.now();
    const r = await runMain([...ARGS, server.url('/g.bin'), '-d', dir, '--no-remote-time']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await stat(join(dir, 'g.bin'))).mtimeMs >= before - 2000);
  });

  it('-N sends If-Modified-Since (the file\'s time); a 304 fetches nothing and leaves the file untouched', T, async (t) => {
    const server = await serve(t, { '/h.bin': { size: 60 * KiB } });
    const dir = await tempDir(t);
    const path = join(dir, 'h.bin');
    const first = await runMain([...ARGS, server.url('/h.bin'), '-d', dir, '-N']); // nothing there: fetched, unconditionally
    assert.equal(first.code, 0, first.stderr);
    assert.ok(server.stats.log.every((r) => r.headers['if-modified-since'] === undefined));
    const before = await stat(path);
    server.resetStats();

    const same = await runMain([...ARGS, server.url('/h.bin'), '-d', dir, '--timestamping']);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stderr, `${path}: not modified (the remote file is not newer); nothing fetched\n`);
    assert.deepEqual(
      server.stats.log.map((r) => [r.method, r.headers['if-modified-since'], r.status, r.bytes]),
      [['HEAD', new Date(before.mtimeMs).toUTCString(), 304, 0]],
    );
    const after = await stat(path);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(after.ino, before.ino);
    assert.equal(await sha256File(path), server.sha256('/h.bin'));

    // A batch probes with a GET (of a small file's every byte): conditional too, and a 304 sends no byte.
    server.set('/i.bin', { size: 30 * KiB });
    await writeFile(join(dir, 'i.bin'), server.content('/i.bin'));
    server.resetStats();
    const batch = await runMain([...ARGS, server.url('/h.bin'), server.url('/i.bin'), '-d', dir, '-N']);
    assert.equal(batch.code, 0, batch.stderr);
    assert.deepEqual(
      server.stats.log.map((r) => [r.method, r.headers.range, r.status, r.bytes, typeof r.headers['if-modified-since']]),
      [
        ['GET', 'bytes=0-262143', 304, 0, 'string'],
        ['GET', 'bytes=0-262143', 304, 0, 'string'],
      ],
    );
  });

  it('-N with --continue: no condition sent (a 304 has no size), so a shorter file is still finished', T, async (t) => {
    const server = await serve(t, { '/k.bin': { size: 60 * KiB } });
    const dir = await tempDir(t);
    const path = join(dir, 'k.bin');
    await writeFile(path, server.content('/k.bin').subarray(0, 20 * KiB)); // newer than the remote file: now
    const r = await runMain([...ARGS, server.url('/k.bin'), '-d', dir, '-N', '--continue']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(path), server.sha256('/k.bin'));
    assert.ok(server.stats.log.every((rec) => rec.headers['if-modified-since'] === undefined));
    assert.equal(bodyBytes(server), 40 * KiB);
  });

  it('-N against a server that ignores If-Modified-Since: the probe\'s Last-Modified decides', T, async (t) => {
    const server = await serve(t, { '/j.bin': { size: 60 * KiB, ifModifiedSince: false } });
    const dir = await tempDir(t);
    const path = join(dir, 'j.bin');
    assert.equal((await runMain([...ARGS, server.url('/j.bin'), '-d', dir])).code, 0);
    server.resetStats();
    const same = await runMain([...ARGS, server.url('/j.bin'), '-d', dir, '-N']);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stderr, `${path}: not modified (the remote file is not newer); nothing fetched\n`);
    assert.deepEqual(server.stats.log.map((r) => [r.method, r.status, typeof r.headers['if-modified-since']]), [['HEAD', 200, 'string']]);

    server.set('/j.bin', { size: 60 * KiB, seed: 98, ifModifiedSince: false, lastModified: new Date(Date.now() + 3_600_000).toUTCString() });
    server.resetStats();
    const newer = await runMain([...ARGS, server.url('/j.bin'), '-d', dir, '-N']);
    assert.equal(newer.code, 0, newer.stderr);
    assert.equal(await sha256File(path), server.sha256('/j.bin'));
    assert.equal(bodyBytes(server), 60 * KiB);
  });

  it('-N: a newer file replaces the old one whole, and only once verified (a failed fetch leaves the old file)', T, async (t) => {
    const server = await serve(t, { '/h.bin': { size: 60 * KiB } });
    const dir = await tempDir(t);
    const path = join(dir, 'h.bin');
    assert.equal((await runMain([...ARGS, server.url('/h.bin'), '-d', dir])).code, 0);
    const old = await sha256File(path);

    // A new version whose every range breaks off: the download fails, the old file stays.
    const later = new Date(Date.now() + 3_600_000).toUTCString();
    server.set('/h.bin', { size: 60 * KiB, seed: 99, lastModified: later, faults: { shortBody: 100 } });
    server.resetStats();
    const broken = await runMain([...ARGS, server.url('/h.bin'), '-d', dir, '-N', '--retries', '0']);
    assert.equal(broken.code, 4, broken.stderr);
    assert.equal(server.stats.log[0]!.status, 200, 'the HEAD with If-Modified-Since: newer, answered in full');
    assert.equal(await sha256File(path), old, 'the old file is untouched');

    server.set('/h.bin', { size: 60 * KiB, seed: 99, lastModified: later });
    server.resetStats();
    const newer = await runMain([...ARGS, server.url('/h.bin'), '-d', dir, '-N']);
    assert.equal(newer.code, 0, newer.stderr);
    assert.equal(await sha256File(path), server.sha256('/h.bin'));
    // The bytes the broken run wrote to the `.part` (same validators) are resumed, not fetched again.
    assert.ok(bodyBytes(server) <= 60 * KiB, `${bodyBytes(server)} body bytes`);
    assert.equal((await stat(path)).mtimeMs, await remoteTime(server, '/h.bin'));
    assert.deepEqual(await list(dir), ['h.bin']);
  });
});
