/**
 * `-o -`: one download streamed to stdout in file order (`downloadTo`); every report goes to
 * stderr, never into the stream. A reader that closes the pipe (`| head -c 100`) ends the
 * run quietly with exit 141, as a process ended by SIGPIPE.
 */
import type { DownloadOptions } from '../options.js';
import { parseSize } from '../parse.js';
import { AbortError, ExitCode, RangegetError, UsageError } from '../primitives/errors.js';
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

/** A usage mistake with `-o -` (or `--stream-window` without it), before anything is sent. */
export function streamFlagProblem(raw: RawOptions, batch: boolean): UsageError | undefined {
  if (raw.output !== '-') return raw.streamWindow === undefined ? undefined : new UsageError('--stream-window applies to -o - only');
  if (batch) return new UsageError('-o - streams one URL to stdout; give one URL, without -i');
  const flag = FILE_FLAGS.find(([key]) => raw[key] !== undefined && raw[key] !== false);
  return flag ? new UsageError(`${flag[1]} cannot be combined with -o -: a stream has no file on disk`) : undefined;
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
  // Reports (JSON lines too) go to stderr: stdout is the file.
  const display = new Display(streamMode(run), { ...streams, stdout: streams.stderr });
  const { output: _o, dir: _d, overwrite: _w, continue: _c, skipExisting: _s, timestamping: _t, remoteTime: _r, fsync: _f, resume: _u, restart: _a, ...options } = run.options;
  // A closed pipe may still report after the last write: it must not end the process.
  streams.stdout.on('error', () => undefined);
  let code: number;
  try {
    await downloadTo(run.url, streams.stdout, { ...options, ...(window !== undefined ? { streamWindow: window } : {}), signal, onEvent: (e) => display.event(e) });
    return ExitCode.ok;
  } catch (err) {
    const cause = (err as Error).cause as NodeJS.ErrnoException | undefined;
    if (cause?.code === 'EPIPE' || cause?.code === 'ERR_STREAM_DESTROYED') return ExitCode.pipe;
    if (err instanceof AbortError) {
      code = run.exitOnSignal();
      display.interrupted(`interrupted after ${err.written} bytes were streamed; a stream cannot be resumed`, code);
    } else if (err instanceof RangegetError) {
      // Reported here, on stderr even with --json: stdout is the stream.
      code = err.exitCode;
      display.error({ code: err.code, message: err.cliMessage, exitCode: code });
    } else throw err;
  } finally {
    display.stop();
  }
  return leaveIfStuck(streams.stdout, code);
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
