/**
 * Metalinks as downloads: the files of a `.meta4` as batch items (the best URL, the others as
 * mirrors, the whole-file hash as checksum, the piece hashes), and the one file of a metalink
 * a URL answered with (`downloadMetalink()` is in batch.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseMetalink, type MetalinkFile } from './metalink.js';
import type { DownloadOptions } from './options.js';
import { UsageError } from './primitives/errors.js';

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

/** The files of the metalink at `file` (a path), as batch items. Throws {@link UsageError} naming `file:line`. */
export async function metalinkItems(file: string, dir: string | undefined): Promise<Array<{ url: string } & DownloadOptions>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--metalink: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseMetalink(text, file).map((f) => metalinkOptions(f, dir));
}

/**
 * What to download when `url` answered with a metalink: its one file, by the metalink's URLs
 * and hashes, under the caller's options (their `output` and `checksum` win).
 */
export function metalinkAnswer(url: string, text: string, options: DownloadOptions): { url: string; options: DownloadOptions } {
  const files = parseMetalink(text, url);
  if (files.length !== 1) {
    throw new UsageError(`${url} is a metalink of ${files.length} files; save it with --no-metalink -o FILE.meta4, then download them all with --metalink FILE.meta4`);
  }
  const { url: first, ...own } = metalinkOptions(files[0]!, options.dir);
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { url: first, options: { ...own, ...given, metalink: false } };
}
