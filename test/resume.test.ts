/**
 * Resume, end to end: the CLI as a child process (`node bin/rangeget.js`) against real
 * test servers on 127.0.0.1, interrupted in every way a download gets interrupted (kill -9
 * at seeded random moments, SIGINT, SIGTERM), with the remote file changing between and
 * during runs, damaged control files, a shortened `.part`, servers without validators.
 *
 * The oracle is the file itself: its SHA-256 must equal the content the server serves,
 * byte for byte. Byte accounting comes from the server's request log: a resume must fetch
 * exactly the bytes the control file does not claim, and every byte the control file
 * claims must be on disk.
 */
import { describe, it, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { link, open, readdir, readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readControl, type ControlState } from '../src/storage/control-file.js';
import { download, FileExistsError } from '../src/index.js';
import { normalize, totalLength } from '../src/primitives/ranges.js';
import { planRanges } from '../src/engine/plan.js';
import { jsonLines, startCli, waitUntil, type CliProcess, type Exit } from './helpers/cli.js';
import { formatBytes } from '../src/cli/format.js';
import { sha256File } from './helpers/content.js';
import { mulberry32 } from './helpers/random.js';
import { serve, type FileSpec, type TestServer } from './helpers/server.js';
import { list, tempDir } from './helpers/tmp.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Constants of src/engine/transfer.ts (write buffer and flush interval of each connection) the byte-excess bound is built from. */
const SAVE_INTERVAL_S = 0.5;
const FLUSH_INTERVAL_S = 0.2;
const WRITE_BUFFER = 1 * MiB;

const OUT = 'out.bin';
const PART = `${OUT}.part`;
const CONTROL = `${OUT}.part.json`;
/** What may stand in the directory of an unfinished download (a killed run leaves its lock too). */
const UNFINISHED = new Set([PART, CONTROL, `${CONTROL}.tmp`, `${PART}.lock`]);

// ---------------------------------------------------------------------------------------
// Helpers

/** Content bytes the server sent for the requests logged from index `from` (to `to`). */
function servedFrom(srv: TestServer, from: number, to = srv.stats.log.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += srv.stats.log[i]!.bytes;
  return sum;
}

function getsFrom(srv: TestServer, from: number): number {
  return srv.stats.log.slice(from).filter((r) => r.method === 'GET').length;
}

/** The control file as the next run will read it. */
async function control(dir: string): Promise<{ kind: 'missing' } | { kind: 'corrupt'; reason: string } | { kind: 'ok'; state: ControlState; claimed: number }> {
  const read = await readControl(join(dir, CONTROL));
  if (read.kind !== 'ok') return read;
  const claimed = totalLength(normalize(read.state.written.map(([start, end]) => ({ start, end })), read.state.size));
  return { kind: 'ok', state: read.state, claimed };
}

/** Every byte the state claims is on disk in the `.part`, equal to `content`. */
async function assertClaimsTrue(dir: string, state: ControlState, content: Buffer, what: string): Promise<void> {
  assert.equal(state.size, content.length, `${what}: the state is for another size`);
  const file = await open(join(dir, PART), 'r');
  try {
    for (const [start, end] of state.written) {
      const buf = Buffer.alloc(end - start);
      const { bytesRead } = await file.read(buf, 0, buf.length, start);
      assert.equal(bytesRead, buf.length, `${what}: the control file claims bytes ${start}-${end - 1} past the end of the .part`);
      if (!buf.equals(content.subarray(start, end))) {
        let at = 0;
        while (buf[at] === content[start + at]) at++;
        assert.fail(`${what}: the control file claims bytes ${start}-${end - 1}, but byte ${start + at} on disk is wrong`);
      }
    }
  } finally {
    await file.close();
  }
}

/** Only unfinished-download files stand in `dir`: nothing at the final path. */
async function assertNothingFinal(dir: string, what: string): Promise<string[]> {
  const names = (await readdir(dir)).sort();
  for (const name of names) assert.ok(UNFINISHED.has(name), `${what}: unexpected ${name} in ${names.join(', ')}`);
  return names;
}

/** The finished download: exactly the final file, byte-exact, no working files left. */
async function assertComplete(dir: string, sha: string, what: string): Promise<void> {
  assert.deepEqual((await readdir(dir)).sort(), [OUT], `${what}: files left in the directory`);
  assert.equal(await sha256File(join(dir, OUT)), sha, `${what}: the file is not byte-exact`);
}

function assertExit(exit: Exit, code: number, what: string): void {
  assert.equal(exit.code, code, `${what}: exit ${exit.code} (signal ${exit.signal}), expected ${code}; stderr:\n${exit.stderr}`);
}

interface Interrupted {
  exit: Exit;
  /** Content bytes served to this run. */
  served: number;
  /** Log index of its first request. */
  from: number;
}

/**
 * Start the CLI, wait until `atBytes` content bytes were served to it (observed through
 * the server's log), then send `signal`. Fails when the run ends or stalls before that.
 */
async function interrupt(
  t: TestContext,
  srv: TestServer,
  dir: string,
  args: string[],
  atBytes: number,
  signal: NodeJS.Signals,
): Promise<Interrupted> {
  const from = srv.stats.log.length;
  const child = startCli(t, args, { cwd: dir });
  const reached = await waitUntil(`${atBytes} bytes served`, () => servedFrom(srv, from) >= atBytes, {
    timeoutMs: 20_000,
    unlessExited: child,
  });
  assert.ok(reached, `the run ended before ${atBytes} bytes were served; stderr:\n${child.stderr()}`);
  assert.ok(child.kill(signal), 'the child was gone before the signal');
  const exit = await child.wait(15_000, `rangeget after ${signal}`);
  return { exit, served: servedFrom(srv, from), from };
}

/** Run the CLI to its end. */
async function run(t: TestContext, srv: TestServer, dir: string, args: string[], timeoutMs = 30_000): Promise<Interrupted> {
  const from = srv.stats.log.length;
  const exit = await startCli(t, args, { cwd: dir }).wait(timeoutMs);
  return { exit, served: servedFrom(srv, from), from };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const mib = (n: number): string => `${(n / MiB).toFixed(2)} MiB`;

// ---------------------------------------------------------------------------------------
// kill -9 at seeded random moments

/**
 * One full download takes ~1.6 s of transfer (plus ~0.6 s to start a node process and
 * probe): 8 MiB over 4 connections of 1.25 MiB/s each. Ranges are 2 MiB, so with the 1 MiB
 * minimum range and the 1 MiB steal margin no range is ever stolen: every request is
 * served to its end unless the client dies, and the byte accounting is exact.
 */
const KILL = { size: 8 * MiB, connections: 4, throttle: 1.25 * MiB, kills: 20, seed: 0x2b_5eed };
/** The server sends a throttled body in slices of min(16 KiB, throttle / 50). */
const SLICE = Math.min(16 * KiB, Math.floor(KILL.throttle / 50));
/** Slack for a late save timer, a late flush and the poll that notices the trigger, on a quiet machine. */
const LAG_S = 0.3;
/** Bytes a connection may have in flight: socket buffers, undici's queue, the server's slices after the kill. */
const IN_FLIGHT = 256 * KiB;
/** Bytes of a connection received but not yet written: the buffer is flushed at 1 MiB or after 200 ms. */
const UNFLUSHED = Math.min(WRITE_BUFFER, KILL.throttle * FLUSH_INTERVAL_S + SLICE);

/**
 * The honest bound on the bytes fetched twice because of one kill -9 (bytes served to the
 * killed run that its control file does not claim). The state on disk is at most one save
 * interval old, plus the save's own time
 * (an fdatasync of the .part, then an fsync of the new control file: `2 × sync`), plus
 * scheduling delays (`lag`); the bytes it misses were written since, or wait in a write
 * buffer, or are in flight. Per connection:
 *   throttle × (0.5 s + lag + 2 × sync) + unflushed + slice + in flight.
 * `sync` and the delays beyond LAG_S are measured while the run happens (see {@link Slowness}),
 * because the machine is shared: on a quiet one they are a few ms.
 */
function lostBound(extraLagS: number): number {
  return KILL.connections * (KILL.throttle * (SAVE_INTERVAL_S + LAG_S + extraLagS) + UNFLUSHED + SLICE + IN_FLIGHT);
}

/**
 * How slow the machine is right now: fdatasync latency on the temp file system (what a
 * save waits for) and timer lateness (what a save timer suffers), sampled every 50 ms.
 */
class Slowness {
  private readonly samples: Array<{ start: number; end: number; sync: number; late: number }> = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(dir: string) {
    this.loop = this.run(join(dir, 'sync-probe'));
  }

  private async run(path: string): Promise<void> {
    const file = await open(path, 'w+');
    const block = Buffer.alloc(64 * KiB, 0x5a);
    try {
      for (let i = 0; this.running; i++) {
        const start = performance.now();
        await file.write(block, 0, block.length, (i % 64) * block.length);
        const before = performance.now();
        await file.datasync();
        const sync = performance.now() - before;
        const asleep = performance.now();
        await new Promise<void>((resolve) => setTimeout(resolve, 50));
        const late = Math.max(0, performance.now() - asleep - 50);
        this.samples.push({ start, end: performance.now(), sync, late });
      }
    } finally {
      await file.close();
    }
  }

  /** The slowest sync and the latest timer seen between `from` and `to` (ms, performance.now()). */
  worst(from: number, to: number): { sync: number; late: number } {
    let sync = 0;
    let late = 0;
    for (const s of this.samples) {
      if (s.end < from || s.start > to) continue;
      sync = Math.max(sync, s.sync);
      late = Math.max(late, s.late);
    }
    return { sync, late };
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

type Trigger =
  | { kind: 'spawn' } // kill at once: the process has not even sent its probe
  | { kind: 'probe' } // kill when the first request (the HEAD) arrived
  | { kind: 'bytes'; bytes: number }; // kill when this many content bytes were served to this run

interface KillRecord {
  scenario: number;
  trigger: string;
  served: number;
  claimedBefore: number;
  claimedAfter: number;
  /** Bytes served to the killed run that its control file does not claim: fetched again. */
  lost: number;
  /** The bound for this kill, and the window bound: bytes served in the last (0.5 s + 0.2 s + lag) before the kill. */
  bound: number;
  windowBound: number;
  /** Measured slowness during the run (ms). */
  sync: number;
  late: number;
  /** False when saves could not keep up with the save interval (then the bound is not asserted). */
  checked: boolean;
}

function describeTrigger(trigger: Trigger): string {
  return trigger.kind === 'bytes' ? `after ${trigger.bytes} bytes (${((100 * trigger.bytes) / KILL.size).toFixed(1)}%)` : `at ${trigger.kind}`;
}

/**
 * Seeded scenarios with 20 kills in all: the corner cases first (at once, at the probe,
 * after the first byte, near the end, after the last byte), then random kill points, each
 * followed by a second kill during the resumed run (a resume of a resume).
 */
function killScenarios(): Trigger[][] {
  const random = mulberry32(KILL.seed);
  const size = KILL.size;
  const at = (bytes: number): Trigger => ({ kind: 'bytes', bytes: Math.max(1, Math.floor(bytes)) });
  const scenarios: Trigger[][] = [
    [{ kind: 'spawn' }, { kind: 'probe' }, at(1)], // right after start, three times over
    [at(size - 64 * KiB)], // near the end
    [at(size - 512 * KiB)],
    [at(size)], // every byte served: the kill lands in the last flush, save or assembly
  ];
  let kills = scenarios.reduce((n, s) => n + s.length, 0);
  while (kills < KILL.kills) {
    const first = 1 + random() * (size - 128 * KiB);
    // The second kill lands somewhere in what the resumed run has left to fetch.
    scenarios.push([at(first), at(1 + random() * (size - first) * 0.9)]);
    kills += 2;
  }
  return scenarios;
}

test(
  `kill -9 at ${KILL.kills} seeded random moments, then the same command resumes byte-exact`,
  { concurrency: 2, timeout: 240_000 },
  async (t) => {
    const scenarios = killScenarios();
    const kills: KillRecord[] = [];
    const excesses: Array<{ scenario: number; excess: number; bound: number; checked: boolean }> = [];
    let finishedBeforeKill = 0;
    const slowness = new Slowness(await tempDir(t));
    t.after(() => slowness.stop());

    await Promise.all(
      scenarios.map((triggers, index) =>
        t.test(`scenario ${index}${index % 2 === 1 ? ' (--no-fsync)' : ''}: kill ${triggers.map(describeTrigger).join(', then ')}`, async (st) => {
          const path = '/k.bin';
          const srv = await serve(st, { [path]: { size: KILL.size, throttle: KILL.throttle, seed: 7000 + index } });
          const content = srv.content(path);
          const sha = srv.sha256(path);
          const dir = await tempDir(st);
          const final = join(dir, OUT);
          // Every other scenario without syncs: a kill -9 must find the same true state (the page cache outlives the process).
          const args = ['-c', String(KILL.connections), ...(index % 2 === 1 ? ['--no-fsync'] : []), '-o', OUT, '--json', srv.url(path)];
          const runs: Array<{
            trigger: string;
            from: number;
            to: number;
            claimedBefore: number;
            claimedAfter: number;
            startedAt: number;
            killedAt: number;
            samples: Array<[number, number]>;
          }> = [];
          let claimedBefore = 0;

          for (const trigger of triggers) {
            const from = srv.stats.log.length;
            const startedAt = performance.now();
            const child: CliProcess = startCli(st, args, { cwd: dir });
            const samples: Array<[number, number]> = [];
            let earlyFinal: number | undefined;
            const fired = (): boolean => {
              // Whatever stands at the final path while the download runs must be complete.
              if (earlyFinal === undefined && existsSync(final)) earlyFinal = statSync(final).size;
              const served = servedFrom(srv, from);
              samples.push([performance.now(), served]);
              if (trigger.kind === 'spawn') return true;
              if (trigger.kind === 'probe') return srv.stats.log.length > from;
              return served >= trigger.bytes;
            };
            const reached = await waitUntil(describeTrigger(trigger), fired, { timeoutMs: 30_000, unlessExited: child });
            const killedAt = performance.now();
            child.kill('SIGKILL');
            const exit = await child.wait(10_000, 'rangeget after SIGKILL');
            if (earlyFinal !== undefined) assert.equal(earlyFinal, KILL.size, 'an incomplete file stood at the final path');

            if (!reached || exit.code === 0 || existsSync(final)) {
              // The download finished before the kill landed (possible only for a kill at the very end).
              assert.ok(trigger.kind === 'bytes' && trigger.bytes >= KILL.size - 512 * KiB, `run ended before ${describeTrigger(trigger)}: ${exit.stderr}`);
              assert.equal(await sha256File(final), sha, 'a file at the final path after a kill is not byte-exact');
              finishedBeforeKill++;
              return;
            }
            assert.equal(exit.signal, 'SIGKILL', `the child was not killed: exit ${exit.code}\n${exit.stderr}`);
            await assertNothingFinal(dir, `after kill ${describeTrigger(trigger)}`);

            // A kill at any instant leaves a true state: never a corrupt file, never a claim
            // of a byte that is not on disk.
            const ctl = await control(dir);
            assert.notEqual(ctl.kind, 'corrupt', `kill -9 left a corrupt control file: ${JSON.stringify(ctl)}`);
            let claimedAfter = 0;
            if (ctl.kind === 'ok') {
              await assertClaimsTrue(dir, ctl.state, content, `after kill ${describeTrigger(trigger)}`);
              claimedAfter = ctl.claimed;
            }
            runs.push({ trigger: describeTrigger(trigger), from, to: srv.stats.log.length, claimedBefore, claimedAfter, startedAt, killedAt, samples });
            claimedBefore = claimedAfter;
          }

          // The same command again, to the end.
          const from = srv.stats.log.length;
          const last = await startCli(st, args, { cwd: dir }).wait(60_000);
          assertExit(last, 0, 'the resumed run');
          await assertComplete(dir, sha, 'after the resume');
          const finalServed = servedFrom(srv, from);
          const evs = jsonLines(last.stdout);
          assert.ok(!evs.some((e) => e.type === 'warning' && /unreadable/.test(String(e.message))), 'a kill left an unreadable control file');
          const resume = evs.find((e) => e.type === 'resume');
          if (claimedBefore > 0) {
            assert.equal(resume?.have, claimedBefore, 'the resume did not keep every byte the control file claims');
          } else {
            assert.equal(resume, undefined, 'a resume from nothing');
          }
          // A resume fetches exactly what the control file does not claim (no range is stolen at these sizes).
          assert.equal(finalServed, KILL.size - claimedBefore, 'the resumed run fetched more (or less) than the missing bytes');

          // Bytes fetched twice, per kill. By now every killed connection is long closed, so the log is settled.
          let bound = 0;
          let checked = true;
          for (const r of runs) {
            const served = servedFrom(srv, r.from, r.to);
            const lost = served - (r.claimedAfter - r.claimedBefore);
            const { sync, late } = slowness.worst(r.startedAt, r.killedAt);
            const extraLagS = (2 * sync + late) / 1000;
            // A save (fdatasync + fsync) slower than the save interval cannot keep the state fresh on any design.
            const keepsUp = 2 * sync < SAVE_INTERVAL_S * 1000;
            const windowStart = r.killedAt - (SAVE_INTERVAL_S + FLUSH_INTERVAL_S + LAG_S + extraLagS) * 1000;
            let servedAtWindowStart = 0;
            for (const [time, bytes] of r.samples) if (time <= windowStart) servedAtWindowStart = bytes;
            const record: KillRecord = {
              scenario: index,
              trigger: r.trigger,
              served,
              claimedBefore: r.claimedBefore,
              claimedAfter: r.claimedAfter,
              lost,
              bound: lostBound(extraLagS),
              windowBound: served - servedAtWindowStart + KILL.connections * (SLICE + IN_FLIGHT),
              sync: Math.round(sync),
              late: Math.round(late),
              checked: keepsUp,
            };
            kills.push(record);
            bound += record.bound;
            checked &&= keepsUp;
            if (!keepsUp) st.diagnostic(`the bound is not checked for kill ${r.trigger}: an fdatasync took ${Math.round(sync)} ms on this machine`);
          }
          excesses.push({ scenario: index, excess: servedFrom(srv, 0) - KILL.size, bound, checked });
        }),
      ),
    );

    // The byte excess after kills.
    const lost = kills.map((k) => k.lost);
    const excess = excesses.map((e) => e.excess);
    const quiet = lostBound(0);
    t.diagnostic(
      `kills: ${kills.length} (+${finishedBeforeKill} finished before the kill landed); ` +
        `bytes fetched twice per kill: max ${mib(Math.max(0, ...lost))}, median ${mib(median(lost))}; ` +
        `excess over the file size per scenario (kill(s) + resume): max ${mib(Math.max(0, ...excess))}, median ${mib(median(excess))}; ` +
        `bound per kill on a quiet machine ${mib(quiet)} of a ${mib(KILL.size)} file = ${KILL.connections} × ` +
        `(${mib(KILL.throttle)}/s × (${SAVE_INTERVAL_S} s + ${LAG_S} s) + ${mib(UNFLUSHED)} unflushed + ${SLICE / KiB} KiB + ${IN_FLIGHT / KiB} KiB in flight), ` +
        `plus throttle × (2 × slowest fdatasync + timer lateness) measured: worst sync ${Math.max(0, ...kills.map((k) => k.sync))} ms, ` +
        `worst lateness ${Math.max(0, ...kills.map((k) => k.late))} ms, largest bound used ${mib(Math.max(0, ...kills.map((k) => k.bound)))}; ` +
        `${kills.filter((k) => !k.checked).length} kill(s) not checked (saves could not keep up)`,
    );
    for (const k of kills) {
      assert.ok(k.lost >= 0, `scenario ${k.scenario}: the control file claims more than was served (${JSON.stringify(k)})`);
      if (!k.checked) continue;
      assert.ok(k.lost <= k.bound, `scenario ${k.scenario}: ${mib(k.lost)} fetched twice, bound ${mib(k.bound)} (${JSON.stringify(k)})`);
      assert.ok(
        k.lost <= k.windowBound,
        `scenario ${k.scenario}: ${mib(k.lost)} fetched twice, more than the ${mib(k.windowBound)} served in the window before the kill (${JSON.stringify(k)})`,
      );
    }
    for (const e of excesses) {
      if (e.checked) assert.ok(e.excess <= e.bound, `scenario ${e.scenario}: excess ${mib(e.excess)}, bound ${mib(e.bound)}`);
    }
    assert.ok(kills.length >= KILL.kills - 2, `only ${kills.length} kills landed before the download finished`);
  },
);

// ---------------------------------------------------------------------------------------
// Everything else: a 6 MiB file over 4 connections of 1.5 MiB/s (~1 s of transfer). A plain
// HTTP file is fetched in the main thread, with --threads in a worker thread: both are tried.

const F = { size: 6 * MiB, connections: 4, throttle: 1.5 * MiB };
/** A file small enough to be fetched in the main thread (src/engine/prewarm.ts INLINE_MAX_SIZE). */
const SMALL = { size: 3 * MiB, throttle: 0.75 * MiB };
/** After a clean stop (SIGINT/SIGTERM) the buffers are flushed and saved: only bytes in flight are fetched again. */
const CLEAN_STOP_SLACK = F.connections * (SLICE + IN_FLIGHT);

function args(srv: TestServer, path: string, ...extra: string[]): string[] {
  return ['-c', String(F.connections), '-o', OUT, ...extra, srv.url(path)];
}

describe('interrupted and resumed', { concurrency: 3 }, () => {
  for (const [signal, code, file, label] of [
    ['SIGINT', 130, F, ''],
    ['SIGTERM', 143, F, ' (--threads 1: a worker thread)'],
    ['SIGINT', 130, SMALL, ' (a small file)'],
  ] as const) {
    it(`${signal} → exit ${code}, the state is saved, stderr says how to resume, the same command resumes byte-exact${label}`, async (t) => {
      const path = '/sig.bin';
      const srv = await serve(t, { [path]: { size: file.size, throttle: file.throttle } });
      const dir = await tempDir(t);
      const a = args(srv, path, ...(label.includes('--threads') ? ['--threads', '1'] : []));
      const first = await interrupt(t, srv, dir, a, file.size * 0.45, signal);
      assertExit(first.exit, code, signal);
      await assertNothingFinal(dir, `after ${signal}`);
      const ctl = await control(dir);
      assert.equal(ctl.kind, 'ok', `no control file after ${signal}`);
      if (ctl.kind !== 'ok') return;
      await assertClaimsTrue(dir, ctl.state, srv.content(path), `after ${signal}`);
      assert.ok(ctl.claimed > 0, 'nothing saved');
      // Exactly what the control file claims, and that the same command resumes it.
      const said = `rangeget: interrupted at ${formatBytes(ctl.claimed)} of ${formatBytes(file.size)}; run the same command to resume\n`;
      assert.ok(first.exit.stderr.endsWith(said), `stderr does not say how to resume: ${first.exit.stderr}`);
      assert.ok(
        first.served - ctl.claimed <= CLEAN_STOP_SLACK,
        `${signal}: ${first.served} bytes served but only ${ctl.claimed} saved: buffered bytes were not flushed and saved on exit`,
      );

      const second = await run(t, srv, dir, a);
      assertExit(second.exit, 0, 'resume');
      assert.match(second.exit.stderr, /resuming: /);
      await assertComplete(dir, srv.sha256(path), 'after the resume');
      assert.equal(second.served, file.size - ctl.claimed, 'the resume fetched more (or less) than the missing bytes');
    });
  }

  it('two SIGINTs in a row (the second one leaves at once): exit 130, the state on disk is true, the same command resumes byte-exact', async (t) => {
    const path = '/twice.bin';
    const srv = await serve(t, { [path]: { size: F.size, throttle: F.throttle } });
    const dir = await tempDir(t);
    const a = args(srv, path);
    const from = srv.stats.log.length;
    const child = startCli(t, a, { cwd: dir });
    const reached = await waitUntil('60% served', () => servedFrom(srv, from) >= F.size * 0.6, { timeoutMs: 20_000, unlessExited: child });
    assert.ok(reached, child.stderr());
    child.kill('SIGINT');
    child.kill('SIGINT');
    const exit = await child.wait(15_000);
    assertExit(exit, 130, 'two SIGINTs');
    await assertNothingFinal(dir, 'after two SIGINTs');
    const ctl = await control(dir);
    assert.notEqual(ctl.kind, 'corrupt', 'the second SIGINT left a corrupt control file');
    const claimed = ctl.kind === 'ok' ? ctl.claimed : 0;
    if (ctl.kind === 'ok') await assertClaimsTrue(dir, ctl.state, srv.content(path), 'after two SIGINTs');

    const second = await run(t, srv, dir, a);
    assertExit(second.exit, 0, 'resume after two SIGINTs');
    await assertComplete(dir, srv.sha256(path), 'after two SIGINTs');
    assert.equal(second.served, F.size - claimed);
  });

  it('resumes with more connections (-c 4 → -c 9): the remaining ranges are re-planned', async (t) => {
    const path = '/more.bin';
    const srv = await serve(t, { [path]: { size: F.size, throttle: F.throttle } });
    const dir = await tempDir(t);
    const first = await interrupt(t, srv, dir, ['--min-range', '64K', ...args(srv, path)], F.size / 2, 'SIGINT');
    assertExit(first.exit, 130, 'SIGINT');
    const ctl = await control(dir);
    assert.equal(ctl.kind, 'ok');
    const claimed = ctl.kind === 'ok' ? ctl.claimed : 0;

    const second = await run(t, srv, dir, ['--json', '--min-range', '64K', '-c', '9', '-o', OUT, srv.url(path)]);
    assertExit(second.exit, 0, 'resume with -c 9');
    await assertComplete(dir, srv.sha256(path), 'after -c 9');
    const start = jsonLines(second.exit.stdout).find((e) => e.type === 'start');
    assert.equal(start?.connections, 9, 'the resume did not use 9 connections');
    // The holes left by -c 4 are planned again for 9 connections (4 pieces each, where they fit).
    assert.ok(ctl.kind === 'ok');
    const replanned = planRanges({
      size: F.size,
      connections: 9,
      minRangeSize: 64 * 1024,
      done: ctl.state.written.map(([s, e]) => ({ start: s, end: e })),
    });
    assert.ok(replanned.length > 9, `${replanned.length} pieces`);
    assert.equal(start?.ranges, replanned.length, 'the holes were not re-planned for 9 connections');
    assert.ok(getsFrom(srv, second.from) >= 9);
    assert.equal(second.served, F.size - claimed);
  });

  it('resumes with fewer connections (-c 4 → -c 1): every hole is still fetched', async (t) => {
    const path = '/fewer.bin';
    const srv = await serve(t, { [path]: { size: F.size, throttle: 2 * F.throttle } });
    const dir = await tempDir(t);
    const first = await interrupt(t, srv, dir, args(srv, path), F.size * 0.6, 'SIGINT');
    assertExit(first.exit, 130, 'SIGINT');
    const ctl = await control(dir);
    assert.equal(ctl.kind, 'ok');
    const claimed = ctl.kind === 'ok' ? ctl.claimed : 0;

    const second = await run(t, srv, dir, ['--json', '-c', '1', '-o', OUT, srv.url(path)]);
    assertExit(second.exit, 0, 'resume with -c 1');
    await assertComplete(dir, srv.sha256(path), 'after -c 1');
    const start = jsonLines(second.exit.stdout).find((e) => e.type === 'start');
    assert.equal(start?.connections, 1);
    assert.equal(second.served, F.size - claimed);
  });

  it('a .part shorter than the control file claims: the missing bytes are fetched again', async (t) => {
    const path = '/short.bin';
    const srv = await serve(t, { [path]: { size: F.size, throttle: F.throttle } });
    const dir = await tempDir(t);
    const a = args(srv, path);
    const first = await interrupt(t, srv, dir, a, F.size * 0.7, 'SIGINT');
    assertExit(first.exit, 130, 'SIGINT');
    const ctl = await control(dir);
    assert.equal(ctl.kind, 'ok');
    if (ctl.kind !== 'ok') return;
    // Cut the .part inside the claims: past the first claimed range's start, before the last one's end.
    const cut = Math.floor(F.size * 0.4);
    await truncate(join(dir, PART), cut);
    const kept = totalLength(normalize(ctl.state.written.map(([start, end]) => ({ start, end })), cut));
    assert.ok(kept < ctl.claimed);

    const second = await run(t, srv, dir, a);
    assertExit(second.exit, 0, 'resume of a short .part');
    assert.match(second.exit.stderr, /shorter than its control file claims/);
    await assertComplete(dir, srv.sha256(path), 'after the short .part');
    assert.equal(second.served, F.size - kept, 'the resume did not fetch exactly the bytes missing from the short .part');
  });

  it('--no-resume starts over: the whole file is fetched again', async (t) => {
    const path = '/noresume.bin';
    const srv = await serve(t, { [path]: { size: F.size, throttle: 2 * F.throttle } });
    const dir = await tempDir(t);
    const first = await interrupt(t, srv, dir, args(srv, path), F.size / 2, 'SIGINT');
    assertExit(first.exit, 130, 'SIGINT');
    assert.equal((await control(dir)).kind, 'ok');

    const second = await run(t, srv, dir, args(srv, path, '--no-resume'));
    assertExit(second.exit, 0, '--no-resume');
    assert.doesNotMatch(second.exit.stderr, /resuming/);
    await assertComplete(dir, srv.sha256(path), 'after --no-resume');
    assert.equal(second.served, F.size, '--no-resume did not fetch the whole file');
  });
});

// ---------------------------------------------------------------------------------------
// The remote file changes

describe('the remote file changes', { concurrency: 3 }, () => {
  it('between runs (new content, new ETag): the second run warns, starts over, and saves the new content', async (t) => {
    const path = '/changes.bin';
    const srv = await serve(t, { [path]: { size: F.size, throttle: F.throttle, seed: 1 } });
    const dir = await tempDir(t);
    const a = args(srv, path);
    const first = await interrupt(t, srv, dir, a, F.size / 2, 'SIGINT');
    assertExit(first.exit, 130, 'SIGINT');

    srv.set(path, { size: F.size, throttle: 2 * F.throttle, seed: 2 });
    const second = await run(t, srv, dir, a);
    assertExit(second.exit, 0, 'after the change');
    assert.match(second.exit.stderr, /warning: cannot resume: the remote file changed.*starting over/);
    await assertComplete(dir, srv.sha256(path), 'the new content');
    assert.equal(second.served, F.size, 'did not start over from zero');
  });

  it('between runs with --no-restart: exit 7, nothing at the final path, the partial download is kept', async (t) => {
    const path = '/norestart.bin';
    const srv = await serve(t, { [path]: { size: F.size, throttle: F.throttle, seed: 4 } });
    const dir = await tempDir(t);
    const a = args(srv, path, '--no-restart');
    const first = await interrupt(t, srv, dir, a, F.size / 2, 'SIGINT');
    assertExit(first.exit, 130, 'SIGINT');
    const before = await readFile(join(dir, CONTROL), 'utf8');

    srv.set(path, { size: F.size, throttle: F.throttle, seed: 5 });
    const second = await run(t, srv, dir, a);
    assertExit(second.exit, 7, '--no-restart after a change');
    assert.match(second.exit.stderr, /changed/);
    assert.equal(getsFrom(srv, second.from), 0, 'bytes were fetched although the run refused');
    await assertNothingFinal(dir, '--no-restart');
    assert.equal(await readFile(join(dir, CONTROL), 'utf8'), before, 'the control file was touched');
  });

  /**
   * The file changes after the ranges started. The first four GETs are cut halfway
   * (shortBody), so every connection comes back with `If-Range: <old ETag>` after the
   * change: the server answers 200 with the new file, which must be caught.
   */
  async function changeDuringRun(t: TestContext, path: string, extra: string[]) {
    const srv = await serve(t, { [path]: { size: F.size, throttle: F.throttle, seed: 10, faults: { shortBody: F.connections } } });
    const oldContent = srv.content(path);
    const oldEtag = `"10-${F.size}"`;
    const dir = await tempDir(t);
    const from = srv.stats.log.length;
    const child = startCli(t, args(srv, path, '--retry-wait', '20ms', ...extra), { cwd: dir });
    // A fifth of the file served: each connection is well before its cut at half its range.
    const reached = await waitUntil('a fifth of the file served', () => servedFrom(srv, from) >= F.size / 5, { timeoutMs: 20_000, unlessExited: child });
    assert.ok(reached, child.stderr());
    srv.set(path, { size: F.size, throttle: 2 * F.throttle, seed: 11 });
    const exit = await child.wait(30_000);
    // The retries carried If-Range with the old ETag and got the whole new file.
    const caught = srv.stats.log.slice(from).filter((r) => r.method === 'GET' && r.headers['if-range'] === oldEtag && r.status === 200);
    assert.ok(caught.length > 0, `no range request with If-Range: ${oldEtag} was answered 200`);
    return { srv, dir, exit, oldContent };
  }

  it('during a run: caught through If-Range, starts over, the result is the new content byte-exact', async (t) => {
    const path = '/during.bin';
    const { srv, dir, exit } = await changeDuringRun(t, path, []);
    assertExit(exit, 0, 'change during the run');
    assert.match(exit.stderr, /changed.*starting over from zero/);
    await assertComplete(dir, srv.sha256(path), 'the new content, never a mix');
  });

  it('during a run with --no-restart: exit 7, nothing at the final path, only old bytes claimed', async (t) => {
    const path = '/during-norestart.bin';
    const { dir, exit, oldContent } = await changeDuringRun(t, path, ['--no-restart']);
    assertExit(exit, 7, 'change during the run with --no-restart');
    assert.match(exit.stderr, /changed/);
    await assertNothingFinal(dir, '--no-restart');
    const ctl = await control(dir);
    if (ctl.kind === 'ok') await assertClaimsTrue(dir, ctl.state, oldContent, 'the state kept after the change');
  });

  it('a weak ETag alone does not vouch for old bytes: a changed file is never mixed', async (t) => {
    // W/"v1" stays while the bytes change, as a weak ETag may; there is no Last-Modified.
    const path = '/weak.bin';
    const spec = (seed: number): FileSpec => ({ size: F.size, throttle: F.throttle, seed, etag: 'W/"v1"', lastModified: null });
    const srv = await serve(t, { [path]: spec(20) });
    const dir = await tempDir(t);
    const a = args(srv, path);
    const first = await interrupt(t, srv, dir, a, F.size / 2, 'SIGINT');
    assertExit(first.exit, 130, 'SIGINT');

    srv.set(path, { ...spec(21), throttle: 2 * F.throttle });
    const second = await run(t, srv, dir, a);
    if (second.exit.code === 0) {
      assert.equal(await sha256File(join(dir, OUT)), srv.sha256(path), 'the old and the new content were mixed');
    } else {
      await assertNothingFinal(dir, 'weak ETag');
    }
  });

  it('a control file left by another URL is not trusted (same size and Last-Modified, no ETag)', async (t) => {
    const lastModified = 'Mon, 01 Jan 2024 00:00:00 GMT';
    const spec = (seed: number): FileSpec => ({ size: F.size, throttle: F.throttle, seed, etag: null, lastModified });
    const srv = await serve(t, { '/a.bin': spec(30), '/b.bin': spec(31) });
    const dir = await tempDir(t);
    const first = await interrupt(t, srv, dir, args(srv, '/a.bin'), F.size / 2, 'SIGINT');
    assertExit(first.exit, 130, 'SIGINT');

    const second = await run(t, srv, dir, args(srv, '/b.bin'));
    assertExit(second.exit, 0, 'another URL to the same output');
    assert.equal(await sha256File(join(dir, OUT)), srv.sha256('/b.bin'), 'bytes of /a.bin were kept in /b.bin');
  });
});

// ---------------------------------------------------------------------------------------
// Validators

describe('validators', { concurrency: 3 }, () => {
  it('a server without ETag and Last-Modified: the next run says it cannot resume safely and starts over', async (t) => {
    const path = '/novalidators.bin';
    const srv = await serve(t, { [path]: { size: F.size, throttle: F.throttle, etag: null, lastModified: null } });
    const dir = await tempDir(t);
    const a = args(srv, path);
    const first = await interrupt(t, srv, dir, a, F.size / 2, 'SIGINT');
    assertExit(first.exit, 130, 'SIGINT');

    const second = await run(t, srv, dir, a);
    assertExit(second.exit, 0, 'no validators');
    assert.match(second.exit.stderr, /warning: cannot resume: the server gives no ETag or Last-Modified.*starting over/);
    assert.doesNotMatch(second.exit.stderr, /resuming/);
    await assertComplete(dir, srv.sha256(path), 'without validators');
    assert.equal(second.served, F.size, 'did not start over');
  });

  for (const [name, spec] of [
    ['Last-Modified only', { etag: null }],
    ['a weak ETag and a Last-Modified', { etag: 'W/"weak-1"' }],
  ] as const) {
    it(`${name}: resumes, and every range request carries If-Range`, async (t) => {
      const path = '/lm.bin';
      const srv = await serve(t, { [path]: { size: F.size, throttle: F.throttle, ...spec } });
      const dir = await tempDir(t);
      const a = args(srv, path);
      const first = await interrupt(t, srv, dir, a, F.size / 2, 'SIGINT');
      assertExit(first.exit, 130, 'SIGINT');
      const ctl = await control(dir);
      assert.equal(ctl.kind, 'ok');
      const claimed = ctl.kind === 'ok' ? ctl.claimed : 0;

      const second = await run(t, srv, dir, a);
      assertExit(second.exit, 0, name);
      assert.match(second.exit.stderr, /resuming: /);
      await assertComplete(dir, srv.sha256(path), name);
      assert.equal(second.served, F.size - claimed);
      const gets = srv.stats.log.filter((r) => r.method === 'GET');
      assert.ok(gets.length > 0);
      for (const r of gets) assert.ok(Date.parse(String(r.headers['if-range'])) > 0, `a range request without an If-Range date: ${JSON.stringify(r.headers)}`);
    });
  }
});

// ---------------------------------------------------------------------------------------
// Damaged control files (the state is crafted: no first run needed)

describe('control files from an earlier run', { concurrency: 4 }, () => {
  const D = { size: 1 * MiB + 4321, connections: 2 };
  const path = '/crafted.bin';

  async function setup(t: TestContext) {
    const srv = await serve(t, { [path]: { size: D.size, throttle: 2 * MiB } });
    const dir = await tempDir(t);
    const head = await fetch(srv.url(path), { method: 'HEAD' });
    const etag = head.headers.get('etag') ?? undefined;
    const lastModified = head.headers.get('last-modified') ?? undefined;
    assert.ok(etag && lastModified);
    const valid = (written: Array<[number, number]>): ControlState => ({
      version: 1,
      url: srv.url(path),
      finalUrl: srv.url(path),
      size: D.size,
      etag,
      lastModified,
      written,
    });
    const content = srv.content(path);
    /** A .part with the right bytes where `written` says (0xEE elsewhere) and a control file that claims them. */
    const craft = async (written: Array<[number, number]>, extra: Partial<ControlState> = {}): Promise<void> => {
      const part = Buffer.alloc(D.size, 0xee);
      for (const [start, end] of written) content.copy(part, start, start, end);
      await writeFile(join(dir, PART), part);
      await writeFile(join(dir, CONTROL), JSON.stringify({ ...valid(written), ...extra }));
    };
    const a = ['-c', String(D.connections), '-o', OUT, srv.url(path)];
    return { srv, dir, valid, craft, a, content, sha: srv.sha256(path) };
  }

  it('a valid state is trusted: only the unclaimed bytes are fetched (the other tests are not vacuous)', async (t) => {
    const { srv, dir, craft, a, sha } = await setup(t);
    const half = Math.floor(D.size / 2);
    await craft([[0, half]]);
    await writeFile(join(dir, `${CONTROL}.tmp`), '{"version":1,"url":'); // a save cut short by a kill
    const second = await run(t, srv, dir, a);
    assertExit(second.exit, 0, 'valid state');
    assert.match(second.exit.stderr, /resuming: /);
    await assertComplete(dir, sha, 'valid state');
    assert.equal(second.served, D.size - half);
  });

  for (const [name, claims] of [
    ['every byte (a kill after the last save, before the rename)', (size: number): Array<[number, number]> => [[0, size]]],
    ['scattered ranges, unsorted and overlapping', (size: number): Array<[number, number]> => [[600_000, 900_000], [100_000, 300_000], [250_000, 400_000], [size - 10, size]]],
    ['only the tail', (size: number): Array<[number, number]> => [[size - 300_000, size]]],
  ] as const) {
    it(`a state that claims ${name}: exactly the other bytes are fetched`, async (t) => {
      const { srv, dir, craft, a, sha } = await setup(t);
      const written = claims(D.size);
      await craft(written);
      const have = totalLength(normalize(written.map(([start, end]) => ({ start, end })), D.size));
      const second = await run(t, srv, dir, a);
      assertExit(second.exit, 0, name);
      assert.match(second.exit.stderr, /resuming: /);
      await assertComplete(dir, sha, name);
      assert.equal(second.served, D.size - have);
    });
  }

  it('a .part shorter than the claims (crafted): exactly the missing bytes are fetched', async (t) => {
    const { srv, dir, valid, a, content, sha } = await setup(t);
    const cut = Math.floor(D.size * 0.4);
    await writeFile(join(dir, PART), content.subarray(0, cut));
    await writeFile(join(dir, CONTROL), JSON.stringify(valid([[0, D.size]])));
    const second = await run(t, srv, dir, a);
    assertExit(second.exit, 0, 'short .part');
    assert.match(second.exit.stderr, /warning: .*shorter than its control file claims/);
    await assertComplete(dir, sha, 'short .part');
    assert.equal(second.served, D.size - cut);
  });

  it('a .part missing altogether while the control file claims bytes: everything is fetched', async (t) => {
    const { srv, dir, valid, a, sha } = await setup(t);
    await writeFile(join(dir, CONTROL), JSON.stringify(valid([[0, D.size]])));
    const second = await run(t, srv, dir, a);
    assertExit(second.exit, 0, 'no .part');
    await assertComplete(dir, sha, 'no .part');
    assert.equal(second.served, D.size);
  });

  it('a resume with --checksum hashes the kept bytes too and verifies the whole file', async (t) => {
    const { srv, dir, craft, a, sha } = await setup(t);
    const half = Math.floor(D.size / 2);
    await craft([[0, half]], { checksum: `sha256=${sha}` });
    const second = await run(t, srv, dir, ['--checksum', `sha256=${sha}`, ...a]);
    assertExit(second.exit, 0, 'resume with --checksum');
    assert.match(second.exit.stderr, /resuming: .*\n(.|\n)*checksum ok/);
    await assertComplete(dir, sha, 'resume with --checksum');
    assert.equal(second.served, D.size - half);
  });

  it('claimed bytes that are wrong on disk fail the --checksum: exit 5, nothing at the final path; the next run fetches them again', async (t) => {
    const { srv, dir, valid, a, sha } = await setup(t);
    const half = Math.floor(D.size / 2);
    await writeFile(join(dir, PART), Buffer.alloc(D.size, 0xee)); // the claimed half is wrong (disk corruption)
    await writeFile(join(dir, CONTROL), JSON.stringify(valid([[0, half]])));
    const second = await run(t, srv, dir, ['--checksum', `sha256=${sha}`, ...a]);
    assertExit(second.exit, 5, 'wrong claimed bytes with --checksum');
    assert.match(second.exit.stderr, /sha256 mismatch/);
    await assertNothingFinal(dir, 'after a checksum mismatch');
    // Kept with the digest they have: the checksum might have been the mistake.
    const kept = await control(dir);
    assert.ok(kept.kind === 'ok');
    assert.deepEqual(kept.state.written, [[0, D.size]]);
    assert.equal(kept.state.digest, `sha256=${await sha256File(join(dir, PART))}`);
    // The same checksum again: the kept file fails it once more and is fetched whole.
    const third = await run(t, srv, dir, ['--checksum', `sha256=${sha}`, ...a]);
    assertExit(third.exit, 0, 'after the kept bytes failed again');
    assert.match(third.exit.stderr, /warning: the \d+ bytes kept in .* have sha256 [0-9a-f]{64}, not [0-9a-f]{64}; fetching the file again/);
    await assertComplete(dir, sha, 'fetched again');
    assert.equal(third.served, D.size);
  });

  it('a server that stopped supporting ranges: cannot resume, starts over with one connection, byte-exact', async (t) => {
    const { srv, dir, craft, a, sha } = await setup(t);
    await craft([[0, Math.floor(D.size / 2)]]);
    srv.set(path, { size: D.size, throttle: 2 * MiB, ranges: false });
    const second = await run(t, srv, dir, a);
    assertExit(second.exit, 0, 'ranges gone');
    assert.match(second.exit.stderr, /warning: cannot resume: the server does not support ranges/);
    await assertComplete(dir, sha, 'ranges gone');
  });

  it('a .part without a control file (a browser\'s?) is not trusted, nor overwritten: moved aside', async (t) => {
    const { srv, dir, a, sha } = await setup(t);
    await writeFile(join(dir, PART), Buffer.alloc(D.size, 0xee));
    const second = await run(t, srv, dir, a);
    assertExit(second.exit, 0, 'no control file');
    assert.match(second.exit.stderr, /warning: .*no control file, so it is not rangeget.s .*: kept as .*\.part\.orig; starting over/);
    assert.deepEqual(await readFile(join(dir, `${PART}.orig`)), Buffer.alloc(D.size, 0xee));
    await unlink(join(dir, `${PART}.orig`));
    await assertComplete(dir, sha, 'no control file');
    assert.equal(second.served, D.size);
  });

  it('a .part without a control file beside the lock of a killed rangeget is that run\'s: started over, nothing moved aside', async (t) => {
    const { srv, dir, a, sha } = await setup(t);
    await writeFile(join(dir, PART), Buffer.alloc(D.size, 0xee));
    // kill -9 before the first save (a small file in a batch writes none) leaves the lock file.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(join(dir, `${PART}.lock`), `${gone}\n`);
    const second = await run(t, srv, dir, a);
    assertExit(second.exit, 0, 'a killed run\'s .part');
    assert.match(second.exit.stderr, /warning: .*out\.bin\.part was left by a rangeget killed before it saved a control file, so its bytes cannot be trusted; starting over/);
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes('.orig') || f.endsWith('.lock')), []);
    await assertComplete(dir, sha, 'a killed run\'s .part');
    assert.equal(second.served, D.size);
  });

  // Each would claim the whole file if it were trusted; the .part holds wrong bytes, so a
  // trusted damaged state shows as a wrong SHA-256.
  const damaged: Array<[string, (valid: string) => string | Buffer]> = [
    ['garbage', () => Buffer.from('\u0000\u00ff\u00fegarbage\u0001{{{[[[', 'latin1')],
    ['empty (0 bytes)', () => ''],
    ['truncated JSON', (valid) => valid.slice(0, Math.floor(valid.length / 2))],
    ['a wrong format version', (valid) => valid.replace('"version":1', '"version":2')],
    ['a claim past the end of the file', (valid) => valid.replace(/"written":\[.*\]/, `"written":[[0,${D.size + 1}]]`)],
  ];
  for (const [name, make] of damaged) {
    it(`a control file with ${name}: a clear warning on stderr, starts over, byte-exact, exit 0`, async (t) => {
      const { srv, dir, valid, a, sha } = await setup(t);
      await writeFile(join(dir, PART), Buffer.alloc(D.size, 0xee));
      const text = JSON.stringify(valid([[0, D.size]]));
      assert.ok(text.includes('"version":1') && /"written":\[\[0,\d+\]\]/.test(text));
      await writeFile(join(dir, CONTROL), make(text));
      const second = await run(t, srv, dir, a);
      assertExit(second.exit, 0, `control file with ${name}`);
      assert.match(second.exit.stderr, /warning: control file .*out\.bin\.part\.json is unreadable \(.+\); starting over/);
      assert.doesNotMatch(second.exit.stderr, /resuming|error|at .*\.js:\d+/);
      await assertComplete(dir, sha, `control file with ${name}`);
      assert.equal(second.served, D.size, 'did not start over');
    });
  }
});

describe('a run stopped between placing the file and removing its .part', () => {
  it('leaves the complete file; the next run removes the leftovers and says the file exists', async (t) => {
    const srv = await serve(t, { '/done.bin': { size: 100_000 } });
    const dir = await tempDir(t);
    const out = join(dir, 'done.bin');
    await writeFile(out, srv.content('/done.bin'));
    // What the killed run left: the .part is a hard link of the placed file, and its state.
    await link(out, `${out}.part`);
    await writeFile(`${out}.part.json`, '{"version":1}');
    const warnings: string[] = [];
    await assert.rejects(
      download(srv.url('/done.bin'), { output: out, onEvent: (e) => e.type === 'warning' && warnings.push(e.message) }),
      (err: unknown) => err instanceof FileExistsError,
    );
    assert.deepEqual(await list(dir), ['done.bin']);
    assert.equal(await sha256File(out), srv.sha256('/done.bin'));
    assert.ok(warnings.some((w) => w.includes('was already complete')), warnings.join('\n'));
  });
});
