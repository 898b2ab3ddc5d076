// Runs one tool invocation under `/usr/bin/time -v`, with a wall clock of our own and a timeout.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

export interface TimedResult {
  /** Wall seconds measured here with process.hrtime around the spawn. */
  wallS: number;
  /** Wall seconds as reported by /usr/bin/time (sanity check), if available. */
  timeWallS: number | undefined;
  /** "Maximum resident set size" in KiB, if /usr/bin/time was available. */
  maxRssKiB: number | undefined;
  /** CPU seconds in user space and in the kernel, if /usr/bin/time was available. */
  userS: number | undefined;
  sysS: number | undefined;
  /** Minor page faults ("reclaiming a frame"): memory first touched, a steady figure on a noisy machine. */
  minorFaults: number | undefined;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Last few KiB of the tool's stdout + stderr, for failure reports. */
  outputTail: string;
}

export interface TimedOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Path of GNU time (`/usr/bin/time`), or undefined to run without RSS measurement. */
  timeBin: string | undefined;
  /** File that GNU time writes its report to. */
  timeFile: string;
}

const active = new Set<ChildProcess>();

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL'); // the tool runs in its own process group
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Kills every tool run still going (for signal and error handlers). */
export function killActiveRuns(): void {
  for (const c of active) killGroup(c);
  active.clear();
}

/** Parses GNU time's "h:mm:ss" or "m:ss.cc". */
function parseClock(s: string): number | undefined {
  const parts = s.trim().split(':').map(Number);
  if (parts.length === 0 || parts.some((p) => !Number.isFinite(p))) return undefined;
  return parts.reduce((acc, p) => acc * 60 + p, 0);
}

export function runTimed(cmd: string, args: string[], o: TimedOptions): Promise<TimedResult> {
  rmSync(o.timeFile, { force: true });
  const [file, argv] = o.timeBin ? [o.timeBin, ['-v', '-o', o.timeFile, cmd, ...args]] : [cmd, args];
  return new Promise((resolve) => {
    let tail = '';
    const keep = (d: Buffer): void => {
      tail = (tail + d.toString('utf8')).slice(-4000);
    };
    const start = process.hrtime.bigint();
    const child = spawn(file, argv, { cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    active.add(child);
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, o.timeoutMs);
    let end: bigint | undefined;
    child.on('exit', () => {
      end = process.hrtime.bigint();
    });
    child.on('error', (e) => {
      tail += `\n${String(e)}`;
    });
    child.on('close', (code, signal) => {
      end ??= process.hrtime.bigint();
      clearTimeout(timer);
      active.delete(child);
      let maxRssKiB: number | undefined;
      let userS: number | undefined;
      let sysS: number | undefined;
      let minorFaults: number | undefined;
      let timeWallS: number | undefined;
      let exitCode = code;
      if (o.timeBin) {
        let report = '';
        try {
          report = readFileSync(o.timeFile, 'utf8');
        } catch {
          // time was killed before writing
        }
        const rss = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(report);
        if (rss?.[1]) maxRssKiB = Number(rss[1]);
        const user = /User time \(seconds\):\s*([\d.]+)/.exec(report);
        if (user?.[1]) userS = Number(user[1]);
        const sys = /System time \(seconds\):\s*([\d.]+)/.exec(report);
        if (sys?.[1]) sysS = Number(sys[1]);
        const minor = /Minor \(reclaiming a frame\) page faults:\s*(\d+)/.exec(report);
        if (minor?.[1]) minorFaults = Number(minor[1]);
        const wall = /Elapsed \(wall clock\) time[^:]*:\s*([\d:.]+)/.exec(report);
        if (wall?.[1]) timeWallS = parseClock(wall[1]);
        const st = /Exit status:\s*(\d+)/.exec(report);
        if (st?.[1] && code !== null) exitCode = Number(st[1]);
        if (/Command terminated by signal/.test(report)) tail += `\n${report.split('\n')[0] ?? ''}`;
      }
      resolve({
        wallS: Number(end - start) / 1e9,
        timeWallS,
        maxRssKiB,
        userS,
        sysS,
        minorFaults,
        exitCode,
        signal,
        timedOut,
        outputTail: tail.trim(),
      });
    });
  });
}
