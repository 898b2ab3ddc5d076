/**
 * The bytes a transfer leaves when it does not end in a saved file: a whole file that failed
 * its checksum is kept (the checksum may be the typo), and checked again against the next
 * run's checksum before anything is fetched; an abort says what is on disk.
 */
import type { ProbeResult } from '../http/probe.js';
import { canVouch } from '../http/validators.js';
import type { Checkpointer } from '../storage/checkpointer.js';
import { removeFile } from '../storage/files.js';
import type { FileHasher } from '../storage/hasher.js';
import type { Target } from '../storage/target.js';
import type { Checksum } from '../primitives/checksum.js';
import { AbortError, ChecksumError } from '../primitives/errors.js';
import { totalLength, type ByteRange } from '../primitives/ranges.js';

/**
 * When an earlier run left the whole file (it failed a checksum, or stopped before moving it
 * into place), its digest if it does not match `checksum` (the hasher is then reset: the file
 * is fetched again); undefined when it matches or there is nothing to check.
 */
export async function keptMismatch(
  hasher: FileHasher | undefined,
  checksum: Checksum | undefined,
  size: number | undefined,
  kept: readonly ByteRange[],
): Promise<string | undefined> {
  if (!hasher || !checksum || size === undefined || size === 0 || totalLength(kept) < size) return undefined;
  const digest = await hasher.peek(size);
  if (digest === checksum.hex) return undefined;
  hasher.reset();
  return digest;
}

/**
 * A complete `.part` failed `checksum`: keep it with a control file that records the digest
 * it has, and say so in the error; without a control file (no ranges, unknown size) its bytes
 * could not be trusted later, so the `.part` goes.
 */
export async function keepFailed(err: ChecksumError, checksum: Checksum, checkpointer: Checkpointer, partPath: string): Promise<ChecksumError> {
  if (await checkpointer.keepFailed(`${checksum.algorithm}=${err.actual}`)) {
    return new ChecksumError(checksum.algorithm, err.expected, err.actual, partPath);
  }
  await checkpointer.abandon();
  await removeFile(partPath);
  return err;
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
