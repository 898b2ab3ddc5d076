/**
 * Metalink 4 (RFC 5854): the parser (well-formedness and use errors with file:line), `-M`
 * with mirrors of which one is dead and one corrupts a piece (piece hashes: the bad piece is
 * fetched again from another source), several files as a batch, and a URL that answers with
 * a metalink. Real servers on 127.0.0.1; sha256 of the output is the oracle.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ChecksumError, download, downloadMetalink, parseMetalink, UsageError } from '../src/index.js';
import { PieceLedger, lastResort } from '../src/engine/pieces.js';
import { contentOf, sha256File } from './helpers/content.js';
import { closedPort, listenLoopback } from './helpers/loopback.js';
import { serve, type FileSpec, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';
import { runCli } from './helpers/cli.js';

const T = { timeout: 60_000 };
const MiB = 1024 * 1024;
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A `<file>` element for `body`, with its URLs (url, priority) and piece hashes of `piece` bytes. */
function fileXml(name: string, body: Buffer, urls: Array<[string, number]>, piece = MiB): string {
  const pieces: string[] = [];
  for (let at = 0; at < body.length; at += piece) pieces.push(`      <hash>${sha(body.subarray(at, at + piece))}</hash>`);
  return [
    `  <file name="${name}">`,
    `    <size>${body.length}</size>`,
    `    <hash type="md5">${createHash('md5').update(body).digest('hex')}</hash>`,
    `    <hash type="sha-256">${sha(body)}</hash>`,
    `    <pieces length="${piece}" type="sha-256">`,
    ...pieces,
    '    </pieces>',
    ...urls.map(([u, p]) => `    <url priority="${p}" location="de">${u}</url>`),
    '  </file>',
  ].join('\n');
}

function metalinkXml(...files: string[]): string {
  return ['<?xml version="1.0" encoding="UTF-8"?>', '<metalink xmlns="urn:ietf:params:xml:ns:metalink">', ...files, '</metalink>', ''].join('\n');
}

/** A URL nobody listens at. */
async function deadUrl(path: string): Promise<string> {
  return `http://127.0.0.1:${await closedPort()}${path}`;
}

/** The 206s of `server` whose range overlaps `[start, end)`. */
function gets(server: TestServer, start: number, end: number): number {
  return server.stats.log.filter((r) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(String(r.headers.range ?? ''));
    return r.method === 'GET' && r.status === 206 && m !== null && Number(m[1]) < end && (m[2] === '' || Number(m[2]) >= start);
  }).length;
}

describe('metalink: parsing', () => {
  const body = Buffer.from('hello metalink');
  it('takes name, size, URLs by priority, sha-256 before md5, and the piece hashes', () => {
    const xml = metalinkXml(fileXml('dir/a.txt', body, [['http://b.test/a', 2], ['ftp://c.test/a', 1], ['https://a.test/a', 1]], 4));
    const [file] = parseMetalink(xml, 'a.meta4');
    assert.equal(file?.name, 'dir/a.txt');
    assert.equal(file?.size, body.length);
    assert.deepEqual(file?.urls.map((u) => u.url), ['https://a.test/a', 'http://b.test/a']);
    assert.deepEqual(file?.hash, { algorithm: 'sha256', hex: sha(body) });
    assert.equal(file?.pieces?.hashes.length, 4);
    assert.equal(file?.pieces?.length, 4);
  });

  it('names file:line for XML that is not well-formed, and for a document it cannot use', () => {
    const cases: Array<[string, RegExp]> = [
      ['<?xml version="1.0"?>\n<metalink xmlns="urn:ietf:params:xml:ns:metalink">\n  <file name="a">\n</metalink>\n', /^bad\.meta4:4:\d+: .*not well-formed/],
      ['<metalink xmlns="urn:ietf:params:xml:ns:metalink">\n<file name="a">\n<size>1</size>\n</file>\n</metalink>', /^bad\.meta4:2: <file name="a"> has no http or https URL/],
      ['<metalink xmlns="http://www.metalinker.org/">\n</metalink>', /^bad\.meta4:1: this is a Metalink 3 document/],
      ['<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<metalink/>', /^bad\.meta4:1: a DOCTYPE is not allowed/],
      ['<metalink xmlns="urn:ietf:params:xml:ns:metalink">\n\n<file name="../x"><url>http://a/</url></file></metalink>', /^bad\.meta4:3: <file name="\.\.\/x">: the name must be a relative path/],
      ['<metalink xmlns="urn:ietf:params:xml:ns:metalink">\n<file name="x">\n<hash type="sha-256">abc</hash>\n</file></metalink>', /^bad\.meta4:3: <hash type="sha-256">: a sha-256 digest is 64 hex digits/],
      ['', /^bad\.meta4:1:\d+: .*not well-formed/],
    ];
    for (const [xml, message] of cases) {
      assert.throws(() => parseMetalink(xml, 'bad.meta4'), (err: unknown) => err instanceof UsageError && message.test(err.message), xml);
    }
  });

  it('ledger: a piece is checked once fully written, and a bad one blames its sources and opens again', () => {
    const ledger = new PieceLedger(10, { length: 4, algorithm: 'sha256', hashes: ['a', 'b', 'c'] });
    assert.deepEqual(ledger.written({ start: 0, end: 3 }, 0), []);
    assert.deepEqual(ledger.written({ start: 3, end: 9 }, 1), [0, 1]);
    assert.deepEqual(ledger.written({ start: 9, end: 10 }, 1), [2]);
    assert.deepEqual(ledger.bad(0), [0, 1]);
    assert.deepEqual(ledger.written({ start: 0, end: 4 }, 2), [0]);
    assert.deepEqual(ledger.range(2), { start: 8, end: 10 });
    // A demoted source is used only when no other is alive.
    assert.deepEqual([...lastResort(new Set([0]), new Set([1]), 3)].sort(), [0, 1]);
    assert.deepEqual([...lastResort(new Set([0]), new Set([1]), 2)], [0]);
  });
});

describe('metalink: downloads', () => {
  it('-M: a dead mirror is dropped, a piece a mirror corrupts is fetched again from another, byte-exact', T, async (t) => {
    const size = 6 * MiB + 5;
    const spec: FileSpec = { size, seed: 5, etag: '"m"' };
    const body = contentOf(5, size);
    const bad = { start: 2 * MiB + 1000, end: 2 * MiB + 1100 };
    const corrupt = await serve(t, { '/f.bin': { ...spec, faults: { corrupt: bad } } });
    const good = await serve(t, { '/f.bin': spec });
    const dead = await deadUrl('/f.bin');
    const dir = await tempDir(t);
    const file = join(dir, 'three.meta4');
    await writeFile(file, metalinkXml(fileXml('f.bin', body, [[good.url('/f.bin'), 3], [corrupt.url('/f.bin'), 1], [dead, 2]])));
    // One connection: every range comes from the first URL (the corrupt one) until it is demoted.
    const r = await runCli(t, ['-M', file, '-d', dir, '-c', '1', '--retries', '1', '--retry-wait', '10ms'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'f.bin')), sha(body));
    assert.match(r.stderr, new RegExp(`mirror ${dead.replace(/[.]/g, '\\.')} dropped`));
    const warning = r.stderr.split('\n').filter((l) => l.includes('failed its sha256 check'));
    assert.equal(warning.length, 1, r.stderr);
    assert.match(warning[0]!, /piece 2 \(bytes 2097152-3145727\) from https?:\/\/127\.0\.0\.1:\d+\/f\.bin failed its sha256 check; fetching it again; that source is used last/);
    assert.ok(warning[0]!.includes(corrupt.url('/f.bin')));
    // The bad piece was fetched twice: once from the corrupt mirror, once from the good one.
    assert.equal(gets(corrupt, bad.start, bad.end), 1);
    assert.equal(gets(good, bad.start, bad.end), 1);
    assert.ok(!(await readdir(dir)).some((n) => n.endsWith('.part')));
  });

  it('downloadMetalink: several files as a batch, at 4 connections, byte-exact', T, async (t) => {
    const a = contentOf(11, 3 * MiB + 1);
    const b = contentOf(12, 1000);
    const server = await serve(t, { '/a.bin': { size: a.length, seed: 11 }, '/b.bin': { size: b.length, seed: 12 } });
    const mirror = await serve(t, { '/a.bin': { size: a.length, seed: 11, faults: { corrupt: { start: MiB, end: MiB + 1 } } } });
    const dir = await tempDir(t);
    const file = join(dir, 'two.meta4');
    await writeFile(file, metalinkXml(fileXml('a.bin', a, [[server.url('/a.bin'), 1], [mirror.url('/a.bin'), 1]], 256 * 1024), fileXml('sub/b.bin', b, [[server.url('/b.bin'), 1]], 256)));
    const results = await downloadMetalink(file, { dir, connections: 4 });
    assert.deepEqual(results.map((r) => r.ok), [true, true], results.map((r) => (r.ok ? '' : r.error.message)).join('\n'));
    assert.equal(await sha256File(join(dir, 'a.bin')), sha(a));
    assert.equal(await sha256File(join(dir, 'sub', 'b.bin')), sha(b));
    assert.equal(results[0]?.ok && results[0].result.verified?.hex, sha(a));
  });

  it('the first URL down: its mirror stands in, with a warning; piece hashes of another size: exit 3', T, async (t) => {
    const body = contentOf(31, MiB + 17);
    const server = await serve(t, { '/f.bin': { size: body.length, seed: 31 }, '/other.bin': { size: body.length + 1, seed: 31 } });
    const dead = await deadUrl('/f.bin');
    const dir = await tempDir(t);
    await writeFile(join(dir, 'down.meta4'), metalinkXml(fileXml('f.bin', body, [[dead, 1], [server.url('/f.bin'), 2]], 64 * 1024)));
    const r = await runCli(t, ['-M', 'down.meta4', '--retries', '0'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`trying the mirror ${server.url('/f.bin').replace(/[.]/g, '\\.')} instead`));
    assert.equal(await sha256File(join(dir, 'f.bin')), sha(body));
    const wrong = { length: 64 * 1024, algorithm: 'sha256' as const, hashes: Array.from({ length: 16 }, () => '0'.repeat(64)) };
    await assert.rejects(download(server.url('/other.bin'), { dir, pieces: wrong }), /is not the 16 pieces of 65536 bytes/);
  });

  it('a piece that every source corrupts fails the download (exit 5) after a second try, the .part kept', T, async (t) => {
    const body = contentOf(41, 300 * 1024);
    const piece = 64 * 1024;
    const server = await serve(t, { '/f.bin': { size: body.length, seed: 41, faults: { corrupt: { start: piece + 10, end: piece + 11 } } } });
    const dir = await tempDir(t);
    const hashes = Array.from({ length: Math.ceil(body.length / piece) }, (_, i) => sha(body.subarray(i * piece, (i + 1) * piece)));
    const warnings: string[] = [];
    const err = await download(server.url('/f.bin'), { dir, pieces: { length: piece, algorithm: 'sha256', hashes }, onEvent: (e) => e.type === 'warning' && warnings.push(e.message) }).then(
      () => assert.fail('the download should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ChecksumError, String(err));
    assert.equal(err.exitCode, 5);
    assert.match(err.message, /^piece 1 \(bytes 65536-131071\) sha256 mismatch/);
    assert.equal(warnings.filter((w) => w.includes('failed its sha256 check')).length, 1, warnings.join('\n'));
    assert.equal(gets(server, piece + 10, piece + 11), 2);
    assert.deepEqual((await readdir(dir)).sort(), ['f.bin.part', 'f.bin.part.json']);
  });

  it('a malformed .meta4 is exit 2 with file:line', T, async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'bad.meta4'), '<metalink xmlns="urn:ietf:params:xml:ns:metalink">\n  <file name="x">\n    <size>12</size>\n  </fil>\n</metalink>\n');
    const r = await runCli(t, ['-M', 'bad.meta4'], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /bad\.meta4:4:\d+: /);
  });

  it('a metalink of several files at a URL: -M URL downloads them all as a batch; the URL alone says to use -M', T, async (t) => {
    const one = contentOf(31, MiB + 5);
    const two = contentOf(32, 2 * MiB + 9);
    const server = await serve(t, { '/one.bin': { size: one.length, seed: 31 }, '/two.bin': { size: two.length, seed: 32 } });
    const xml = metalinkXml(fileXml('one.bin', one, [[server.url('/one.bin'), 1]], 512 * 1024), fileXml('sub/two.bin', two, [[server.url('/two.bin'), 1]], 512 * 1024));
    let served = 0;
    const doc = createServer((req, res) => {
      served++;
      res.writeHead(200, { 'content-type': 'application/metalink4+xml', 'content-length': Buffer.byteLength(xml) });
      res.end(req.method === 'HEAD' ? undefined : xml);
    });
    const { port, close } = await listenLoopback(doc);
    t.after(close);
    const url = `http://127.0.0.1:${port}/files.meta4`;
    const dir = await tempDir(t);
    const alone = await runCli(t, [url], { cwd: dir });
    assert.equal(alone.code, 2, alone.stderr);
    assert.match(alone.stderr, new RegExp(`metalink of 2 files; download them all with --metalink ${url.replace(/[.]/g, '\\.')}`));
    const before = served;
    const r = await runCli(t, ['-M', url, '-d', 'out'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(served, before + 1, 'the document was fetched once');
    assert.equal(await sha256File(join(dir, 'out', 'one.bin')), sha(one));
    assert.equal(await sha256File(join(dir, 'out', 'sub', 'two.bin')), sha(two));
  });

  it('a URL that answers application/metalink4+xml downloads the file it lists (--no-metalink saves the document)', T, async (t) => {
    const body = contentOf(21, 2 * MiB + 3);
    const server = await serve(t, { '/data.bin': { size: body.length, seed: 21 } });
    const xml = metalinkXml(fileXml('named.bin', body, [[server.url('/data.bin'), 1]], 512 * 1024));
    const doc = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/metalink4+xml', 'content-length': Buffer.byteLength(xml) });
      res.end(req.method === 'HEAD' ? undefined : xml);
    });
    const { port, close } = await listenLoopback(doc);
    t.after(close);
    const dir = await tempDir(t);
    const result = await download(`http://127.0.0.1:${port}/file.meta4`, { dir });
    assert.equal(result.path, join(dir, 'named.bin'));
    assert.equal(await sha256File(result.path), sha(body));
    const r = await runCli(t, [`http://127.0.0.1:${port}/file.meta4`, '--no-metalink', '-o', 'doc.meta4'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'doc.meta4')), sha(Buffer.from(xml)));
  });
});
