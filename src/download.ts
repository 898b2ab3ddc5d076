/**
 * The public entry points of one download: options in, a {@link Download} of the engine run.
 */
import { Download, MetalinkAnswer } from './engine/download.js';
import type { DownloadResult, Inspection } from './engine/events.js';
import type { SharedConnections } from './http/dispatcher.js';
import { resolveOptions, type DownloadOptions } from './options.js';

/** Run a download; when its URL answers with a metalink, download the file it lists instead. */
async function orMetalink(url: string | URL, options: DownloadOptions, run: (url: string | URL, options: DownloadOptions) => Promise<DownloadResult>): Promise<DownloadResult> {
  try {
    return await run(url, options);
  } catch (err) {
    if (!(err instanceof MetalinkAnswer)) throw err;
    // The XML parser is loaded only when a metalink is met.
    const { metalinkAnswer } = await import('./metalink-run.js');
    const listed = metalinkAnswer(err.url, err.text, options);
    return run(listed.url, listed.options);
  }
}

/**
 * Probe a URL and plan its download without fetching it (the CLI's `--dry-run`).
 * Nothing is written.
 */
export async function inspect(url: string | URL, options: DownloadOptions = {}): Promise<Inspection> {
  return new Download(resolveOptions(url, options)).inspect();
}

/**
 * Download `url` to a file over several connections.
 *
 * Resolves when the file is complete, verified and at its final path. Rejects with a
 * {@link RangegetError} (see its `code`); on abort or failure the `.part` file and the
 * control file stay for a later resume and nothing appears at the final path.
 *
 * @example
 * const result = await download('https://example.com/big.iso', { connections: 16 });
 * console.log(result.path, result.size);
 */
export async function download(url: string | URL, options: DownloadOptions = {}): Promise<DownloadResult> {
  return orMetalink(url, options, (u, o) => new Download(resolveOptions(u, o)).start());
}

/**
 * {@link download} for a batch: on connections kept open for the next items, and without
 * starting a worker thread before the probe (batches are mostly small files, fetched in the
 * main thread; a big one starts its thread when it needs it). Internal.
 */
export async function downloadSharing(url: string | URL, options: DownloadOptions, shared: SharedConnections): Promise<DownloadResult> {
  return orMetalink(url, options, (u, o) => {
    const opts = resolveOptions(u, o);
    return new Download(opts, shared.dispatcher(opts.request.connection), false).start();
  });
}
