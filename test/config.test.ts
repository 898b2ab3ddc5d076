/**
 * The configuration file: $XDG_CONFIG_HOME/rangeget/config or $RANGEGET_CONFIG, long options
 * one a line, command-line flags winning, --no-config, and a mistake reported as file:line
 * (exit 2) before any request. HOME, XDG_CONFIG_HOME and RANGEGET_CONFIG always point at
 * temporary directories: the real configuration is never read.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseConfig } from '../src/cli/config.js';
import { buildProgram, toDownloadOptions } from '../src/cli/flags.js';
import { resolveOptions } from '../src/options.js';
import { runMain } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { serve } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const KiB = 1024;
const T = { timeout: 40_000 };

describe('parseConfig', () => {
  it('turns lines into long flags: values, on/off switches, negated ones, comments', () => {
    const program = buildProgram({ stdout: new PassThrough(), stderr: new PassThrough(), isTTY: false }, async () => 0);
    const text = '# mine\nconnections = 16\nmax-speed=4M  # fast enough\ncontinue\nresume = false\nno-restart = yes\noverwrite = off\nheader = "X-A: 1"\n';
    const lines = parseConfig(text, 'cfg', program, () => undefined);
    assert.deepEqual(lines.flatMap((l) => l.args), ['--connections', '16', '--max-speed', '4M', '--continue', '--no-resume', '--no-restart', '--header', 'X-A: 1']);
    assert.deepEqual(lines.map((l) => l.line), [2, 3, 4, 5, 6, 7, 8]);
    for (const [bad, message] of [
      ['colour = red', /^cfg:1: unknown option 'colour'/],
      ['connections', /^cfg:1: 'connections' needs a value/],
      ['continue = maybe', /^cfg:1: 'continue' is on or off/],
      ['--connections 4', /^cfg:1: expected 'name = value'/],
      ['output = x.bin', /^cfg:1: 'output' cannot be set in the configuration file/],
    ] as const) {
      assert.throws(() => parseConfig(bad, 'cfg', program, () => undefined), (err: Error) => message.test(err.message), bad);
    }
  });

  it('fsync = false is --no-fsync, which reaches the download as fsync: false (syncing is the default)', () => {
    const program = buildProgram({ stdout: new PassThrough(), stderr: new PassThrough(), isTTY: false }, async () => 0);
    const lines = parseConfig('fsync = false\n', 'cfg', program, () => undefined);
    assert.deepEqual(lines.flatMap((l) => l.args), ['--no-fsync']);
    const raw = { resume: true, restart: true };
    assert.equal(toDownloadOptions({ ...raw, fsync: false }, {}).fsync, false);
    assert.equal(toDownloadOptions({ ...raw, fsync: true }, {}).fsync, undefined);
    assert.equal(resolveOptions('http://127.0.0.1/f', {}).fsync, true);
    assert.equal(resolveOptions('http://127.0.0.1/f', { fsync: false }).fsync, false);
  });
});

describe('configuration file', () => {
  it('$XDG_CONFIG_HOME/rangeget/config applies; command-line flags win; --no-config skips it', T, async (t) => {
    const server = await serve(t, { '/c.bin': { size: 100 * KiB } });
    const xdg = await tempDir(t);
    const dir = await tempDir(t);
    await mkdir(join(xdg, 'rangeget'));
    await writeFile(join(xdg, 'rangeget', 'config'), '# defaults\nconnections = 2\nmin-range = 16K\nuser-agent = cfg/1\nheader = X-From: config\ncontinue\n');
    const env = { XDG_CONFIG_HOME: xdg };
    const first = await runMain([server.url('/c.bin'), '-d', dir], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(await sha256File(join(dir, 'c.bin')), server.sha256('/c.bin'));
    assert.ok(server.stats.log.every((r) => r.headers['user-agent'] === 'cfg/1' && r.headers['x-from'] === 'config'));
    // connections = 2 and min-range = 16K both apply (the defaults would give one connection).
    assert.match(first.stderr, /, 2 connections\n$/);

    // `continue` from the file: the re-run is harmless; --user-agent on the command line wins.
    server.resetStats();
    const again = await runMain([server.url('/c.bin'), '-d', dir, '--user-agent', 'cli/2'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already complete/);
    assert.ok(server.stats.log.length > 0 && server.stats.log.every((r) => r.headers['user-agent'] === 'cli/2'));

    const skipped = await runMain([server.url('/c.bin'), '-d', dir, '--no-config'], { env });
    assert.equal(skipped.code, 6, 'without the file, no --continue');
  });

  it('a mistake is reported as file:line with exit 2 before any request; $RANGEGET_CONFIG must exist', T, async (t) => {
    const server = await serve(t, { '/m.bin': { size: 10 * KiB } });
    const dir = await tempDir(t);
    const file = join(dir, 'rangeget.conf');
    await writeFile(file, 'retries = 3\nconnections = many\n');
    const bad = await runMain([server.url('/m.bin'), '-d', dir], { env: { RANGEGET_CONFIG: file } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, new RegExp(`^rangeget: error: ${file}:2: -c: `));
    assert.equal(server.stats.requests, 0);

    const ok = await runMain([server.url('/m.bin'), '-d', dir, '--no-config'], { env: { RANGEGET_CONFIG: file } });
    assert.equal(ok.code, 0, ok.stderr);

    const missing = await runMain([server.url('/m.bin'), '-d', dir], { env: { RANGEGET_CONFIG: join(dir, 'none') } });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the configuration file .*none: no such file/);
  });
});
