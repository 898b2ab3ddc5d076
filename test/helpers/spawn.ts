/**
 * The CLI as a child process, for end-to-end tests: `node bin/rangeget.js ARGS` with a
 * clean environment, its output collected, its exit awaited with a deadline, and a
 * SIGKILL on cleanup for anything still running. Plus a bounded wait for an observable
 * condition (never a sleep for luck: the wait fails the test when its time runs out).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** `bin/rangeget.js` of this checkout (this file runs from `dist/test/helpers/`). */
export const BIN = fileURLToPath(new URL('../../../bin/rangeget.js', import.meta.url));

/** How a child ended. `code` is null when a signal ended it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running (or finished) CLI process. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Resolves when the process has exited and its pipes are closed; never rejects. */
  readonly exit: Promise<Exit>;
  /** Send a signal to this child (by its pid); false when it already exited. */
  kill(signal: NodeJS.Signals): boolean;
  /**
   * Wait for the exit. After `timeoutMs` the child is killed (SIGKILL) and this rejects
   * with a message that names `what` and shows the child's stderr.
   */
  wait(timeoutMs: number, what?: string): Promise<Exit>;
  /** SIGKILL if still running, then wait for the exit. Safe to call more than once. */
  dispose(): Promise<void>;
}

/** The part of node:test's TestContext used for cleanup. */
export interface AfterContext {
  after(fn: () => unknown): void;
}

export interface SpawnOptions {
  /** Working directory of the child (relative `-o` paths land here). */
  cwd: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** When given, the child is killed and awaited when this test ends. */
  t?: AfterContext;
}

/** Variables that would change how the child behaves, dropped from the inherited environment. */
const DROPPED_ENV = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
  'RANGEGET_USER',
  'NODE_TEST_CONTEXT',
  'NODE_OPTIONS',
];

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of DROPPED_ENV) delete env[name];
  return { ...env, TERM: 'dumb', NO_COLOR: '1', ...extra };
}

/** Start `node bin/rangeget.js ...args`. */
export function spawnCli(args: readonly string[], options: SpawnOptions): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let exited = false;
  const exit = new Promise<Exit>((resolve) => {
    // 'close' comes after 'exit' and after both pipes ended, so the output is complete.
    child.once('close', (code, signal) => {
      exited = true;
      resolve({ code, signal, stdout, stderr });
    });
    child.once('error', (err) => {
      exited = true;
      resolve({ code: null, signal: null, stdout, stderr: stderr + `\n[spawn error: ${err.message}]` });
    });
  });
  if (child.pid === undefined) throw new Error(`cannot start ${process.execPath} ${BIN}`);
  const pid = child.pid;

  const proc: CliProcess = {
    child,
    pid,
    stdout: () => stdout,
    stderr: () => stderr,
    get exited() {
      return exited || child.exitCode !== null || child.signalCode !== null;
    },
    exit,
    kill(signal) {
      if (proc.exited) return false;
      try {
        return child.kill(signal);
      } catch {
        return false;
      }
    },
    async wait(timeoutMs, what = `rangeget ${args.join(' ')}`) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      try {
        const result = await Promise.race([exit, timeout]);
        if (result !== 'timeout') return result;
      } finally {
        clearTimeout(timer);
      }
      proc.kill('SIGKILL');
      const late = await exit;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} to exit; stderr:\n${late.stderr}`);
    },
    async dispose() {
      proc.kill('SIGKILL');
      await exit;
    },
  };
  options.t?.after(() => proc.dispose());
  return proc;
}

/** Run the CLI to its end; rejects (after killing it) when it takes longer than `timeoutMs`. */
export function runCli(args: readonly string[], options: SpawnOptions, timeoutMs = 30_000): Promise<Exit> {
  return spawnCli(args, options).wait(timeoutMs);
}

export interface WaitOptions {
  /** Fail after this many ms. */
  timeoutMs: number;
  /** Check this often (ms). Default 1. */
  everyMs?: number;
  /** Stop waiting (resolve false) when this process exits before the condition holds. */
  unlessExited?: CliProcess;
}

/**
 * Wait until `check()` is true. Resolves true when it is; false when `unlessExited` exited
 * first; rejects with a message naming `what` when `timeoutMs` passes.
 */
export async function waitUntil(what: string, check: () => boolean, options: WaitOptions): Promise<boolean> {
  const deadline = performance.now() + options.timeoutMs;
  const every = options.everyMs ?? 1;
  for (;;) {
    if (check()) return true;
    if (options.unlessExited?.exited) return check();
    if (performance.now() > deadline) {
      const child = options.unlessExited;
      const detail = child ? `; child stderr so far:\n${child.stderr()}` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise<void>((resolve) => setTimeout(resolve, every));
  }
}
