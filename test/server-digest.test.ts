/**
 * Digests the server publishes (RFC 9530 Repr-Digest, RFC 3230 Digest): asked for on the
 * probe, verified against the finished file as if `--checksum` had been given. Real servers
 * on 127.0.0.1; sha256 of the output is the oracle.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ChecksumError, download, type DownloadEvent } from '../src/index.js';
import { parseLegacyDigest, parseReprDigest, serverDigest } from '../src/http/digest-fields.js';
import { contentOf, sha256File } from './helpers/content.js';
import { serve, type FileSpec } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';
import { runCli } from './helpers/cli.js';

const T = { timeout: 60_000 };
const SIZE = 3 * 1024 * 1024 + 11;
const SEED = 77;
const body = contentOf(SEED, SIZE);
const b64 = (algorithm: string, data: Buffer = body): string => createHash(algorithm).update(data).digest('base64');
const hex = (algorithm: string): string => createHash(algorithm).update(body).digest('hex');
const WRONG = b64('sha256', Buffer.from('not the file'));

function file(headers: Record<string, string>, extra: Partial<FileSpec> = {}): Record<string, FileSpec> {
  return { '/f.bin': { size: SIZE, seed: SEED, headers, ...extra } };
}

describe('server digests: parsing', () => {
  it('reads Repr-Digest as a dictionary of byte sequences, sha-256 preferred', () => {
    const both = `sha-512=:${b64('sha512')}:, sha-256=:${b64('sha256')}:;p=1`;
    assert.deepEqual(parseReprDigest(both), { algorithm: 'sha256', hex: hex('sha256'), field: 'Repr-Digest' });
    assert.deepEqual(parseReprDigest(`sha-512=:${b64('sha512')}:`), { algorithm: 'sha512', hex: hex('sha512'), field: 'Repr-Digest' });
    // Not a byte sequence, a digest of the wrong length, an unknown algorithm: nothing.
    assert.equal(parseReprDigest(`sha-256=${b64('sha256')}`), undefined);
    assert.equal(parseReprDigest(`sha-256=:${b64('md5')}:`), undefined);
    assert.equal(parseReprDigest(`crc32c=:AAAAAA==:`), undefined);
  });

  it('reads the older Digest in any case, base64 without colons', () => {
    assert.deepEqual(parseLegacyDigest(`MD5=${b64('md5')}, SHA-256=${b64('sha256')}`), { algorithm: 'sha256', hex: hex('sha256'), field: 'Digest' });
    assert.deepEqual(parseLegacyDigest(`md5=${b64('md5')}`), { algorithm: 'md5', hex: hex('md5'), field: 'Digest' });
    assert.equal(parseLegacyDigest('UNIXsum=30637'), undefined);
  });

  it('takes only whole-file digests: never Content-Digest, a Digest of a 206 neither', () => {
    const digest = `sha-256=:${b64('sha256')}:`;
    assert.equal(serverDigest({ 'content-digest': digest }, 200, false), undefined);
    assert.equal(serverDigest({ digest: `SHA-256=${b64('sha256')}` }, 206, false), undefined);
    assert.equal(serverDigest({ digest: `SHA-256=${b64('sha256')}` }, 200, false)?.field, 'Digest');
    assert.equal(serverDigest({ digest: `SHA-256=${b64('sha256')}` }, 200, true)?.field, 'Digest');
    // RFC 9530: Repr-Digest is about the whole representation, also in a 206.
    assert.equal(serverDigest({ 'repr-digest': digest }, 206, false)?.field, 'Repr-Digest');
    assert.equal(serverDigest({ 'repr-digest': digest, digest: `MD5=${b64('md5')}` }, 200, true)?.field, 'Repr-Digest');
  });
});

describe('server digests: downloads', () => {
  it('asks with Want-Repr-Digest and verifies a right Repr-Digest, saying so in the result and the done event', T, async (t) => {
    const server = await serve(t, file({ 'Repr-Digest': `sha-256=:${b64('sha256')}:` }));
    const out = join(await tempDir(t), 'f.bin');
    const events: DownloadEvent[] = [];
    const result = await download(server.url('/f.bin'), { output: out, connections: 4, onEvent: (e) => events.push(e) });
    assert.equal(await sha256File(out), hex('sha256'));
    const verified = { algorithm: 'sha256', hex: hex('sha256'), source: 'Repr-Digest', url: server.url('/f.bin') };
    assert.deepEqual(result.verified, verified);
    const done = events.find((e) => e.type === 'done');
    assert.ok(done?.type === 'done');
    assert.deepEqual(done.verified, verified);
    assert.equal(server.stats.log[0]?.headers['want-repr-digest'], 'sha-256=10, sha-512=3');
  });

  it('refuses a file that does not match a wrong Repr-Digest: exit 5, nothing at the path, the .part kept', T, async (t) => {
    const server = await serve(t, file({ 'Repr-Digest': `sha-256=:${WRONG}:` }));
    const cwd = await tempDir(t);
    const r = await runCli(t, [server.url('/f.bin'), '-o', 'f.bin', '--json'], { cwd });
    assert.equal(r.code, 5, r.stderr);
    assert.ok((r.stdout + r.stderr).includes(`sha256 (the server's Repr-Digest for ${server.url('/f.bin')}) mismatch`), r.stdout + r.stderr);
    const left = await readdir(cwd);
    assert.ok(!left.includes('f.bin'), left.join(' '));
    assert.ok(left.includes('f.bin.part'), left.join(' '));
  });

  it('verifies an older Digest header (MD5) and prints where it came from', T, async (t) => {
    const server = await serve(t, file({ Digest: `MD5=${b64('md5')}` }));
    const cwd = await tempDir(t);
    const r = await runCli(t, [server.url('/f.bin'), '-o', 'f.bin', '--json'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const done = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; verified?: unknown }).find((e) => e.type === 'done');
    assert.deepEqual(done?.verified, { algorithm: 'md5', hex: hex('md5'), source: 'Digest', url: server.url('/f.bin') });
    assert.equal(await sha256File(join(cwd, 'f.bin')), hex('sha256'));
  });

  it('takes a Repr-Digest from the 206 to the probe GET, but not a wrong Digest there', T, async (t) => {
    // HEAD refused: the probe's GET bytes=0-0 gets a 206 carrying both headers.
    const server = await serve(t, file({ 'Repr-Digest': `sha-512=:${b64('sha512')}:` }, { head: false }));
    const out = join(await tempDir(t), 'f.bin');
    const result = await download(server.url('/f.bin'), { output: out });
    assert.equal(result.verified?.algorithm, 'sha512');
    const legacy = await serve(t, file({ Digest: `SHA-256=${WRONG}` }, { head: false }));
    const out2 = join(await tempDir(t), 'f.bin');
    const second = await download(legacy.url('/f.bin'), { output: out2 });
    assert.equal(second.verified, undefined);
    assert.equal(await sha256File(out2), hex('sha256'));
  });

  it('lets --checksum win over the server, and --no-server-digest ignore it', T, async (t) => {
    const server = await serve(t, file({ 'Repr-Digest': `sha-256=:${WRONG}:`, 'Content-Digest': `sha-256=:${WRONG}:` }));
    const cwd = await tempDir(t);
    const own = await runCli(t, [server.url('/f.bin'), '-o', 'a.bin', '--checksum', `sha256=${hex('sha256')}`], { cwd });
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stderr, /checksum ok/);
    const off = await runCli(t, [server.url('/f.bin'), '-o', 'b.bin', '--no-server-digest'], { cwd });
    assert.equal(off.code, 0, off.stderr);
    assert.doesNotMatch(off.stderr, /ok \(the server/);
    assert.equal(await sha256File(join(cwd, 'b.bin')), hex('sha256'));
    assert.ok(server.stats.log.every((r) => r.headers['want-repr-digest'] === undefined));
    const lib = await download(server.url('/f.bin'), { output: join(cwd, 'c.bin'), serverDigest: false });
    assert.equal(lib.verified, undefined);
    await assert.rejects(download(server.url('/f.bin'), { output: join(cwd, 'd.bin') }), ChecksumError);
  });
});
