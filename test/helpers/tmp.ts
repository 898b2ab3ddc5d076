/**
 * Small test utilities: temporary directories removed after the test, and bounded waiting
 * for a condition (never a sleep for luck: the wait fails the test when time runs out).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The part of node:test's TestContext these helpers need. */
export interface AfterContext {
  after(fn: () => unknown): void;
}

/** A fresh directory under the system temp dir, removed (recursively) when the test ends. */
export async function tempDir(t: AfterContext, prefix = 'rangeget-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Names in a directory, sorted. */
export async function list(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/**
 * Wait until `check` returns a value other than undefined/false, checking every `every` ms.
 * Rejects with a message naming `what` after `timeout` ms.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeout = 10_000,
  every = 10,
): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, every));
  }
}

/** Reject with a clear message if `promise` does not settle within `ms`; the timer is always cleared. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
