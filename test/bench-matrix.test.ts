/**
 * The bench's pure parts: the order of its runs (bench/util.ts), and the latency matrix's
 * (bench/matrix, bench/netem): its flags, the medians, ratios and
 * verdicts per point, the report's table and its section of BENCHMARKS.md. The matrix itself
 * needs root and runs under `npm run bench -- --matrix`, not here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMatrixArgs, parseSize, splitVariant, type MatrixOptions } from '../bench/matrix/options.js';
import {
  extractSection,
  matrixTail,
  markdownSection,
  matrixTable,
  runLines,
  SECTION_END,
  SECTION_START,
  spliceSection,
  summarize,
  fixesCount,
  tally,
  type MatrixRun,
  type PointResult,
  type Role,
} from '../bench/matrix/report.js';
import { linkSettings, namespaceName, parseSchedstat } from '../bench/netem/netns.js';
import { baselineScript, roundOrder } from '../bench/util.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './helpers/tmp.js';

function parse(argv: string[]): MatrixOptions {
  const o = parseMatrixArgs(argv);
  assert.notEqual(o, 'help');
  return o as MatrixOptions;
}

const ok = (wallS: number, delayCpu?: number, delayWait?: number): MatrixRun => ({ ok: true, wallS, delayCpu, delayWait, reason: undefined });
const failed: MatrixRun = { ok: false, wallS: 1, delayCpu: undefined, delayWait: undefined, reason: 'sha256 mismatch on f (3 bytes)' };
const tool = (label: string, role: Role, runs: MatrixRun[]): PointResult['tools'][number] => ({ label, role, template: `${label} URL`, runs });

function point(tools: PointResult['tools'], over: Partial<PointResult> = {}): PointResult {
  return { rttMs: 80, lossPct: 0.5, throttled: false, tools, error: undefined, ...over };
}

describe('--baseline', () => {
  it("is a build's folder or its CLI script; anything else is refused, saying why", async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'bin'));
    await writeFile(join(dir, 'bin', 'rangeget.js'), '');
    assert.equal(baselineScript(dir), join(dir, 'bin', 'rangeget.js'));
    assert.equal(baselineScript(join(dir, 'bin', 'rangeget.js')), join(dir, 'bin', 'rangeget.js'));
    assert.throws(() => baselineScript(join(dir, 'bin')), /is a folder without bin\/rangeget\.js/);
    assert.throws(() => baselineScript(join(dir, 'missing')), /does not exist/);
  });
});

describe('run order', () => {
  /** The ordered pairs of neighbours in rounds 1 to `rounds`. */
  const neighbours = (count: number, rounds: number): Set<string> =>
    new Set(Array.from({ length: rounds }, (_, r) => roundOrder(count, r + 1)).flatMap((row) => row.slice(1).map((v, k) => `${row[k]}→${v}`)));

  it('each round runs every variant once', () => {
    for (const count of [1, 2, 3, 4, 7]) {
      for (let round = 1; round <= 2 * count; round++) assert.deepEqual([...roundOrder(count, round)].sort((a, b) => a - b), [...Array(count).keys()]);
    }
  });

  it('each variant runs right after each other one: in n rounds (an even n), 2n (an odd one)', () => {
    assert.equal(neighbours(4, 4).size, 12);
    assert.equal(neighbours(3, 6).size, 6);
    assert.equal(neighbours(7, 14).size, 42);
    assert.deepEqual(roundOrder(4, 1), [0, 1, 3, 2]);
  });
});

describe('matrix options', () => {
  it('defaults to the issue #13 matrix: 256 MiB, 5 runs, 4 round trips × 2 losses × 2 rates', () => {
    const o = parse(['--matrix']);
    assert.equal(o.size, 256 * 1024 * 1024);
    assert.equal(o.runs, 5);
    assert.deepEqual(o.rtts, [0, 20, 80, 200]);
    assert.deepEqual(o.losses, [0, 0.5]);
    assert.deepEqual(o.throttles, [false, true]);
    assert.deepEqual(o.tools, ['rangeget', 'aria2c', 'axel']);
    assert.deepEqual(o.variants, []);
    assert.equal(o.emulationLimit, 0.9);
    assert.equal(o.gso, false);
    assert.equal(o.write, false);
  });

  it('takes repeated --variant values that start with a dash, and every other flag', () => {
    const o = parse(['--matrix', '--variant', '-c 16', '--variant=-c 32  --min-range 16M', '--matrix-size', '64M', '--runs', '1',
      '--matrix-rtt', '80,200', '--matrix-loss', '0.5', '--matrix-throttle', 'on', '--tools', 'rangeget,axel', '--timeout', '30',
      '--emulation-limit', '0.8', '--matrix-gso', '--write', '--baseline', '/tmp/b/bin/rangeget.js']);
    assert.deepEqual(o.variants, [['-c', '16'], ['-c', '32', '--min-range', '16M']]);
    assert.equal(o.size, 64 * 1024 * 1024);
    assert.equal(o.runs, 1);
    assert.deepEqual(o.rtts, [80, 200]);
    assert.deepEqual(o.losses, [0.5]);
    assert.deepEqual(o.throttles, [true]);
    assert.deepEqual(o.tools, ['rangeget', 'axel']);
    assert.equal(o.timeoutMs, 30_000);
    assert.equal(o.emulationLimit, 0.8);
    assert.equal(o.gso, true);
    assert.equal(o.write, true);
    assert.equal(o.baseline, '/tmp/b/bin/rangeget.js');
  });

  it('parses sizes in bytes, K, M and G (binary)', () => {
    assert.equal(parseSize('500000'), 500000);
    assert.equal(parseSize('16M'), 16 * 1024 ** 2);
    assert.equal(parseSize('64MiB'), 64 * 1024 ** 2);
    assert.equal(parseSize('1g'), 1024 ** 3);
    assert.equal(parseSize('512K'), 512 * 1024);
    assert.throws(() => parseSize('lots'), /--matrix-size: "lots" is not a size/);
    assert.throws(() => parseSize('0'), /at least 1 byte/);
  });

  it('refuses what it cannot run, with the flag named', () => {
    assert.throws(() => parse(['--matrix', '--matrix-rtt', '80,fast']), /--matrix-rtt/);
    assert.throws(() => parse(['--matrix', '--matrix-loss', '-1']), /--matrix-loss/);
    assert.throws(() => parse(['--matrix', '--matrix-throttle', 'sometimes']), /--matrix-throttle must be both, off or on/);
    assert.throws(() => parse(['--matrix', '--runs', '0']), /--runs must be a positive integer/);
    assert.throws(() => parse(['--matrix', '--tools', 'curl']), /unknown tool "curl"/);
    assert.throws(() => parse(['--matrix', '--tools', 'baseline']), /needs --baseline PATH/);
    assert.throws(() => parse(['--matrix', '--emulation-limit', 'x']), /--emulation-limit/);
    assert.throws(() => splitVariant('  '), /--variant needs arguments/);
    assert.equal(parseMatrixArgs(['--matrix', '--help']), 'help');
  });
});

describe('matrix figures', () => {
  it('divides each rangeget row by the better peer, and rangeget by the best variant that fixes the count', () => {
    const p = point([
      tool('rangeget', 'rangeget', [ok(2.0), ok(1.8), ok(9)]),
      tool('rangeget -c 32', 'variant', [ok(1.5), ok(1.6), ok(1.7)]),
      tool('aria2c', 'peer', [ok(2.5), ok(2.4), ok(2.6)]),
      tool('axel', 'peer', [ok(3), ok(3), ok(3)]),
    ]);
    const s = summarize(p, 0.9);
    assert.equal(s.medians.get('rangeget'), 2.0);
    assert.deepEqual(s.better, { label: 'aria2c', medianS: 2.5 });
    assert.equal(s.ratios.get('rangeget'), 0.8);
    assert.equal(s.ratios.get('rangeget -c 32'), 1.6 / 2.5);
    assert.equal(s.vsBestVariant, 2.0 / 1.6);
    assert.equal(s.delayCpu, undefined);
    assert.equal(s.verdict, 'met; fixed -c NOT met');
  });

  it('judges -c auto only against variants that fix the count', () => {
    assert.ok(fixesCount('rangeget -c 8') && fixesCount('rangeget --connections=32 --min-range 16M') && fixesCount('rangeget -c 32 --no-fsync'));
    assert.ok(!fixesCount('rangeget --no-fsync') && !fixesCount('rangeget --max-connections 32') && !fixesCount('rangeget -c auto'));
    const p = point([
      tool('rangeget', 'rangeget', [ok(2.0)]),
      tool('rangeget --no-fsync', 'variant', [ok(1.0)]),
      tool('rangeget -c 8', 'variant', [ok(1.95)]),
      tool('aria2c', 'peer', [ok(2.5)]),
    ]);
    const s = summarize(p, 0.9);
    assert.equal(s.vsBestVariant, 2.0 / 1.95);
    assert.equal(s.verdict, 'met; fixed -c met');
    const none = summarize(point([tool('rangeget', 'rangeget', [ok(2.0)]), tool('rangeget --no-fsync', 'variant', [ok(1.0)]), tool('aria2c', 'peer', [ok(2.5)])]), 0.9);
    assert.equal(none.vsBestVariant, undefined);
    assert.equal(none.verdict, 'met');
  });

  it('says NOT met above 0.9 × the better peer, and leaves failed runs out of the medians', () => {
    const p = point([tool('rangeget', 'rangeget', [ok(2.0)]), tool('aria2c', 'peer', [ok(2.1), failed, ok(0.1)])]);
    const s = summarize(p, 0.9);
    assert.equal(s.medians.get('aria2c'), 1.1);
    assert.equal(s.verdict, 'NOT met');
  });

  it('flags a point whose delay process was near a full core instead of judging it', () => {
    const p = point([tool('rangeget', 'rangeget', [ok(1, 0.3), ok(1, 0.4), ok(1, 0.95)]), tool('axel', 'peer', [ok(5, 0.95), ok(5, 0.92), ok(5, 0.1)])]);
    const s = summarize(p, 0.9);
    assert.equal(s.delayCpu, 0.92);
    assert.equal(s.delayBusy, 0.92);
    assert.equal(s.limited, true);
    assert.equal(s.verdict, 'emulation-limited: not counted');
    assert.equal(summarize(p, 0.95).verdict, 'met');
  });

  it('flags it too when the delay process spent that time waiting for a CPU (starved by the load)', () => {
    const p = point([tool('rangeget', 'rangeget', [ok(1, 0.1, 0.85)]), tool('axel', 'peer', [ok(5, 0.1, 0.2)])]);
    const s = summarize(p, 0.9);
    assert.equal(s.delayCpu, 0.1);
    assert.ok(Math.abs(s.delayBusy! - 0.95) < 1e-9);
    assert.equal(s.verdict, 'emulation-limited: not counted');
  });

  it('reports a failed rangeget run, a point not measured, and a point with no peer', () => {
    assert.equal(summarize(point([tool('rangeget', 'rangeget', [ok(1), failed]), tool('axel', 'peer', [ok(5)])]), 0.9).verdict, 'FAILED (1/2 rangeget runs)');
    assert.equal(summarize(point([], { error: 'nginx failed to start' }), 0.9).verdict, 'not measured: nginx failed to start');
    assert.equal(summarize(point([tool('rangeget', 'rangeget', [ok(1)])]), 0.9).verdict, '— (no peer figure)');
  });

  it('tabulates one row per point and counts the verdicts', () => {
    const points = [
      point([tool('rangeget', 'rangeget', [ok(1)]), tool('axel', 'peer', [ok(2, 0.2)])], { rttMs: 0, lossPct: 0 }),
      point([tool('rangeget', 'rangeget', [ok(3)]), tool('axel', 'peer', [failed])], { throttled: true }),
      point([], { rttMs: 200, error: 'no iptables' }),
    ];
    const t = matrixTable(points, 0.9);
    assert.deepEqual(t.headers, ['RTT', 'loss %', 'per connection', 'rangeget s', 'axel s', 'rangeget ÷ better peer', 'delay CPU', 'delay busy', 'verdict']);
    assert.deepEqual(t.rows[0], ['loopback', '0', 'unthrottled', '1.00', '2.00', '0.50', '20 %', '20 %', 'met']);
    assert.deepEqual(t.rows[1], ['80 ms', '0.5', '8 MiB/s', '3.00', '— (0/1 ok)', '—', '—', '—', '— (no peer figure)']);
    assert.deepEqual(t.rows[2]?.slice(0, 5), ['200 ms', '0.5', 'unthrottled', '—', '—']);
    assert.deepEqual(tally(points, 0.9), { met: 1, notMet: 0, limited: 0, other: 2 });
    assert.deepEqual(runLines(points[1]!), [
      '80 ms, 0.5 % loss, 8 MiB/s per connection: rangeget: 3.00 s',
      '80 ms, 0.5 % loss, 8 MiB/s per connection: axel: FAILED: sha256 mismatch on f (3 bytes)',
    ]);
  });
});

describe('BENCHMARKS.md section', () => {
  const points = [point([tool('rangeget', 'rangeget', [ok(1, 0.5, 0.1)]), tool('aria2c', 'peer', [ok(2, 0.5, 0.2)])])];
  const info = { date: '2026-11-30T00:00:00Z', command: 'npm run bench -- --matrix', sizeMiB: 64, runs: 1, versions: [['node', 'v20'] as [string, string]], emulationLimit: 0.9, gso: false };
  const section = markdownSection(points, info);

  it('is one marked block with the table, the commands and every run', () => {
    assert.ok(section.startsWith(`${SECTION_START}\n## Latency matrix`));
    assert.ok(section.endsWith(SECTION_END));
    assert.match(section, /\| 80 ms \| 0\.5 \| unthrottled \| 1\.00 \| 2\.00 \| 0\.50 \| 50 % \| 70 % \| met \|/);
    assert.match(section, /- aria2c: `aria2c URL`/);
    assert.match(section, /- 80 ms, 0\.5 % loss, unthrottled: rangeget: 1\.00 s \(delay CPU 50 %, waiting 10 %\)/);
    assert.match(section, /Points: 1 met, 0 not met, 0 emulation-limited, 0 failed or not measured\./);
  });

  it('is appended to a file without one and replaces only itself in a file with one', () => {
    const doc = '# Benchmarks\n\n## a) throttled\n\ntext\n';
    const once = spliceSection(doc, section);
    assert.equal(once, `${doc.trimEnd()}\n\n${section}\n`);
    assert.equal(extractSection(once), section);
    // `$&` in the new section stays as it is (no replacement patterns).
    const again = spliceSection(`${once}## later\n`, `${SECTION_START}\nnew $& text\n${SECTION_END}`);
    assert.equal(again, `${doc.trimEnd()}\n\n${SECTION_START}\nnew $& text\n${SECTION_END}\n## later\n`);
    assert.equal(extractSection(doc), undefined);
  });

  it("keeps the notes after it when the scenarios' --write rewrites the rest", () => {
    const notes = '### Notes on the matrix\n\nkept by hand';
    const doc = `# Benchmarks\n\n## a) throttled\n\ntext\n\n${section}\n\n${notes}\n\n`;
    assert.equal(matrixTail(doc), `${section}\n\n${notes}`);
    assert.equal(matrixTail('# Benchmarks\n'), undefined);
    // A matrix run after it still replaces only its own section.
    assert.equal(spliceSection(doc, `${SECTION_START}\nnew\n${SECTION_END}`).endsWith(`${SECTION_END}\n\n${notes}\n\n`), true);
  });
});

describe('netem', () => {
  it('names one namespace per round trip and loss', () => {
    assert.equal(namespaceName({ rttMs: 80, lossPct: 0.5 }), 'rangeget-bench-80-0.5');
    assert.equal(namespaceName({ rttMs: 0, lossPct: 0 }), 'rangeget-bench-0-0');
  });

  it('reads CPU and run-queue wait seconds from /proc/PID/schedstat', () => {
    assert.deepEqual(parseSchedstat('3250000000 500000000 1234\n'), { cpuS: 3.25, waitS: 0.5 });
    assert.equal(parseSchedstat('garbage'), undefined);
  });

  it('gives an emulated path MTU 1500 and one segment per packet, and leaves plain loopback alone', () => {
    assert.deepEqual(linkSettings({ rttMs: 0, lossPct: 0 }), []);
    assert.deepEqual(linkSettings({ rttMs: 0, lossPct: 0.5 }), ['mtu', '1500', 'gso_max_segs', '1']);
    assert.deepEqual(linkSettings({ rttMs: 80, lossPct: 0 }), ['mtu', '1500', 'gso_max_segs', '1']);
    assert.deepEqual(linkSettings({ rttMs: 80, lossPct: 0, gso: true }), ['mtu', '1500']);
  });
});
