/**
 * The CLI in tests, two ways:
 *
 * - as a child process, `node bin/rangeget.js ARGS` ({@link startCli}, {@link runCli}; any
 *   other script with {@link startNode}, {@link runNode}): a
 *   clean environment, stdout and stderr collected, the exit awaited with a deadline (after
 *   which the child is killed and the test fails), bounded waits for an output line or a
 *   condition (never a sleep for luck), and a SIGKILL when the test ends for anything still
 *   running;
 * - in this process, `main()` of src/cli/main.ts ({@link runMain}): the binary's code path without
 *   a process start, with captured output and its own signal emitter.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import type { AfterContext } from './tmp.js';
import { CERT, TEST_TLS } from './fixtures.js';

/** `bin/rangeget.js` of this checkout; this file runs as dist/test/helpers/cli.js. */
export const BIN = fileURLToPath(new URL('../../../bin/rangeget.js', import.meta.url));

/** How a child ended; `code` is null when a signal ended it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Working directory of the child (relative `-o` paths land here). */
  cwd: string;
  /** Extra environment variables, on top of the clean environment. */
  env?: Record<string, string>;
  /** Milliseconds {@link CliProcess.wait} (and {@link runCli}) give the child before it is killed and the run fails. Default 30 s. */
  timeout?: number;
  /** Run the child as this user and group (needs root). */
  uid?: number;
  gid?: number;
}

/** A running (or finished) child. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Resolves when the process has exited and its pipes are drained; never rejects. */
  readonly exit: Promise<Exit>;
  /** Send a signal to this child; false when it already exited. */
  kill(signal: NodeJS.Signals): boolean;
  /**
   * Wait for the exit. After `timeoutMs` (default: the `timeout` option) the child is killed
   * (SIGKILL) and this rejects with a message that names `what` and shows the child's output.
   * Also rejects when the child could not be started.
   */
  wait(timeoutMs?: number, what?: string): Promise<Exit>;
  /**
   * Resolves with the first complete stdout (or stderr) line for which `match` is true, checked
   * as lines arrive; rejects when the child exits first or after `timeout` ms (default 10 s).
   */
  waitForLine(match: (line: string) => boolean, options?: { stream?: 'stdout' | 'stderr'; timeout?: number; what?: string }): Promise<string>;
  /** SIGKILL if still running, then wait for the exit. Safe to call more than once. */
  dispose(): Promise<void>;
}

/**
 * Variables that would change what the child does (proxies, credentials, extra CAs, the test
 * runner's own, colour switches), dropped from the inherited environment: a test that wants
 * one passes it in `env`.
 */
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
  'RANGEGET_CONFIG',
  'NODE_OPTIONS',
  'NODE_TEST_CONTEXT',
  'NODE_EXTRA_CA_CERTS',
  'NO_COLOR',
  'FORCE_COLOR',
];

/** Where the user's own files would be: never there, so no test reads the real ~/.netrc or config. */
const NOWHERE = '/nonexistent/rangeget-test';

/** The environment a test run sees: the inherited one without {@link DROPPED_ENV}, then `extra`. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of DROPPED_ENV) delete env[name];
  // Over TLS (`npm run test:tls`, server.ts) the child trusts the test servers' certificate.
  if (TEST_TLS) env.NODE_EXTRA_CA_CERTS = CERT;
  return { ...env, TERM: 'dumb', NETRC: `${NOWHERE}/netrc`, XDG_CONFIG_HOME: NOWHERE, HOME: NOWHERE, ...extra };
}

/** Start `node bin/rangeget.js ...args`; it is killed (SIGKILL) and awaited when the test ends, if still running. */
export function startCli(t: AfterContext, args: readonly string[], options: CliOptions): CliProcess {
  return startNode(t, [BIN, ...args], options, `rangeget ${args.join(' ')}`);
}

/** Run `rangeget ARGS` to its end; rejects (after killing it) when it takes longer than the `timeout` option. */
export async function runCli(t: AfterContext, args: readonly string[], options: CliOptions): Promise<Exit> {
  return startCli(t, args, options).wait();
}

/**
 * Start `node ...argv` (a script and its arguments) the same way as {@link startCli}; `name`
 * says what runs in messages.
 */
export function startNode(t: AfterContext, argv: readonly string[], options: CliOptions, name = `node ${argv.join(' ')}`): CliProcess {
  const child = spawn(process.execPath, argv, {
    cwd: options.cwd,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  let stdout = '';
  let stderr = '';
  let exited = false;
  let startError: Error | undefined;
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    notify();
  });
  const exit = new Promise<Exit>((resolve) => {
    // 'close' comes after 'exit' and after both pipes ended, so the output is complete.
    child.once('close', (code, signal) => {
      exited = true;
      notify();
      resolve({ code, signal, stdout, stderr });
    });
    child.once('error', (err) => {
      startError ??= err;
      exited = true;
      notify();
      resolve({ code: null, signal: null, stdout, stderr });
    });
  });
  if (child.pid === undefined) throw new Error(`cannot start ${name}`);
  const pid = child.pid;
  const show = (): string => `\nstdout: ${stdout}\nstderr: ${stderr}`;

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
    async wait(timeoutMs = options.timeout ?? 30_000, what = name) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      let result: Exit | 'timeout';
      try {
        result = await Promise.race([exit, timeout]);
      } finally {
        clearTimeout(timer);
      }
      if (result === 'timeout') {
        proc.kill('SIGKILL');
        await exit;
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} to exit${show()}`);
      }
      if (startError) throw startError;
      return result;
    },
    waitForLine(match, opts = {}) {
      const stream = opts.stream ?? 'stdout';
      const limit = opts.timeout ?? 10_000;
      const what = opts.what ?? 'a matching line';
      return new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const lines = (stream === 'stdout' ? stdout : stderr).split('\n');
          lines.pop(); // an incomplete last line
          const found = lines.find(match);
          if (found !== undefined) {
            finish();
            resolve(found);
          } else if (exited) {
            finish();
            reject(new Error(`${name} exited before ${what} on ${stream}${show()}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out after ${limit} ms waiting for ${what} on ${stream}${show()}`));
        }, limit);
        const finish = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async dispose() {
      proc.kill('SIGKILL');
      await exit;
    },
  };
  t.after(() => proc.dispose());
  return proc;
}

/** Run `node ...argv` to its end, like {@link runCli}. */
export async function runNode(t: AfterContext, argv: readonly string[], options: CliOptions): Promise<Exit> {
  return startNode(t, argv, options).wait();
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

/** How `main()` ended in this process. */
export interface MainRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface MainOptions {
  /** What `-i -` reads. */
  stdin?: string;
  /** Pretend stdout and stderr are terminals (120 columns). */
  tty?: boolean;
  /** The emitter main() listens on for SIGINT / SIGTERM; default a fresh one nobody emits on. */
  signals?: EventEmitter;
  /** Extra environment variables, on top of the clean environment ({@link childEnv}). */
  env?: Record<string, string>;
}

/** A stream that keeps what is written, optionally pretending to be a terminal. */
function sink(tty: boolean): PassThrough & { text(): string } {
  const stream = new PassThrough() as PassThrough & { text(): string; isTTY?: boolean; columns?: number };
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (s: string) => (text += s));
  stream.text = () => text;
  if (tty) {
    stream.isTTY = true;
    stream.columns = 120;
  }
  return stream;
}

/** Run the CLI's main() in this process with captured output. */
export async function runMain(args: string[], options: MainOptions = {}): Promise<MainRun> {
  const tty = options.tty ?? false;
  const stdout = sink(tty);
  const stderr = sink(tty);
  const code = await main(
    args,
    {
      stdout,
      stderr,
      isTTY: tty,
      env: childEnv(options.env),
      ...(options.stdin !== undefined ? { stdin: Readable.from([Buffer.from(options.stdin)]) } : {}),
    },
    options.signals ?? new EventEmitter(),
  );
  await new Promise<void>((resolve) => setImmediate(resolve)); // let the last 'data' events arrive
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
