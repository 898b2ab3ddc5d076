/**
 * Metalinks as downloads: the files of a `.meta4` as batch items (the best URL, the others as
 * mirrors, the whole-file hash as checksum, the piece hashes), and the one file of a metalink
 * a URL answered with (`downloadMetalink()` is in batch.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createClient } from './http/client.js';
import { fetchDocument } from './http/document.js';
import { parseMetalink, type MetalinkFile } from './metalink.js';
import { resolveOptions, type DownloadOptions } from './options.js';
import { UsageError } from './primitives/errors.js';

/** What fetching a metalink takes from a download's options (a batch's reports differ: left out). */
type FetchOptions = Omit<DownloadOptions, 'onProgress' | 'onEvent'>;

/** The options a metalink gives one of its files; `dir`: where the batch saves. */
export function metalinkOptions(file: MetalinkFile, dir: string | undefined): { url: string } & DownloadOptions {
  const [first, ...rest] = file.urls;
  // A name with folders (RFC 5854 allows `dir/file`) is saved in those folders under `dir`.
  const folder = path.dirname(file.name);
  return {
    url: first!.url,
    output: path.basename(file.name),
    ...(folder !== '.' ? { dir: path.join(dir ?? '.', folder) } : {}),
    ...(rest.length > 0 ? { mirrors: rest.map((u) => u.url) } : {}),
    ...(file.hash ? { checksum: file.hash } : {}),
    ...(file.pieces ? { pieces: file.pieces } : {}),
    metalink: false,
  };
}

/**
 * The files of the metalink at `file` (a path, or an http(s) URL fetched with `options`' headers,
 * TLS and proxy settings), as batch items. Throws {@link UsageError} naming `file:line`.
 */
export async function metalinkItems(file: string, options: FetchOptions = {}): Promise<Array<{ url: string } & DownloadOptions>> {
  const text = /^https?:\/\//i.test(file) ? await fetchMetalink(file, options) : await readMetalink(file);
  return parseMetalink(text, file).map((f) => metalinkOptions(f, options.dir));
}

async function readMetalink(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--metalink: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A metalink served at `url`, read whole (a size limit: http/document.ts). */
async function fetchMetalink(url: string, options: FetchOptions): Promise<string> {
  const { request, signal, url: parsed } = resolveOptions(url, { ...options, output: undefined });
  const client = createClient(request.connection, 1);
  try {
    return await fetchDocument(client, parsed, request, signal);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/**
 * What to download when `url` answered with a metalink: its one file, by the metalink's URLs
 * and hashes, under the caller's options (their `output` and `checksum` win).
 */
export function metalinkAnswer(url: string, text: string, options: DownloadOptions): { url: string; options: DownloadOptions } {
  const files = parseMetalink(text, url);
  if (files.length !== 1) {
    throw new UsageError(`${url} is a metalink of ${files.length} files; download them all with --metalink ${url}`);
  }
  const { url: first, ...own } = metalinkOptions(files[0]!, options.dir);
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { url: first, options: { ...own, ...given, metalink: false } };
}
