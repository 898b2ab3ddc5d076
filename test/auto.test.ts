/**
 * `-c auto` end to end, against real loopback servers: the count gives connections back when
 * the server turns them away, the CLI takes `-c auto` and `--max-connections`, and the count
 * shows in the events. How it grows is checked in simulated time (scheduler-sim.test.ts) and
 * measured by the bench's latency matrix; loopback has no round trip to grow against.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { download, type DownloadEvent } from '../src/index.js';
import { jsonLines, runCli } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { serve } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const MiB = 1024 * 1024;

describe('-c auto', () => {
  it('gives connections back when the server answers 503 to more than four at once, byte-exact', { timeout: 60_000 }, async (t) => {
    const s = await serve(t, { '/f.bin': { size: 24 * MiB, throttle: 4 * MiB, faults: { maxBusy: 4 } } });
    const out = join(await tempDir(t), 'f.bin');
    const events: DownloadEvent[] = [];
    const result = await download(s.url('/f.bin'), { output: out, retryWait: 200, onEvent: (e) => events.push(e) });
    assert.equal(await sha256File(out), s.sha256('/f.bin'));
    const changes = events.flatMap((e) => (e.type === 'connections' ? [e] : []));
    assert.ok(changes.length > 0, 'connections events');
    assert.ok(changes.every((c) => c.reason === 'the server pushed back'), JSON.stringify(changes));
    // Sixteen at first; one fewer per 503 until the count is what the server serves.
    assert.ok(changes.at(-1)!.connections <= 4, JSON.stringify(changes));
    assert.equal(result.connections, 16);
    // Once the count is down, the turned-away requests stop: at most one 503 per slot above four.
    const refused = s.stats.log.filter((r) => r.method === 'GET' && r.status === 503).length;
    assert.ok(refused >= 12 && refused <= 12 + 12 * 2, `${refused} requests answered 503`);
  });

  it('a fixed -c never changes its count, even when pushed back', { timeout: 60_000 }, async (t) => {
    const s = await serve(t, { '/f.bin': { size: 8 * MiB, throttle: 8 * MiB, faults: { maxBusy: 2 } } });
    const out = join(await tempDir(t), 'f.bin');
    const events: DownloadEvent[] = [];
    await download(s.url('/f.bin'), { output: out, connections: 4, retryWait: 100, onEvent: (e) => events.push(e) });
    assert.equal(await sha256File(out), s.sha256('/f.bin'));
    assert.deepEqual(events.filter((e) => e.type === 'connections'), []);
  });

  it('the CLI takes -c auto and --max-connections, and reports the count', { timeout: 60_000 }, async (t) => {
    const s = await serve(t, { '/f.bin': { size: 8 * MiB } });
    const cwd = await tempDir(t);
    const r = await runCli(t, ['-c', 'auto', '--max-connections', '3', '--json', '-o', 'f.bin', s.url('/f.bin')], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    assert.equal(lines.find((l) => l.type === 'start')?.connections, 3);
    assert.equal(lines.find((l) => l.type === 'done')?.connections, 3);
    assert.equal(await sha256File(join(cwd, 'f.bin')), s.sha256('/f.bin'));
  });

  it('refuses a count that is neither a number nor auto, and a cap out of range (exit 2)', async (t) => {
    const cwd = await tempDir(t);
    const bad = await runCli(t, ['-c', 'many', 'http://127.0.0.1:9/f'], { cwd });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /-c/);
    const cap = await runCli(t, ['--max-connections', '65', 'http://127.0.0.1:9/f'], { cwd });
    assert.equal(cap.code, 2);
    assert.match(cap.stderr, /--max-connections.*1.*64/);
  });
});
