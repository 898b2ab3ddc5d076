/**
 * Node's module compile cache for the CLI (`module.enableCompileCache`, Node 22.1 and later):
 * V8's compiled code of the CLI's bundle kept on disk from one run to the next. bin/rangeget.js
 * calls it before it loads the bundle; the library never does (it is a process-wide setting).
 *
 * Not in Node's default folder, $TMPDIR/node-compile-cache: the first user to run any Node
 * program with the cache there owns it (every other user then gets no cache), and a cache
 * entry another user planted there would run as us (V8 checks that an entry matches the
 * source, not what its code does). So: a folder of our own, `$TMPDIR/rangeget-compile-cache-UID`,
 * made 0700 and used only while it is a real folder, ours, closed to others, in a parent where
 * no other user can rename it away. NODE_COMPILE_CACHE, a user's own choice, is left to Node
 * (it has enabled the cache already); NODE_DISABLE_COMPILE_CACHE switches it off.
 */
import { lstatSync, mkdirSync, statSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface CompileCache {
  enableCompileCache?: (dir: string) => { status: number; directory?: string };
}

/** The folder for the cache under `base`, made if missing; undefined where it is not safe to use. */
export function privateCacheDir(base: string = tmpdir()): string | undefined {
  const uid = process.getuid?.();
  // Windows: the temporary folder is the user's own.
  if (uid === undefined) return join(base, 'rangeget-compile-cache');
  const dir = join(base, `rangeget-compile-cache-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  try {
    const own = lstatSync(dir);
    if (!own.isDirectory() || own.uid !== uid || (own.mode & 0o077) !== 0) return undefined;
    // Writable by others without the sticky bit: anyone could swap our folder for theirs.
    const parent = statSync(base).mode;
    if ((parent & 0o002) !== 0 && (parent & 0o1000) === 0) return undefined;
  } catch {
    return undefined;
  }
  return dir;
}

/**
 * Turns the compile cache on where Node has it and a safe folder is at hand; the folder used,
 * or undefined. Never throws: the cache only ever changes how fast the CLI starts.
 */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const enable = (nodeModule as CompileCache).enableCompileCache;
  if (enable === undefined || env.NODE_COMPILE_CACHE !== undefined || env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const dir = privateCacheDir();
  if (dir === undefined) return undefined;
  const { directory } = enable(dir);
  // Worker threads start with the cache off; they take it from the environment.
  if (directory !== undefined) env.NODE_COMPILE_CACHE = directory;
  return directory;
}
