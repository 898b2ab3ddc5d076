/**
 * The checks made before a download writes anything: what is at the output path already,
 * and whether the disk can hold what is left to fetch.
 */
import { lstat, stat, statfs } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { FileError, NoSpaceError, fileError } from '../primitives/errors.js';
import { removeControl } from './control-file.js';
import { removeFile } from './files.js';
import type { Target } from './target.js';

/** What is at `path` (a symlink is followed unless broken), or undefined. */
export async function existing(path: string): Promise<Stats | undefined> {
  let entry: Stats;
  try {
    entry = await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOENT: nothing there, or `dir` not made yet (the lock makes it).
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw fileError(err, path);
  }
  return entry.isSymbolicLink() ? stat(path).catch(() => entry) : entry;
}

/** "a character device", "a FIFO"...: what `entry` is when it is neither a file nor a directory. */
export function specialKind(entry: Stats): string | undefined {
  if (entry.isCharacterDevice()) return 'a character device';
  if (entry.isBlockDevice()) return 'a block device';
  if (entry.isFIFO()) return 'a FIFO';
  if (entry.isSocket()) return 'a socket';
  return undefined;
}

/**
 * What is at the output path: nothing (undefined) or a file; a directory is refused. A file
 * that is there because an earlier run completed it loses its leftovers (`warn` says so).
 * Whether an existing file may be kept, continued or replaced is the caller's decision.
 */
export async function checkOutput(target: Target, warn: (message: string) => void): Promise<Stats | undefined> {
  const found = await existing(target.path);
  if (found?.isDirectory()) throw new FileError(`${target.path} is a directory; give a file name with -o`);
  if (!found) return undefined;
  const special = specialKind(found);
  // Replacing /dev/null (`--overwrite`, as root) would put a regular file in its place.
  if (special) {
    throw new FileError(
      `${target.path} is ${special}, not a file, and a download never replaces one: stream into it instead (downloadTo() in the library; on the command line, one URL with this path as its output)`,
    );
  }
  // A run stopped between linking the finished file into place and removing its `.part`
  // left the same file under both names: it is complete; only the leftovers go.
  const part = await stat(target.partPath).catch(() => undefined);
  if (part && part.ino === found.ino && part.dev === found.dev) {
    await removeFile(target.partPath);
    await removeControl(target.controlPath);
    warn(`${target.path} was already complete; removed the leftover ${target.partPath}`);
  }
  return found;
}

/** Refuse clearly, before any byte, when the disk cannot hold the `needed` bytes left. */
export async function checkSpace(target: Target, needed: number): Promise<void> {
  if (needed <= 0) return;
  const dir = target.partPath.slice(0, target.partPath.lastIndexOf('/') + 1) || '.';
  const fs = await statfs(dir).catch(() => undefined);
  if (!fs) return;
  const free = Number(fs.bavail) * Number(fs.bsize);
  if (free < needed) {
    throw new NoSpaceError(
      `not enough free space in ${dir}: ${needed} bytes needed, ${free} available; free some space or choose another directory with -d`,
    );
  }
}

/** A regular file at `path` (for `-N`): its size, and its modification time as an HTTP-date; undefined when there is none. */
export async function localFile(path: string): Promise<{ path: string; size: number; date: string } | undefined> {
  const found = await existing(path).catch(() => undefined);
  return found?.isFile() ? { path, size: found.size, date: new Date(found.mtimeMs).toUTCString() } : undefined;
}
