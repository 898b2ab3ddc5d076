/**
 * What a run downloads: the URLs on the command line, then those of the input file (`-i`).
 */
import { readFile } from 'node:fs/promises';
import type { BatchItem } from '../batch.js';
import type { DownloadOptions } from '../options.js';
import { parseInputFile } from '../input-file.js';
import { parseUrl } from '../parse.js';
import { UsageError } from '../primitives/errors.js';
import type { RawOptions } from './flags.js';

/** The text of `-i FILE` (`-` is stdin). */
async function readInput(file: string, stdin: NodeJS.ReadableStream): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`-i: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** What to download: the URLs on the command line, then those of the input file. */
export async function collectItems(urls: string[], raw: RawOptions, stdin: NodeJS.ReadableStream, options: DownloadOptions = {}): Promise<BatchItem[]> {
  if (raw.output !== undefined && (urls.length > 1 || raw.inputFile !== undefined || typeof raw.metalink === 'string')) {
    throw new UsageError('-o names one file, but several URLs were given; use -d for the directory, and out=NAME lines in an input file (-i) for names');
  }
  const items: BatchItem[] = [];
  for (const url of urls) {
    parseUrl(url); // a bad URL is a usage error before anything is sent
    items.push(url);
  }
  if (raw.inputFile !== undefined) {
    const source = raw.inputFile === '-' ? 'stdin' : raw.inputFile;
    const entries = parseInputFile(await readInput(raw.inputFile, stdin), source);
    if (entries.length === 0 && items.length === 0) throw new UsageError(`-i: no URLs in ${source}`);
    for (const e of entries) {
      items.push({
        url: e.url,
        ...(e.output !== undefined ? { output: e.output } : {}),
        ...(e.dir !== undefined ? { dir: e.dir } : {}),
        ...(e.checksum !== undefined ? { checksum: e.checksum } : {}),
      });
    }
  }
  // The files of a metalink come last, each with its own name, mirrors and hashes.
  if (typeof raw.metalink === 'string') {
    const { metalinkItems } = await import('../metalink-run.js');
    items.push(...(await metalinkItems(raw.metalink, options)));
  }
  if (items.length === 0) throw new UsageError('missing URL (usage: rangeget [options] <url...> or -i FILE; see rangeget --help)');
  return items;
}

