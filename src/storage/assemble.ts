/**
 * The assembler: verify the `.part` file (size, checksum), sync it (unless `--no-fsync`), and move it to the
 * final path without clobbering anything the user did not ask to replace.
 */
import { link, lstat, rename, type FileHandle } from 'node:fs/promises';
import { FileHasher } from './hasher.js';
import { removeFile } from './files.js';
import { ChecksumError, FileExistsError, SizeError, fileError } from '../primitives/errors.js';
import type { Checksum } from '../primitives/checksum.js';

/** What to check and where to put the file. */
export interface AssembleInput {
  file: FileHandle;
  partPath: string;
  path: string;
  /** Expected size; undefined when the server did not say (then whatever was written). */
  size: number | undefined;
  /** Bytes written, for a download of unknown size. */
  written: number;
  checksum?: Checksum;
  hasher?: FileHasher;
  overwrite: boolean;
  /** Sync the file before it is moved into place (false: `--no-fsync`). */
  sync: boolean;
  /** The modification time to give the file (the remote Last-Modified). */
  mtime?: Date;
}

/**
 * Verify and move into place. On a size mismatch, the `.part` file is removed (its bytes
 * are wrong); on a checksum mismatch it is synced and kept (the checksum may be the mistake:
 * see `Transfer`). Either way nothing appears at the final path.
 * Returns the digest when a checksum was asked for.
 */
export async function assemble(input: AssembleInput): Promise<{ size: number; digest?: string }> {
  const { file, partPath, path } = input;
  const actual = (await file.stat()).size;
  const expected = input.size ?? input.written;
  if (actual !== expected) {
    await file.close();
    throw new SizeError(expected, actual);
  }
  let digest: string | undefined;
  if (input.checksum) {
    const hasher = input.hasher ?? new FileHasher(file, input.checksum.algorithm);
    digest = await hasher.digest(expected);
    if (digest !== input.checksum.hex) {
      if (input.sync) await file.datasync();
      await file.close();
      throw new ChecksumError(input.checksum.algorithm, input.checksum.hex, digest);
    }
  }
  // Before the file is at its path: it never shows there with another time.
  if (input.mtime) await file.utimes(input.mtime, input.mtime);
  if (input.sync) await file.datasync();
  await file.close();
  await place(partPath, path, input.overwrite);
  return digest === undefined ? { size: expected } : { size: expected, digest };
}

/**
 * Move the finished file to its path. Without `overwrite`, a hard link is made first:
 * it fails if something appeared at the path meanwhile, so nothing is ever clobbered.
 */
async function place(partPath: string, path: string, overwrite: boolean): Promise<void> {
  try {
    if (overwrite) {
      await rename(partPath, path);
      return;
    }
    try {
      await link(partPath, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new FileExistsError(path);
      // File systems without hard links: check, then rename.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw err;
      if (await exists(path)) throw new FileExistsError(path);
      await rename(partPath, path);
      return;
    }
    await removeFile(partPath);
  } catch (err) {
    throw fileError(err, path);
  }
}

/** True when something exists at `path` (a broken symlink counts). */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
