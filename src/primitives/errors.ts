/**
 * Typed errors. Every failure a caller can meet is a {@link RangegetError} with a stable
 * `code` to switch on and the CLI exit code that goes with it.
 */

import { forLibrary } from './wording.js';

/** Stable machine-readable error codes. */
export type ErrorCode =
  | 'EUSAGE'
  | 'EHTTP'
  | 'EREDIRECT'
  | 'ENETWORK'
  | 'ETIMEOUT'
  | 'ESERVER'
  | 'ECHECKSUM'
  | 'ESIZE'
  | 'EEXIST'
  | 'EFILE'
  | 'ENOSPACE'
  | 'ECHANGED'
  | 'EABORTED'
  | 'EINTERNAL';

/** Process exit codes of the CLI, one per kind of failure (documented in the README). */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  http: 3,
  network: 4,
  verify: 5,
  file: 6,
  changed: 7,
  batch: 8,
  /** The reader of `-o -` closed the pipe (as a process ended by SIGPIPE). */
  pipe: 141,
  sigint: 130,
  sigterm: 143,
} as const;

const exitByCode: Record<ErrorCode, number> = {
  EUSAGE: ExitCode.usage,
  EHTTP: ExitCode.http,
  EREDIRECT: ExitCode.http,
  ESERVER: ExitCode.http,
  ENETWORK: ExitCode.network,
  ETIMEOUT: ExitCode.network,
  ECHECKSUM: ExitCode.verify,
  ESIZE: ExitCode.verify,
  EEXIST: ExitCode.file,
  EFILE: ExitCode.file,
  ENOSPACE: ExitCode.file,
  ECHANGED: ExitCode.changed,
  EABORTED: ExitCode.sigint,
  EINTERNAL: ExitCode.internal,
};

/**
 * Base class of every error rangeget throws on purpose. `message` speaks to a library caller
 * (it names options); {@link RangegetError.cliMessage} says the same to a command-line user
 * (it names flags).
 */
export class RangegetError extends Error {
  /** Stable code a caller can switch on. */
  readonly code: ErrorCode;
  /** The CLI exit code for this error. */
  readonly exitCode: number;
  /** The message as the command line shows it: flags (`--overwrite`, `-o`) instead of options. */
  readonly cliMessage: string;

  /** `message` in the CLI's words; `message` becomes the library's ({@link forLibrary}). */
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(forLibrary(message), options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitByCode[code];
    this.cliMessage = message;
  }
}

/** Invalid options, flags or URL: nothing was sent. */
export class UsageError extends RangegetError {
  constructor(message: string) {
    super('EUSAGE', message);
  }
}

/** The server answered with a status that ends the download (4xx/5xx, 416 ...). */
export class HttpError extends RangegetError {
  readonly status: number;
  readonly url: string;
  constructor(status: number, url: string, message?: string) {
    super('EHTTP', message ?? `server answered HTTP ${status} for ${url}`);
    this.status = status;
    this.url = url;
  }
}

/** Too many redirects, a loop, or a redirect to an unsupported scheme. */
export class RedirectError extends RangegetError {
  constructor(message: string) {
    super('EREDIRECT', message);
  }
}

/** The connection failed and retries are exhausted. */
export class NetworkError extends RangegetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ENETWORK', message, options);
  }
}

/** No byte arrived for too long, or connecting took too long, and retries are exhausted. */
export class TimeoutError extends RangegetError {
  constructor(message: string) {
    super('ETIMEOUT', message);
  }
}

/** The server broke the protocol (bad Content-Range, size changed, ...) and it could not be recovered. */
export class ServerError extends RangegetError {
  constructor(message: string) {
    super('ESERVER', message);
  }
}

/**
 * The downloaded file does not match the checksum asked for. `keptIn`: the `.part` file its
 * bytes are kept in, with a control file, for a run with the right checksum to verify.
 */
export class ChecksumError extends RangegetError {
  readonly expected: string;
  readonly actual: string;
  /** `streamed`: every byte went to a stream (`-o -`) before the digest was known. */
  constructor(algorithm: string, expected: string, actual: string, keptIn?: string, streamed = false) {
    const kept = keptIn === undefined ? '' : `; its bytes are kept in ${keptIn}: with the right checksum, the next run verifies them without fetching them again`;
    const fate = streamed ? 'every byte was already streamed: discard what the reader got' : `the file was not saved${kept}`;
    super('ECHECKSUM', `${algorithm} mismatch: expected ${expected}, got ${actual}; ${fate}`);
    this.expected = expected;
    this.actual = actual;
  }
}

/** The assembled file does not have the expected size. */
export class SizeError extends RangegetError {
  constructor(expected: number, actual: number) {
    super('ESIZE', `size mismatch: expected ${expected} bytes, have ${actual}; the file was not saved`);
  }
}

/** The output file exists and `overwrite` was not given. */
export class FileExistsError extends RangegetError {
  readonly path: string;
  /** `reason`: why `--continue` cannot finish it either. */
  constructor(path: string, reason?: string) {
    super(
      'EEXIST',
      reason
        ? `${path} already exists and ${reason}; pass --overwrite to replace it or -o to choose another name`
        : `${path} already exists; pass --continue to finish it (nothing is fetched if it is complete), --overwrite to replace it, or -o to choose another name`,
    );
    this.path = path;
  }
}

/** A local file-system failure (permission denied, not a directory, read-only ...). */
export class FileError extends RangegetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EFILE', message, options);
  }
}

/** Not enough free space for the file. */
export class NoSpaceError extends RangegetError {
  constructor(message: string) {
    super('ENOSPACE', message);
  }
}

/** The remote file changed and the download could not continue safely. */
export class RemoteChangedError extends RangegetError {
  constructor(message: string) {
    super('ECHANGED', message);
  }
}

/** What an aborted download left on disk. */
export interface AbortedAt {
  /** Bytes in the `.part` file (0: nothing was fetched). */
  written: number;
  /** The file's size, when the server gave it. */
  size?: number;
  /** The next run with the same options continues from `written` (a control file vouches for it). */
  resumable: boolean;
  /** The `.part` file, when one was made. */
  partPath?: string;
}

/** The library's words for an abort: what is on disk and whether the next call resumes. */
function abortMessage(at: AbortedAt): string {
  if (at.written === 0) return 'aborted before any byte was written';
  const of = at.size === undefined ? '' : ` of ${at.size}`;
  return at.resumable
    ? `aborted with ${at.written}${of} bytes in ${at.partPath}; download again with the same options to resume`
    : `aborted with ${at.written}${of} bytes in ${at.partPath}, which cannot be resumed: the next download starts over`;
}

/**
 * The download was aborted (signal). {@link AbortError.written} and the fields beside it say
 * what is on disk: the `.part` and control files are kept, and `resumable` says whether the
 * next run can use them.
 */
export class AbortError extends RangegetError implements AbortedAt {
  readonly written: number;
  readonly size?: number;
  readonly resumable: boolean;
  readonly partPath?: string;
  constructor(at: AbortedAt = { written: 0, resumable: false }, message = abortMessage(at)) {
    super('EABORTED', message);
    this.written = at.written;
    if (at.size !== undefined) this.size = at.size;
    this.resumable = at.resumable;
    if (at.partPath !== undefined) this.partPath = at.partPath;
  }
}

/** A bug or an unexpected failure inside rangeget. */
export class InternalError extends RangegetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EINTERNAL', message, options);
  }
}

/** Turn a Node.js file-system error into a typed error with a message that says what to do. */
export function fileError(err: unknown, path: string): RangegetError {
  if (err instanceof RangegetError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new NoSpaceError(`no space left on the device writing ${path}; free some space and run again to resume`);
    case 'EACCES':
    case 'EPERM':
      return new FileError(`permission denied writing ${path}; choose another directory with -d or -o`, { cause: err });
    case 'EROFS':
      return new FileError(`read-only file system at ${path}; choose another directory with -d or -o`, { cause: err });
    case 'EISDIR':
      return new FileError(`${path} is a directory; give a file name with -o`, { cause: err });
    case 'ENOENT':
    case 'ENOTDIR':
      return new FileError(`directory for ${path} does not exist; create it or choose another with -d`, { cause: err });
    default:
      return new FileError(`cannot write ${path}: ${(err as Error | undefined)?.message ?? String(err)}`, { cause: err });
  }
}

/**
 * An error as it crosses from a worker thread: a structured clone keeps no class, so the
 * class travels by name with its own fields, and {@link fromWire} builds the same class again.
 */
export interface WireError {
  /** The class name (`NoSpaceError`, `HttpError`, ...). */
  name: string;
  code: ErrorCode;
  message: string;
  /** The class's own fields (`status`, `url`, `path`, `expected`, `actual`). */
  fields: Record<string, string | number>;
}

/** Plain data for another thread; see {@link fromWire}. */
export function toWire(err: RangegetError): WireError {
  const fields: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(err)) {
    if (key !== 'code' && key !== 'exitCode' && key !== 'name' && (typeof value === 'string' || typeof value === 'number')) fields[key] = value;
  }
  return { name: err.name, code: err.code, message: err.message, fields };
}

const str = (fields: WireError['fields'], key: string): string => String(fields[key] ?? '');

/** How each class is built again from its wire form. */
const revivers: Record<string, (w: WireError) => RangegetError> = {
  UsageError: (w) => new UsageError(w.message),
  HttpError: (w) => new HttpError(Number(w.fields.status ?? 0), str(w.fields, 'url'), w.message),
  RedirectError: (w) => new RedirectError(w.message),
  NetworkError: (w) => new NetworkError(w.message),
  TimeoutError: (w) => new TimeoutError(w.message),
  ServerError: (w) => new ServerError(w.message),
  ChecksumError: (w) => Object.assign(new ChecksumError('', str(w.fields, 'expected'), str(w.fields, 'actual')), { message: w.message }),
  SizeError: (w) => Object.assign(new SizeError(0, 0), { message: w.message }),
  FileExistsError: (w) => Object.assign(new FileExistsError(str(w.fields, 'path')), { message: w.message }),
  FileError: (w) => new FileError(w.message),
  NoSpaceError: (w) => new NoSpaceError(w.message),
  RemoteChangedError: (w) => new RemoteChangedError(w.message),
  AbortError: (w) => new AbortError({ written: Number(w.fields.written ?? 0), resumable: false }, w.message),
  InternalError: (w) => new InternalError(w.message),
};

/** The error {@link toWire} sent, as its own class (an unknown name: a plain {@link RangegetError}). */
export function fromWire(wire: WireError): RangegetError {
  const revive = Object.hasOwn(revivers, wire.name) ? revivers[wire.name] : undefined;
  const err = revive ? revive(wire) : new RangegetError(wire.code, wire.message);
  // Both wordings cross as they were: the library's as the message, the CLI's as a field.
  const cli = wire.fields.cliMessage;
  return Object.assign(err, { message: wire.message, ...(typeof cli === 'string' ? { cliMessage: cli } : {}) });
}
