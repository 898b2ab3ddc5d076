/**
 * `.netrc`: credentials where curl, wget and aria2c users keep them. {@link parseNetrc} and
 * {@link netrcLogin} are pure; {@link readNetrc} reads the file and says when others can
 * read it.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './primitives/errors.js';

/** One `machine` entry (`machine` undefined: the `default` entry). */
export interface NetrcEntry {
  machine?: string;
  login?: string;
  password?: string;
}

/**
 * The entries of a `.netrc` text: `machine NAME`, `default`, then `login`, `password` (and
 * `account`, ignored); a `macdef` runs to the next blank line; `#` starts a comment at the
 * start of a token. Tokens may be double-quoted, as curl reads them.
 */
export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  let current: NetrcEntry | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const tokens = [...lines[i]!.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!));
    for (let t = 0; t < tokens.length; t++) {
      const token = tokens[t]!;
      if (token.startsWith('#')) break;
      if (token === 'macdef') {
        while (i + 1 < lines.length && lines[i + 1]!.trim() !== '') i++;
        break;
      }
      if (token === 'default') {
        current = {};
        entries.push(current);
      } else if (token === 'machine' || token === 'login' || token === 'password' || token === 'account') {
        const value = tokens[++t];
        if (value === undefined) break;
        if (token === 'machine') {
          current = { machine: value };
          entries.push(current);
        } else if (current && token !== 'account') current[token] = value;
      }
    }
  }
  return entries;
}

/**
 * The login for `host` (and `user`, when the URL names one): its `machine` entry, else the
 * `default` entry, as curl and wget choose. Undefined when none has a login and password.
 */
export function netrcLogin(entries: readonly NetrcEntry[], host: string, user?: string): { user: string; password: string } | undefined {
  const fits = (e: NetrcEntry): boolean => e.login !== undefined && e.password !== undefined && (user === undefined || e.login === user);
  const entry = entries.find((e) => e.machine?.toLowerCase() === host.toLowerCase() && fits(e)) ?? entries.find((e) => e.machine === undefined && fits(e));
  return entry ? { user: entry.login!, password: entry.password! } : undefined;
}

/** The file `netrc: true` reads: `$NETRC`, else `~/.netrc`. */
export function defaultNetrcPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.NETRC || join(env.HOME || homedir(), '.netrc');
}

/**
 * Read a `.netrc` file. `required`: a missing file is a {@link UsageError} (a file the user
 * named); otherwise it is no entries. `warn` hears when others may read the file.
 */
export function readNetrc(path: string, required: boolean, warn: (message: string) => void): NetrcEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!required && (code === 'ENOENT' || code === 'ENOTDIR')) return [];
    throw new UsageError(`--netrc-file: cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const mode = statSync(path).mode;
  if (mode & 0o077) warn(`${path} can be read by other users; make it private: chmod 600 ${path}`);
  return parseNetrc(text);
}
