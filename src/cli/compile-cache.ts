/**
 * The CLI's start-up caches, used by bin/rangeget.js before it runs the CLI (never by the
 * library: both are process-wide):
 *
 * - V8's code for the bundle (dist/bundle/rangeget.js), kept after a run and given back to V8 by
 *   the next: {@link loadBundle}. It holds every function the run compiled, not only the top
 *   level as Node's own cache does, so a small download does not compile them again: on Node
 *   20, 0.21 s of CPU instead of 0.265 s (BENCHMARKS.md, "Start-up").
 * - Node's module compile cache (Node 22.1 and later: `module.enableCompileCache`) for what
 *   the bundle requires and for the worker threads' bundle: {@link enableCompileCache}.
 *
 * Both go to a folder of the user's own, `$TMPDIR/rangeget-compile-cache-UID`, made 0700 and
 * used only while it is a real folder, ours, closed to others, in a parent where no other user
 * can rename it away: not Node's default $TMPDIR/node-compile-cache, which the first user to
 * run any Node program with the cache owns (every other user then gets no cache), and where a
 * cache entry another user planted would run as us (V8 checks that an entry was made for the
 * same source, not what its code does). NODE_DISABLE_COMPILE_CACHE switches both off;
 * NODE_COMPILE_CACHE, a user's own folder for Node's cache, is left to Node.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

interface CompileCache {
  enableCompileCache?: (dir: string) => { status: number; directory?: string };
}

/** The folder for the caches under `base`, made if missing; undefined where it is not safe to use. */
export function privateCacheDir(base: string = tmpdir()): string | undefined {
  const uid = process.getuid?.();
  const dir = join(base, uid === undefined ? 'rangeget-compile-cache' : `rangeget-compile-cache-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  // Windows: the temporary folder is the user's own.
  if (uid === undefined) return dir;
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

/** The cache folder for this process: undefined when switched off or not safe. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.NODE_DISABLE_COMPILE_CACHE ? undefined : privateCacheDir();
}

/**
 * Turns Node's compile cache on in `dir` where Node has it; the folder Node uses, or undefined.
 * Never throws: a cache only ever changes how fast the CLI starts.
 */
export function enableCompileCache(dir: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const enable = (nodeModule as CompileCache).enableCompileCache;
  if (enable === undefined || dir === undefined || env.NODE_COMPILE_CACHE !== undefined) return undefined;
  const { directory } = enable(dir);
  // Worker threads start with the cache off; they take it from the environment.
  if (directory !== undefined) env.NODE_COMPILE_CACHE = directory;
  return directory;
}

/** A CommonJS bundle, run; `save` keeps V8's code for the next run where that is worth it. */
export interface LoadedBundle {
  exports: unknown;
  /** Whether V8 took the cached code. */
  cached: boolean;
  /** `full`: the run did its work (a download); such a run's code replaces a `short` run's. */
  save(kind: 'full' | 'short'): void;
}

/** Caches of other bundles or Node versions are removed when a new one is written, once this old. */
const STALE_MS = 7 * 24 * 3600 * 1000;

/**
 * Runs the CommonJS bundle `file` (a module with no dynamic `import()`: a vm.Script has no
 * module loader for it), compiled from the cache in `dir` when there is one for this very
 * source and Node.
 *
 * V8 checks only that a cache was made for a source of the same length, so an entry holds the
 * source it was made for, and is used only when that is the source now, byte for byte (a
 * comparison of ~450 KB: microseconds). Hashing the source instead (sha256) loaded node:crypto
 * on every run: 1.4 MiB of peak RSS and ~300 page faults (5 runs each, Node 20).
 */
export function loadBundle(file: string, dir: string | undefined): LoadedBundle {
  const bytes = readFileSync(file);
  const source = bytes.toString('utf8');
  // Names the entry (a rebuilt or another installed bundle gets its own); the content decides.
  const st = statSync(file);
  const key = `${process.version}-${process.arch}-${st.ino}-${st.size}-${Math.trunc(st.mtimeMs)}`;
  const entry = (kind: string) => (dir === undefined ? undefined : join(dir, `bundle-${key}-${kind}.v8`));
  let from: 'full' | 'short' | undefined;
  let cachedData: Buffer | undefined;
  for (const kind of ['full', 'short'] as const) {
    const path = entry(kind);
    if (path === undefined) break;
    cachedData = madeFor(path, bytes);
    if (cachedData !== undefined) {
      from = kind;
      break;
    }
  }
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new Script(wrapped, { filename: file, ...(cachedData ? { cachedData } : {}) });
  const cached = cachedData !== undefined && script.cachedDataRejected !== true;
  const module = { exports: {} as unknown };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, nodeModule.createRequire(file), module, file, dirname(file));
  return {
    exports: module.exports,
    cached,
    save(kind) {
      const path = entry(kind);
      if (path === undefined || (cached && (from === 'full' || kind === 'short'))) return;
      try {
        const temp = `${path}.${process.pid}.tmp`;
        const length = Buffer.alloc(4);
        length.writeUInt32LE(bytes.length);
        writeFileSync(temp, Buffer.concat([length, bytes, script.createCachedData()]), { mode: 0o600, flag: 'wx' });
        renameSync(temp, path);
        if (kind === 'full' && from === 'short') unlinkSync(entry('short')!);
        removeStale(dir!, key);
      } catch {
        // No cache this time.
      }
    },
  };
}

/** The V8 code in the cache entry at `path` when it was made for `source`, byte for byte. */
function madeFor(path: string, source: Buffer): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return undefined; // Not made yet.
  }
  if (data.length < 4 || data.readUInt32LE(0) !== source.length) return undefined;
  const end = 4 + source.length;
  return data.length > end && source.equals(data.subarray(4, end)) ? data.subarray(end) : undefined;
}

function removeStale(dir: string, key: string): void {
  for (const name of readdirSync(dir)) {
    if (!name.startsWith('bundle-') || name.includes(key)) continue;
    const path = join(dir, name);
    if (Date.now() - lstatSync(path).mtimeMs > STALE_MS) unlinkSync(path);
  }
}
