/**
 * The CLI as a child process: `node bin/rangeget.js ARGS`, its stdout and stderr captured,
 * its exit awaited with a deadline (after which it is killed and the test fails), and a
 * SIGKILL at the end of the test for anything still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AfterContext } from './tmp.js';

/** `bin/rangeget.js` of this checkout; this file runs as dist/test/helpers/cli.js. */
export const BIN = fileURLToPath(new URL('../../../bin/rangeget.js', import.meta.url));

/** How a child ended; `code` is null when a signal ended it. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Working directory of the child. */
  cwd: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Milliseconds before the child is killed and the run fails. Default 20 s. */
  timeout?: number;
}

/** A running child. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the child has exited and its pipes are drained; rejects (after SIGKILL) on timeout. */
  readonly done: Promise<CliResult>;
  /**
   * Resolves with the first complete stdout (or stderr) line for which `match` is true, checked
   * as lines arrive; rejects when the child exits first or after `timeout` ms.
   */
  waitForLine(match: (line: string) => boolean, options?: { stream?: 'stdout' | 'stderr'; timeout?: number; what?: string }): Promise<string>;
}

/** Environment variables that would change the child's behaviour, dropped from the inherited environment. */
const DROPPED = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy', 'RANGEGET_USER', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT'];

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of DROPPED) delete env[name];
  return { ...env, ...extra };
}

/** Start `rangeget ARGS`; it is killed (SIGKILL) and awaited when the test ends, if still running. */
export function startCli(t: AfterContext, args: readonly string[], options: CliOptions): CliProcess {
  const timeout = options.timeout ?? 20_000;
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => {
    stdout += s;
    notify();
  });
  child.stderr!.on('data', (s: string) => {
    stderr += s;
    notify();
  });

  let exited = false;
  const closed = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    // 'close' comes after the pipes are drained, so the output is complete.
    child.once('close', (code, signal) => {
      exited = true;
      notify();
      resolve({ code, signal, stdout, stderr });
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rangeget ${args.join(' ')} did not exit within ${timeout} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeout);
  });
  const done = Promise.race([closed, timedOut]).finally(() => clearTimeout(timer));
  done.catch(() => undefined); // observed by the caller; avoid an unhandled rejection otherwise

  t.after(async () => {
    clearTimeout(timer);
    if (!exited) {
      child.kill('SIGKILL');
      await closed.catch(() => undefined);
    }
  });

  const waitForLine: CliProcess['waitForLine'] = (match, opts = {}) => {
    const stream = opts.stream ?? 'stdout';
    const limit = opts.timeout ?? 10_000;
    const what = opts.what ?? 'a matching line';
    return new Promise<string>((resolve, reject) => {
      const check = (): void => {
        const text = stream === 'stdout' ? stdout : stderr;
        const lines = text.split('\n');
        lines.pop(); // an incomplete last line
        const found = lines.find(match);
        if (found !== undefined) {
          finish();
          resolve(found);
        } else if (exited) {
          finish();
          reject(new Error(`rangeget exited before ${what} on ${stream}\nstdout: ${stdout}\nstderr: ${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${limit} ms waiting for ${what} on ${stream}\nstdout: ${stdout}\nstderr: ${stderr}`));
      }, limit);
      const finish = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  };

  return { child, stdout: () => stdout, stderr: () => stderr, done, waitForLine };
}

/** Run `rangeget ARGS` to the end. */
export function runCli(t: AfterContext, args: readonly string[], options: CliOptions): Promise<CliResult> {
  return startCli(t, args, options).done;
}

/** Parse newline-delimited JSON output; every line must be a JSON object. */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const value: unknown = JSON.parse(line);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`not a JSON object: ${line}`);
      return value as Record<string, unknown>;
    });
}
