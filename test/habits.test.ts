/**
 * Flags from wget, curl, aria2c and axel (src/cli/habits.ts): an unknown option's error names
 * rangeget's own, and every flag a hint names is one rangeget has.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram } from '../src/cli/flags.js';
import { continueHint, PEER_FLAGS, peerFlagHint } from '../src/cli/habits.js';
import { serve } from './helpers/server.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

describe('peer habits', () => {
  it("names rangeget's flag for a peer's unknown option, a value after = ignored; nothing for others", () => {
    assert.match(peerFlagHint("error: unknown option '-O'") ?? '', /rangeget's -o FILE/);
    assert.match(peerFlagHint("error: unknown option '--output-document=x.iso'") ?? '', /rangeget's -o FILE/);
    assert.match(peerFlagHint("error: unknown option '-x'") ?? '', /-c N.*--proxy URL/);
    assert.equal(peerFlagHint("error: unknown option '--bogus'"), undefined);
    assert.equal(peerFlagHint("error: option '--timeout <seconds>' argument missing"), undefined);
  });

  it('every flag a hint names is one of rangeget’s', () => {
    const program = buildProgram({ stdout: process.stdout, stderr: process.stderr, isTTY: false }, async () => 0);
    const flags = new Set(program.options.flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined)));
    for (const [peer, hint] of Object.entries(PEER_FLAGS)) {
      assert.ok(!flags.has(peer), `${peer} is rangeget's own flag`);
      const named = [...hint.matchAll(/(?:rangeget's|is|or|most) (-{1,2}[a-z-]+)/g)].map((m) => m[1]!);
      assert.ok(named.length > 0, `${peer}: names no flag`);
      for (const flag of named) assert.ok(flags.has(flag), `${peer}: ${flag} is not a rangeget flag`);
    }
  });

  it('-c with a URL (wget -c, aria2c -c) points to --continue', () => {
    assert.match(continueHint('https://example.com/a.iso') ?? '', /--continue/);
    assert.match(continueHint('example.com/a.iso') ?? '', /--continue/);
    assert.match(continueHint('example.com') ?? '', /--continue/);
    assert.equal(continueHint('1.5'), undefined);
    assert.equal(continueHint('8'), undefined);
    assert.equal(continueHint('auto'), undefined);
  });

  it('the CLI says so, exit 2, before any request', { timeout: 30_000 }, async (t) => {
    const server = await serve(t, { '/f': { size: 10 } });
    const cwd = await tempDir(t);
    const o = await runCli(t, ['-O', 'x.bin', server.url('/f')], { cwd });
    assert.equal(o.code, 2);
    assert.match(o.stderr, /^rangeget: error: unknown option '-O': wget's -O FILE is rangeget's -o FILE/);
    const c = await runCli(t, ['-c', server.url('/f')], { cwd });
    assert.equal(c.code, 2);
    assert.match(c.stderr, /wget's and aria2c's -c, which finishes a partial file, is rangeget's --continue/);
    assert.equal(server.stats.requests, 0);
  });
});
