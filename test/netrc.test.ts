/**
 * `.netrc` as curl, wget and aria2c users keep it: read from $HOME/.netrc or $NETRC by default,
 * `--netrc-file`, `--no-netrc`; credentials for the URL's host only, never after a redirect to
 * another origin; a file others can read is warned about. Every test points HOME and NETRC at
 * a temporary directory: the real ~/.netrc is never read.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { netrcLogin, parseNetrc } from '../src/netrc.js';
import { download } from '../src/index.js';
import { runMain } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { serve, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const KiB = 1024;
const T = { timeout: 40_000 };
const basic = (userPass: string): string => `Basic ${Buffer.from(userPass).toString('base64')}`;
const auths = (server: TestServer): Array<string | undefined> => [...new Set(server.stats.log.map((r) => r.headers.authorization))];

describe('parseNetrc, netrcLogin (pure)', () => {
  it('reads machine and default entries, quoted tokens, comments and macdef blocks', () => {
    const entries = parseNetrc(
      [
        '# mine',
        'machine example.com login alice password "p w\\"x"',
        'macdef init',
        'cd /pub',
        'machine ignored login x password y',
        '',
        'machine other.org',
        '  login bob',
        '  password b0b account z',
        'default login anon password guest',
      ].join('\n'),
    );
    assert.deepEqual(entries, [
      { machine: 'example.com', login: 'alice', password: 'p w"x' },
      { machine: 'other.org', login: 'bob', password: 'b0b' },
      { login: 'anon', password: 'guest' },
    ]);
    assert.deepEqual(netrcLogin(entries, 'EXAMPLE.com'), { user: 'alice', password: 'p w"x' });
    assert.deepEqual(netrcLogin(entries, 'third.net'), { user: 'anon', password: 'guest' });
    assert.deepEqual(netrcLogin(entries, 'other.org', 'bob'), { user: 'bob', password: 'b0b' });
    assert.deepEqual(netrcLogin(entries, 'other.org', 'carol'), undefined);
    assert.equal(netrcLogin(parseNetrc('machine a login b'), 'a'), undefined);
  });
});

describe('.netrc', () => {
  it("is read from $HOME by default; its credentials reach the URL's origin only, never after a redirect to another", T, async (t) => {
    const other = await serve(t, { '/file.bin': { size: 200 * KiB } });
    const origin = await serve(t, { '/away': { size: 0, redirect: other.url('/file.bin') }, '/own.bin': { size: 20 * KiB } });
    const home = await tempDir(t);
    const dir = await tempDir(t);
    // Both servers are 127.0.0.1: only the origin (port included) decides where the header goes.
    await writeFile(join(home, '.netrc'), 'machine 127.0.0.1 login alice password s3cret\n', { mode: 0o600 });
    const r = await runMain([origin.url('/away'), '-d', dir, '-c', '2', '--min-range', '32K'], { env: { HOME: home, NETRC: '' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.includes('warning'), false, r.stderr);
    assert.equal(await sha256File(join(dir, 'file.bin')), other.sha256('/file.bin'));
    assert.deepEqual(auths(origin), [basic('alice:s3cret')]);
    assert.deepEqual(auths(other), [undefined]);
    assert.ok(other.stats.log.some((rec) => rec.status === 206));

    origin.resetStats();
    const off = await runMain([origin.url('/own.bin'), '-d', join(dir, 'off'), '--no-netrc'], { env: { HOME: home, NETRC: '' } });
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual(auths(origin), [undefined]);

    origin.resetStats();
    const user = await runMain([origin.url('/own.bin'), '-d', join(dir, 'user'), '--user', 'dave:x'], { env: { HOME: home, NETRC: '' } });
    assert.equal(user.code, 0, user.stderr);
    assert.deepEqual(auths(origin), [basic('dave:x')], '--user wins');

    origin.resetStats();
    const named = await runMain([`http://alice@127.0.0.1:${origin.port}/own.bin`, '-d', join(dir, 'named')], { env: { HOME: home, NETRC: '' } });
    assert.equal(named.code, 0, named.stderr);
    assert.deepEqual(auths(origin), [basic('alice:s3cret')], 'a user in the URL takes its password from the file');
  });

  it('$NETRC and --netrc-file name the file; one others can read is warned about; a missing --netrc-file is a usage error', T, async (t) => {
    const server = await serve(t, { '/n.bin': { size: 10 * KiB } });
    const files = await tempDir(t);
    const dir = await tempDir(t);
    const open = join(files, 'open-netrc');
    await writeFile(open, 'default login carol password c4\n');
    await chmod(open, 0o644);
    const viaEnv = await runMain([server.url('/n.bin'), '-d', join(dir, 'env')], { env: { NETRC: open } });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.match(viaEnv.stderr, new RegExp(`warning: ${open} can be read by other users; make it private: chmod 600 ${open}`));
    assert.deepEqual(auths(server), [basic('carol:c4')]);

    server.resetStats();
    const flag = await runMain([server.url('/n.bin'), '-d', join(dir, 'flag'), '--netrc-file', open], { env: { NETRC: join(files, 'none') } });
    assert.equal(flag.code, 0, flag.stderr);
    assert.deepEqual(auths(server), [basic('carol:c4')]);

    const missing = await runMain([server.url('/n.bin'), '-d', dir, '--netrc-file', join(files, 'none')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--netrc-file: cannot read .*none: no such file/);

    // The library reads it only when asked.
    server.resetStats();
    await download(server.url('/n.bin'), { dir: join(dir, 'lib') });
    assert.deepEqual(auths(server), [undefined]);
    server.resetStats();
    await download(server.url('/n.bin'), { dir: join(dir, 'lib2'), netrc: open });
    assert.deepEqual(auths(server), [basic('carol:c4')]);
  });
});
