// Small helpers for the benchmark harness: statistics, files, hashing, ports, versions.
import { createHash, randomFillSync } from 'node:crypto';
import { accessSync, chmodSync, closeSync, constants, existsSync, fsyncSync, openSync, statSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

export const KiB = 1024;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function max(xs: readonly number[]): number | undefined {
  return xs.length === 0 ? undefined : Math.max(...xs);
}

/** Full path of an executable found on PATH (or the path itself if it contains a slash). */
export function which(cmd: string): string | undefined {
  const candidates = cmd.includes('/')
    ? [cmd]
    : [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin']
        .filter((d) => d !== '')
        .map((d) => path.join(d, cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Writes `size` random bytes to `file` in 8 MiB blocks and returns their sha256 (hex). */
export function writeRandomFile(file: string, size: number): string {
  const block = Buffer.allocUnsafe(8 * MiB);
  const hash = createHash('sha256');
  const fd = openSync(file, 'w', 0o644);
  try {
    let left = size;
    while (left > 0) {
      const n = Math.min(left, block.length);
      const chunk = block.subarray(0, n);
      randomFillSync(chunk);
      let off = 0;
      while (off < n) off += writeSync(fd, chunk, off, n - off);
      hash.update(chunk);
      left -= n;
    }
    // On disk before any run: its writeback would otherwise go on during the first timed runs
    // and slow whichever tool syncs its own file then.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o644); // readable by nginx workers whatever the umask
  return hash.digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  // One buffer, read into again and again: a stream would leave 1 GiB of 4 MiB buffers for
  // this process's garbage collector, which may run while the next tool is being timed.
  const hash = createHash('sha256');
  const handle = await open(file, 'r');
  try {
    for (;;) {
      const { bytesRead } = await handle.read(HASH_BUFFER, 0, HASH_BUFFER.length, null);
      if (bytesRead === 0) break;
      hash.update(HASH_BUFFER.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

const HASH_BUFFER = Buffer.allocUnsafe(4 * MiB);

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** First non-empty output line of `cmd args` (stdout, then stderr), or undefined. */
export function versionLine(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return undefined;
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  return text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
}

/** Environment for the tools: no proxies, so every request stays on 127.0.0.1. */
export function loopbackEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/_proxy$/i.test(k)) delete env[k];
  }
  env['no_proxy'] = '127.0.0.1,localhost';
  env['NO_PROXY'] = '127.0.0.1,localhost';
  return env;
}

export function fmt(n: number | undefined, digits: number): string {
  return n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits);
}

export function shellQuote(a: string): string {
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** How this bench was started, for the report. */
export function commandLine(): string {
  const args = process.argv.slice(2).map(shellQuote).join(' ');
  if (process.env['npm_lifecycle_event'] === 'bench') return `npm run bench${args ? ` -- ${args}` : ''}`;
  return `node dist/bench/bench.js${args ? ` ${args}` : ''}`;
}

/** Short commit of `root`, noting uncommitted changes; undefined outside git. */
export function gitRev(root: string): string | undefined {
  const r = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return undefined;
  const dirty = spawnSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout.trim()}${dirty.status === 0 && dirty.stdout.trim() !== '' ? ' (with uncommitted changes)' : ''}`;
}

/** Whether a process with this id exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `--baseline PATH` as the CLI script to run: PATH itself, or `PATH/bin/rangeget.js` when PATH is
 * a build's folder (a worktree). Throws, saying which, when neither exists.
 */
export function baselineScript(given: string): string {
  const full = path.resolve(given);
  if (!existsSync(full)) throw new Error(`--baseline: ${full} does not exist`);
  if (!statSync(full).isDirectory()) return full;
  const script = path.join(full, 'bin', 'rangeget.js');
  if (!existsSync(script)) throw new Error(`--baseline: ${full} is a folder without bin/rangeget.js`);
  return script;
}

/**
 * The order of `count` variants in round `round` (1-based): the rows of a balanced Latin square
 * (Williams), so that over `count` rounds (twice that for an odd count) each variant runs right
 * after each other one once. A fixed order measured a bias of its own: on this machine's disk,
 * a run that syncs 1 GiB took 1.4 s right after `curl, then sync` (1 GiB just written) and
 * 0.9 s right after a run that synced nothing (the same build, 6 runs each).
 */
export function roundOrder(count: number, round: number): number[] {
  const r = round - 1;
  // 0, 1, n-1, 2, n-2, ... shifted by the round; an odd count runs every other block of rounds backwards.
  const row = Array.from({ length: count }, (_, k) => ((k % 2 === 1 ? (k + 1) / 2 : count - k / 2) + r) % count);
  return count % 2 === 1 && Math.floor(r / count) % 2 === 1 ? row.reverse() : row;
}
