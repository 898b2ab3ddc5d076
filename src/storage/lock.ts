/**
 * One download per output file: a lock file `<output>.part.lock` holding the owner's pid.
 * Two runs writing one `.part` file would corrupt each other's control file; a lock left
 * by a killed run is stale (its pid is gone) and is taken over.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { removeFile } from './files.js';
import type { Target } from './target.js';
import { FileError, fileError } from '../primitives/errors.js';

/** Locks held by this process (its own pid in a lock file does not tell two calls apart). */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock held on an output. */
export interface OutputLock {
  release(): Promise<void>;
  /** Taken over from a run that is gone (killed): a `.part` file beside it is that run's. */
  stale: boolean;
}

/** Take the lock of `path`. */
export async function lockOutput(path: string, lockPath: string): Promise<OutputLock> {
  let stale = false;
  for (let attempt = 0; ; attempt++) {
    if (held.has(lockPath)) {
      throw new FileError(`${path} is already being downloaded by this process; wait for that download to finish`);
    }
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      held.add(lockPath);
      const release = async (): Promise<void> => {
        held.delete(lockPath);
        await removeFile(lockPath);
      };
      return { release, stale };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(err, lockPath);
    }
    const pid = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
    if (attempt === 0 && (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !alive(pid))) {
      await removeFile(lockPath); // stale: its owner is gone
      stale = true;
      continue;
    }
    throw new FileError(
      `${path} is being downloaded by another rangeget (pid ${pid}); wait for it, or delete ${lockPath} if that process is not rangeget`,
    );
  }
}

/**
 * Take the lock of a target's output. `dir` (the `-d` asked for) is created here, when the
 * lock file cannot be made for want of it: a batch into one folder then costs no mkdir per file.
 */
export async function lockTarget(target: Target, dir: string | undefined): Promise<OutputLock> {
  const lockPath = `${target.partPath}.lock`;
  try {
    return await lockOutput(target.path, lockPath);
  } catch (err) {
    const code = err instanceof FileError ? (err.cause as NodeJS.ErrnoException | undefined)?.code : undefined;
    if (dir === undefined || (code !== 'ENOENT' && code !== 'ENOTDIR')) throw err;
    await mkdir(dir, { recursive: true }).catch((cause: unknown) => {
      const why = (cause as NodeJS.ErrnoException).code;
      if (why === 'EEXIST' || why === 'ENOTDIR') throw new FileError(`cannot use ${dir} as the directory: a file is in the way; choose another with -d`, { cause });
      throw fileError(cause, dir);
    });
    return lockOutput(target.path, lockPath);
  }
}
