// One timed tool run in a fresh folder, judged: exit status, timeout, and the sha256 of every output.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { runTimed, type TimedResult } from './runner.js';
import { sha256File } from './util.js';

export interface Expected {
  file: string;
  sha256: string;
}

export interface VerifiedRun {
  res: TimedResult;
  /** Why the run does not count (timeout, signal, exit code, missing or wrong output), or undefined. */
  reason: string | undefined;
}

export interface VerifyOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  timeBin: string | undefined;
  timeFile: string;
}

/**
 * Runs `command(runDir)` in an empty `runDir`, checks its outputs, then removes the folder (so
 * aria2's .aria2 and axel's .st files go too).
 */
export async function runVerified(
  runDir: string,
  command: (dir: string) => { cmd: string; args: string[] },
  expected: (dir: string) => Expected[],
  o: VerifyOptions,
): Promise<VerifiedRun> {
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  spawnSync('sync'); // no writeback of the previous run during this one
  const { cmd, args } = command(runDir);
  const res = await runTimed(cmd, args, { cwd: runDir, env: o.env, timeoutMs: o.timeoutMs, timeBin: o.timeBin, timeFile: o.timeFile });
  let reason: string | undefined;
  if (res.timedOut) reason = `timed out after ${o.timeoutMs / 1000} s`;
  else if (res.signal !== null) reason = `killed by ${res.signal}`;
  else if (res.exitCode !== 0) reason = `exit code ${String(res.exitCode)}`;
  if (reason === undefined) {
    for (const e of expected(runDir)) {
      if (!existsSync(e.file)) {
        reason = `missing output ${path.basename(e.file)}`;
        break;
      }
      if ((await sha256File(e.file)) !== e.sha256) {
        reason = `sha256 mismatch on ${path.basename(e.file)} (${statSync(e.file).size} bytes)`;
        break;
      }
    }
  }
  rmSync(runDir, { recursive: true, force: true });
  return { res, reason };
}
