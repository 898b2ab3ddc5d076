/**
 * The input file (`-i`): aria2's list format, a URL a line with indented options under it.
 */
import { parseChecksum, parseUrl } from './parse.js';
import { UsageError } from './primitives/errors.js';

/** One entry of an input file (`-i`), with the line it came from. */
export interface InputEntry {
  url: string;
  /** 1-based line of the URL. */
  line: number;
  /** `out=`: save as this name (relative to `dir`). */
  output?: string;
  /** `dir=`: save into this directory instead of the batch's. */
  dir?: string;
  /** `checksum=`: expected digest, e.g. `sha-256=HEX`. */
  checksum?: string;
}

const INPUT_OPTIONS: Record<string, 'output' | 'dir' | 'checksum'> = { out: 'output', dir: 'dir', checksum: 'checksum' };

/**
 * Parse an input file in aria2's format: one URL a line; a line that starts with white space
 * holds an option of the URL above it (`  out=NAME`, `  dir=DIR`, `  checksum=sha-256=HEX`);
 * blank lines and lines whose first non-blank character is `#` are skipped.
 *
 * ```
 * # comment
 * https://example.com/a.iso
 *   out=a-renamed.iso
 * https://example.com/b.iso
 * ```
 *
 * @param source name for messages (the file name, or `-` for stdin)
 * @throws UsageError naming `source:line` for an option before any URL, an unknown option,
 * an empty value, several tab-separated URLs on one line (aria2 mirrors), or a bad URL.
 */
export function parseInputFile(text: string, source: string): InputEntry[] {
  const entries: InputEntry[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const where = `${source}:${line}`;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (/^[ \t]/.test(raw)) {
      const current = entries[entries.length - 1];
      if (!current) throw new UsageError(`${where}: an option line (indented) must follow a URL line`);
      const eq = trimmed.indexOf('=');
      const key = eq > 0 ? trimmed.slice(0, eq).trim() : '';
      const field = Object.hasOwn(INPUT_OPTIONS, key) ? INPUT_OPTIONS[key] : undefined;
      if (field === undefined) {
        const shown = trimmed.length > 40 ? `${trimmed.slice(0, 37)}...` : trimmed;
        throw new UsageError(`${where}: unknown option '${shown}' (accepted: out=NAME, dir=DIR, checksum=ALGO=HEX)`);
      }
      const value = trimmed.slice(eq + 1).trim();
      if (value === '') throw new UsageError(`${where}: ${key}= needs a value`);
      if (field === 'checksum') {
        try {
          parseChecksum(value);
        } catch (err) {
          // In the file's own words: the option is checksum=, whoever reads the message.
          throw new UsageError(`${where}: ${(err as UsageError).cliMessage.replace(/^--checksum: /, 'checksum=: ')}`);
        }
      }
      current[field] = value;
      return;
    }
    if (/\t/.test(trimmed)) {
      throw new UsageError(`${where}: several URLs on one line (aria2 mirrors) are not supported; put each URL on its own line`);
    }
    try {
      parseUrl(trimmed);
    } catch (err) {
      throw new UsageError(`${where}: ${(err as Error).message}`);
    }
    entries.push({ url: trimmed, line });
  });
  return entries;
}
