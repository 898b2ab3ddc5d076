/**
 * What to do with a file already at the output path (`--continue`, `--skip-existing`,
 * `--timestamping`, `--overwrite`), from its size and time and the remote file's. Pure.
 */
import { lastModifiedTime } from '../http/validators.js';

/** What is at the output path. */
export interface LocalFile {
  size: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
}

/** The remote file as probed. */
export interface RemoteFile {
  size: number | undefined;
  lastModified?: string;
  acceptsRanges: boolean;
}

/** How the settings treat an existing file. */
export interface ExistingPolicy {
  overwrite: boolean;
  continue: boolean;
  skipExisting: boolean;
  timestamping: boolean;
}

/** The decision about an existing output file. */
export type ExistingAction =
  /** Fail: the file stays ({@link ExistingAction.reason} says why, when not just "exists"). */
  | { kind: 'refuse'; reason?: string }
  /** Done without a request for the body: `exists` (skip), `complete`, `not-modified`. */
  | { kind: 'skip'; why: 'exists' | 'complete' | 'not-modified' }
  /** Fetch the whole file and replace the old one once verified (`warning`: say why). */
  | { kind: 'replace'; warning?: string }
  /** Keep the file's bytes as the start of the download and fetch the rest. */
  | { kind: 'continue' };

/** The remote Last-Modified, in ms, or undefined when missing or not a date. */
function remoteTime(remote: RemoteFile): number | undefined {
  return lastModifiedTime(remote.lastModified);
}

/**
 * The remote file is newer than the local one. HTTP dates have whole seconds; a file whose
 * time was set from the same Last-Modified is not newer.
 */
function newer(remote: RemoteFile, local: LocalFile): boolean {
  const t = remoteTime(remote);
  return t !== undefined && t > Math.floor(local.mtimeMs / 1000) * 1000;
}

/** What to do with `local`, already at the output path, for `remote` under `policy`. */
export function existingAction(local: LocalFile, remote: RemoteFile, policy: ExistingPolicy): ExistingAction {
  if (policy.skipExisting) return { kind: 'skip', why: 'exists' };
  if (policy.overwrite) return { kind: 'replace' };
  const sameSize = remote.size === local.size;
  if (policy.timestamping) {
    // As wget -N: not newer and the same size is up to date; without a date, fetch.
    if (remoteTime(remote) !== undefined && !newer(remote, local) && (remote.size === undefined || sameSize)) {
      return { kind: 'skip', why: 'not-modified' };
    }
    if (remoteTime(remote) === undefined) {
      return { kind: 'replace', warning: 'the server gives no Last-Modified, so -N cannot compare times; fetching it again' };
    }
    if (!policy.continue) return { kind: 'replace' };
  }
  if (!policy.continue) return { kind: 'refuse' };
  if (remote.size === undefined) {
    return { kind: 'replace', warning: 'the server does not give the size, so the existing file cannot be checked; fetching it all again' };
  }
  if (newer(remote, local)) {
    return { kind: 'replace', warning: `the remote file (Last-Modified ${remote.lastModified}) is newer than the existing one; fetching it all again` };
  }
  if (sameSize) return { kind: 'skip', why: 'complete' };
  if (local.size > remote.size) {
    return { kind: 'refuse', reason: `it is larger (${local.size} bytes) than the remote file (${remote.size} bytes), so it is not a part of it` };
  }
  // Bytes written before the remote file last changed would be another version's; without
  // a date nothing ties them to this one.
  if (remoteTime(remote) === undefined) {
    return { kind: 'replace', warning: 'the server gives no Last-Modified, so the bytes already there cannot be trusted; fetching it all again' };
  }
  if (!remote.acceptsRanges) return { kind: 'replace', warning: 'the server does not support ranges, so the file cannot be continued; fetching it all again' };
  return { kind: 'continue' };
}
