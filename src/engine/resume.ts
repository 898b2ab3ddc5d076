/**
 * The resume decision: which bytes an earlier run left can be kept for the remote file as
 * probed now. The comparisons are pure ({@link resumeProblem}, {@link controlMismatch},
 * {@link keptRanges}); {@link readLeftovers} reads what is on disk, and
 * {@link takeLeftovers} acts on it.
 */
import { rename, stat } from 'node:fs/promises';
import { canVouch, validatorChange, type Validators } from '../http/validators.js';
import { newControlState, readControl, removeControl, writeControl, writtenSegments, type ControlFile, type ControlState } from '../storage/control-file.js';
import { exists } from '../storage/assemble.js';
import type { Target } from '../storage/target.js';
import { FileError, RemoteChangedError, fileError } from '../primitives/errors.js';
import { totalLength, type ByteRange } from '../primitives/ranges.js';

/** The remote file as probed now, to compare with a stored state. */
export interface RemoteIdentity extends Validators {
  size: number | undefined;
  /** The server answers byte ranges. */
  acceptsRanges: boolean;
}

/**
 * Can the bytes of a stored state be trusted for this remote file? Returns undefined when
 * they can, otherwise the reason to start over.
 */
export function resumeProblem(state: ControlState, remote: RemoteIdentity): string | undefined {
  if (!remote.acceptsRanges) return 'the server does not support ranges, so the download cannot be resumed';
  if (remote.size !== state.size) {
    return `the remote file changed size (${state.size} → ${remote.size ?? 'unknown'} bytes)`;
  }
  // A weak ETag may stay the same while the bytes change: it cannot vouch for old bytes.
  if (!canVouch(state)) {
    return state.etag
      ? `the server gives only a weak ETag (${state.etag}) and no Last-Modified, so an unchanged remote file cannot be confirmed`
      : 'the server gives no ETag or Last-Modified, so an unchanged remote file cannot be confirmed';
  }
  const change = validatorChange(state, remote, true);
  return change ? `the remote file changed (${change})` : undefined;
}

/** The file as probed now: the URL asked for, and what identifies its bytes. */
export interface ProbedFile extends RemoteIdentity {
  url: string;
}

/**
 * Why a stored state cannot be resumed for `file`, as the user reads it, or undefined when
 * it can. Pure.
 */
export function controlMismatch(state: ControlState, file: ProbedFile, partPath: string): string | undefined {
  if (state.url !== file.url) return `cannot resume: ${partPath} was left by a download of ${state.url}`;
  const problem = resumeProblem(state, file);
  return problem ? `cannot resume: ${problem}` : undefined;
}

/**
 * The ranges of a trusted state that a `.part` file of `partSize` bytes holds; `short`: it
 * holds fewer than the state claims (the missing bytes are fetched again). Pure.
 */
export function keptRanges(state: ControlState, partSize: number): { written: ByteRange[]; short: boolean } {
  const written = writtenSegments(state, partSize);
  const claimed = state.written.reduce((sum, [a, b]) => sum + b - a, 0);
  return { written, short: totalLength(written) < claimed };
}

/** What an earlier run left at a target, as {@link readLeftovers} found it. */
export type Leftovers =
  /** Neither a control file nor a `.part` file. */
  | { kind: 'none' }
  /** Written ranges to keep ({@link keptRanges}). */
  | { kind: 'kept'; written: ByteRange[]; short: boolean }
  /** An empty `.part` file no control file vouches for, or an unreadable control file. */
  | { kind: 'untrusted'; reason: string }
  /** A `.part` file with bytes and no control file: never overwritten, moved aside. */
  | { kind: 'foreign'; reason: string }
  /** Left by a download of another URL or another version of the file ({@link controlMismatch}). */
  | { kind: 'mismatch'; reason: string };

/**
 * Read what an earlier run left at `target` and judge it against `file`. Reads only. `stale`:
 * the output's lock was taken over from a killed run, whose `.part` this is, control file or not.
 */
export async function readLeftovers(target: Target, file: ProbedFile, stale = false): Promise<Leftovers> {
  const control = await readControl(target.controlPath);
  if (control.kind === 'missing') {
    const part = await stat(target.partPath).catch(() => undefined);
    if (!part) return { kind: 'none' };
    // rangeget leaves a control file with every `.part` it leaves, except after kill -9 before
    // the first save (a small file writes none), and then its lock file: bytes with neither are
    // another program's (a browser's `.part`).
    if (stale) return { kind: 'untrusted', reason: `${target.partPath} was left by a rangeget killed before it saved a control file, so its bytes cannot be trusted` };
    return part.size > 0
      ? { kind: 'foreign', reason: `${target.partPath} has no control file, so it is not rangeget's (another program's partial download?)` }
      : { kind: 'untrusted', reason: `${target.partPath} has no control file, so its bytes cannot be trusted` };
  }
  if (control.kind === 'corrupt') {
    return { kind: 'untrusted', reason: `control file ${target.controlPath} is unreadable (${control.reason})` };
  }
  const mismatch = controlMismatch(control.state, file, target.partPath);
  if (mismatch) return { kind: 'mismatch', reason: mismatch };
  const partSize = await stat(target.partPath).then(
    (s) => s.size,
    () => 0,
  );
  return { kind: 'kept', ...keptRanges(control.state, partSize) };
}

/** What a download starts from. */
export interface ResumePoint {
  /** Written ranges kept from an earlier run. */
  written: ByteRange[];
  /** Known to have been left nothing: no control file to remove once done. */
  fresh: boolean;
}

/**
 * The bytes an earlier run left that can be kept, or none: leftovers that cannot be trusted
 * are dropped with a warning (`warn`), and so are those of another file or version when
 * `restart` allows; otherwise these refuse to be overwritten (RemoteChangedError). Without
 * `resume`, any control file is removed unread.
 */
export async function takeLeftovers(
  target: Target,
  file: ProbedFile,
  settings: { resume: boolean; restart: boolean; stale?: boolean },
  warn: (message: string) => void,
): Promise<ResumePoint> {
  if (!settings.resume) {
    await removeControl(target.controlPath);
    return { written: [], fresh: false };
  }
  const left = await readLeftovers(target, file, settings.stale);
  if (left.kind === 'none') return { written: [], fresh: true };
  if (left.kind === 'kept') {
    if (left.short) warn(`${target.partPath} is shorter than its control file claims; fetching the missing bytes again`);
    return { written: left.written, fresh: false };
  }
  if (left.kind === 'foreign') {
    const aside = await moveAside(target.partPath);
    warn(`${left.reason}: kept as ${aside}; starting over`);
    return { written: [], fresh: true };
  }
  if (left.kind === 'mismatch' && !settings.restart) {
    throw new RemoteChangedError(`${left.reason}; run with --no-resume to start over`);
  }
  warn(`${left.reason}; starting over`);
  await removeControl(target.controlPath);
  return { written: [], fresh: false };
}

/** Renames `path` to the first of `path.orig`, `path.orig.1`, ... that is free; returns it. */
async function moveAside(path: string): Promise<string> {
  for (let n = 0; ; n++) {
    const aside = n === 0 ? `${path}.orig` : `${path}.orig.${n}`;
    if (await exists(aside)) continue;
    await rename(path, aside).catch((err: unknown) => {
      throw fileError(err, path);
    });
    return aside;
  }
}

/**
 * `--continue` of a shorter file at the output path that no control file describes (left by
 * another tool, or a crash of one): it becomes the `.part` file, its `have` bytes claimed by
 * a new control file for `file` as probed now, so the usual resume fetches the rest. The
 * caller has checked that the validators allow it (engine/existing.ts). The control file is
 * saved first: a crash between the two leaves the file where it was.
 */
export async function adoptFile(target: Target, file: ControlFile, have: number): Promise<void> {
  if (await exists(target.partPath)) {
    throw new FileError(`${target.path} and ${target.partPath} are both there; remove the one you do not want and run again`);
  }
  await writeControl(target.controlPath, { ...newControlState(file), written: have > 0 ? [[0, have]] : [] });
  await rename(target.path, target.partPath).catch((err: unknown) => {
    throw fileError(err, target.path);
  });
}
