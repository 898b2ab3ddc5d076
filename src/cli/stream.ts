/**
 * `-o -`: one download streamed to stdout in file order (`downloadTo`); every report goes to
 * stderr, never into the stream. A reader that closes the pipe (`| head -c 100`) ends the
 * run quietly with exit 141, as a process ended by SIGPIPE. `-o` naming a character device or
 * a FIFO (`-o /dev/null`, a named pipe) streams into it the same way, as curl and wget write
 * into it: a download never replaces one (storage/output-checks.ts).
 */
import { closeSync, constants, createWriteStream, fstatSync, openSync, statSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { DownloadOptions } from '../options.js';
import { parseSize } from '../parse.js';
import { AbortError, ExitCode, RangegetError, UsageError, fileError } from '../primitives/errors.js';
import { existing, specialKind } from '../storage/output-checks.js';
import { Display, type DisplayMode } from './display.js';
import type { CliStreams, RawOptions } from './flags.js';

/** Flags that name or compare a file on disk, which a stream does not have. */
const FILE_FLAGS: ReadonlyArray<readonly [keyof RawOptions, string]> = [
  ['dir', '-d'],
  ['continue', '--continue'],
  ['skipExisting', '--skip-existing'],
  ['timestamping', '-N'],
  ['dryRun', '--dry-run'],
];

/**
 * The path `-o` names when it is a character device, a FIFO or a socket, which one URL is
 * streamed into; undefined otherwise (a batch, `-o -`, a file, nothing there).
 */
export async function streamTarget(raw: RawOptions, batch: boolean): Promise<string | undefined> {
  if (batch || raw.output === undefined || raw.output === '-') return undefined;
  const target = path.resolve(raw.dir ?? '.', raw.output);
  const found = await existing(target).catch(() => undefined);
  if (!found) return undefined;
  // A socket too: the stdout of a process started by another program often is one (/dev/stdout).
  // A block device is left to the download, which refuses it.
  if (specialKind(found) && !found.isBlockDevice()) return target;
  // `-o /dev/stdout > out.bin`: stdout itself, a file, written in order (never the symlink replaced).
  return sameFile(target, 1) || sameFile(target, 2) ? target : undefined;
}

/** A usage mistake with `-o -` or a device (`into`), or `--stream-window` without either, before anything is sent. */
export function streamFlagProblem(raw: RawOptions, batch: boolean, into?: string): UsageError | undefined {
  if (raw.output !== '-' && into === undefined) return raw.streamWindow === undefined ? undefined : new UsageError('--stream-window applies to -o - only');
  if (batch) return new UsageError('-o - streams one URL to stdout; give one URL, without -i');
  // -d only placed a relative -o naming a device.
  const flag = FILE_FLAGS.find(([key]) => raw[key] !== undefined && raw[key] !== false && !(into !== undefined && key === 'dir'));
  return flag ? new UsageError(`${flag[1]} cannot be combined with -o ${into ?? '-'}: a stream has no file on disk`) : undefined;
}

/** What the run of one stream is given by main(). */
export interface StreamRun {
  url: string;
  raw: RawOptions;
  options: DownloadOptions;
  mode: DisplayMode;
  streams: CliStreams;
  signal: AbortSignal;
  /** The exit code of the signal that stopped the run. */
  exitOnSignal: () => number;
  /** A character device or FIFO to stream into ({@link streamTarget}); undefined: stdout. */
  into?: string | undefined;
}

/** Bars on stderr when it is a terminal (stdout is the stream: it does not matter); plain lines otherwise. */
function streamMode(run: StreamRun): DisplayMode {
  if (run.mode === 'json' || run.mode === 'quiet') return run.mode;
  const terminal = (run.streams.stderr as { isTTY?: boolean }).isTTY === true && (run.streams.env ?? process.env).TERM !== 'dumb';
  return terminal && !run.raw.verbose ? 'bar' : 'plain';
}

/** Stream `url` to stdout; resolves to the exit code (only an unexpected failure is thrown). */
export async function streamToStdout(run: StreamRun): Promise<number> {
  const { raw, streams, signal } = run;
  const window = raw.streamWindow === undefined ? undefined : parseSize(raw.streamWindow, '--stream-window');
  if (window !== undefined && window < 64 * 1024) throw new UsageError('--stream-window: must be at least 64K (examples: 16M, 1G)');
  const { downloadTo } = await import('../stream.js');
  // `-o /dev/stdout` is `-o -`; `-o /dev/stderr` would mix reports into the file.
  const into = run.into !== undefined && sameFile(run.into, 1) ? undefined : run.into;
  if (into !== undefined && sameFile(into, 2)) throw new UsageError(`-o ${into}: stderr carries the reports; use -o - (stdout) or redirect stderr to a file`);
  // Reports (JSON lines too) go to stderr: stdout is the file. Into a device, stdout is free
  // and reports go where they go for a file.
  const display =
    into === undefined ? new Display(streamMode(run), { ...streams, stdout: streams.stderr }) : new Display(run.mode, { ...streams, streamedTo: into });
  const { output: _o, dir: _d, overwrite: _w, continue: _c, skipExisting: _s, timestamping: _t, remoteTime: _r, fsync: _f, resume: _u, restart: _a, ...options } = run.options;
  let out: NodeJS.WritableStream = streams.stdout;
  let code: number;
  try {
    if (into !== undefined) out = await openInto(into, signal);
    // A closed pipe may still report after the last write: it must not end the process.
    out.on('error', () => undefined);
    await downloadTo(run.url, out, { ...options, ...(window !== undefined ? { streamWindow: window } : {}), signal, onEvent: (e) => display.event(e) });
    if (out !== streams.stdout) await new Promise<void>((resolve) => out.end(resolve));
    return ExitCode.ok;
  } catch (err) {
    const cause = (err as Error).cause as NodeJS.ErrnoException | undefined;
    if (cause?.code === 'EPIPE' || cause?.code === 'ERR_STREAM_DESTROYED') return ExitCode.pipe;
    if (err instanceof AbortError) {
      code = run.exitOnSignal();
      display.interrupted(`interrupted after ${err.written} bytes were streamed; a stream cannot be resumed`, code);
    } else if (err instanceof RangegetError) {
      // Reported here (on stderr even with --json when stdout is the stream).
      code = err.exitCode;
      display.error({ code: err.code, message: err.cliMessage, exitCode: code });
    } else throw err;
  } finally {
    display.stop();
    if (out !== streams.stdout) (out as WriteStream).destroy();
  }
  return leaveIfStuck(out, code);
}

/** True when `file` is what this process's file descriptor `fd` is (`/dev/stdout` and fd 1). */
function sameFile(file: string, fd: number): boolean {
  try {
    const [a, b] = [statSync(file), fstatSync(fd)];
    return a.dev === b.dev && a.ino === b.ino && a.rdev === b.rdev;
  } catch {
    return false;
  }
}

/**
 * Opens a device or FIFO for writing. A FIFO's open waits, in a thread of its own, for a
 * reader: an abort (Ctrl-C) opens it for reading for a moment so that the wait ends, instead
 * of keeping the process alive until a reader comes.
 */
function openInto(file: string, signal: AbortSignal): Promise<WriteStream> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(file);
    const onAbort = (): void => {
      try {
        closeSync(openSync(file, constants.O_RDONLY | constants.O_NONBLOCK));
      } catch {
        // not a FIFO, or gone: nothing waits
      }
      out.destroy();
      reject(new AbortError());
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    out.once('open', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(out);
    });
    out.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(fileError(err, file));
    });
  });
}

/**
 * A stream that ended unfinished while its reader had stopped reading (Ctrl-C with `| less`
 * waiting): the bytes still queued for the pipe would keep the process alive until the reader
 * takes them, so it exits now with `code`. Only the process's own stdout: main() in a test
 * writes elsewhere.
 */
function leaveIfStuck(stdout: NodeJS.WritableStream, code: number): number {
  if (stdout === process.stdout && process.stdout.writableLength > 0) process.exit(code);
  return code;
}
