/**
 * What a file is verified against (`--checksum`, else the server's digest), and the bytes a
 * transfer leaves when it does not end in a saved file: a whole file that failed
 * its checksum is kept (the checksum may be the typo), and checked again against the next
 * run's checksum before anything is fetched; an abort says what is on disk.
 */
import type { ProbeResult } from '../http/probe.js';
import { canVouch } from '../http/validators.js';
import type { Checkpointer } from '../storage/checkpointer.js';
import { removeFile } from '../storage/files.js';
import type { FileHasher } from '../storage/hasher.js';
import type { Target } from '../storage/target.js';
import { AbortError, ChecksumError } from '../primitives/errors.js';
import { totalLength, type ByteRange } from '../primitives/ranges.js';
import type { VerifiedDigest } from './events.js';
import type { DownloadSettings } from './settings.js';

/**
 * When an earlier run left the whole file (it failed a checksum, or stopped before moving it
 * into place) in `partPath`, a warning if its digest does not match `checksum` (the hasher is
 * then reset: the file is fetched again); undefined when it matches or there is nothing to check.
 */
export async function keptMismatch(
  hasher: FileHasher | undefined,
  checksum: VerifiedDigest | undefined,
  size: number | undefined,
  kept: readonly ByteRange[],
  partPath: string,
): Promise<string | undefined> {
  if (!hasher || !checksum || size === undefined || size === 0 || totalLength(kept) < size) return undefined;
  const digest = await hasher.peek(size);
  if (digest === checksum.hex) return undefined;
  hasher.reset();
  return `the ${size} bytes kept in ${partPath} have ${checksum.algorithm} ${digest}, not ${checksum.hex}${fromWhere(checksum)}; fetching the file again`;
}

/**
 * A complete `.part` failed `checksum`: keep it with a control file that records the digest
 * it has, and say so in the error; without a control file (no ranges, unknown size) its bytes
 * could not be trusted later, so the `.part` goes.
 */
export async function keepFailed(err: ChecksumError, checksum: VerifiedDigest, checkpointer: Checkpointer, partPath: string): Promise<ChecksumError> {
  const label = `${checksum.algorithm}${fromWhere(checksum)}`;
  if (await checkpointer.keepFailed(`${checksum.algorithm}=${err.actual}`)) {
    return new ChecksumError(label, err.expected, err.actual, partPath);
  }
  await checkpointer.abandon();
  await removeFile(partPath);
  return new ChecksumError(label, err.expected, err.actual);
}

/**
 * An abort that says what is on disk: `written` bytes (the control file saved on the way out
 * claims them), and whether the next run may keep them: not without ranges or validators.
 */
export function abortedAt(written: number, ranged: boolean, input: { info: ProbeResult; target: Target }): AbortError {
  return new AbortError({
    written,
    ...(input.info.size !== undefined ? { size: input.info.size } : {}),
    resumable: ranged && canVouch(input.info),
    partPath: input.target.partPath,
  });
}

/** The digest to verify against: `--checksum` wins over the server's (`--no-server-digest`: the server's is not asked for). */
export function expectedDigest(opts: DownloadSettings, info: ProbeResult): VerifiedDigest | undefined {
  if (opts.checksum) return { ...opts.checksum, source: 'checksum' };
  if (!opts.serverDigest || !info.digest) return undefined;
  const { algorithm, hex, field } = info.digest;
  return { algorithm, hex, source: field, url: info.finalUrl };
}

/** Where a digest came from, for messages: nothing for `--checksum`. */
export function fromWhere(digest: VerifiedDigest): string {
  return digest.source === 'checksum' ? '' : ` (the server's ${digest.source} for ${digest.url})`;
}
