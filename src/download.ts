/**
 * The public entry points of one download: options in, a {@link Download} of the engine run.
 */
import { Download, MetalinkAnswer } from './engine/download.js';
import type { DownloadEvent, DownloadResult, Inspection } from './engine/events.js';
import type { SharedConnections } from './http/client.js';
import { resolveOptions, type DownloadOptions } from './options.js';
import { RangegetError, type ErrorCode } from './primitives/errors.js';

/** Failures of a URL's server, or the way to it, after which its first mirror is tried instead. */
const UNREACHABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['EHTTP', 'ENETWORK', 'ETIMEOUT', 'ESERVER']);

/**
 * A mirror may stand in for the URL: credentials given for the URL (`user`, in the URL, an
 * Authorization or Cookie header) would follow it to the mirror's origin, so not with them.
 */
function mayFallBack(url: string | URL, options: DownloadOptions): boolean {
  const headers = Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {});
  const credentials = headers.some(([name]) => /^(authorization|cookie)$/i.test(name));
  return options.user === undefined && !credentials && !/^[a-z]+:\/\/[^/]*@/i.test(String(url));
}

/**
 * Run a download. When its URL answers with a metalink, the file it lists is downloaded
 * instead; when its URL gives no usable answer to the probe and there are mirrors (a
 * metalink's first URL may be down), the first mirror becomes the URL, with a warning.
 */
async function runDownload(url: string | URL, options: DownloadOptions, run: (url: string | URL, options: DownloadOptions) => Promise<DownloadResult>): Promise<DownloadResult> {
  let probed = false;
  const onEvent = (event: DownloadEvent): void => {
    if (event.type === 'probe') probed = true;
    options.onEvent?.(event);
  };
  try {
    return await run(url, { ...options, onEvent });
  } catch (err) {
    if (err instanceof MetalinkAnswer) {
      // The XML parser is loaded only when a metalink is met.
      const { metalinkAnswer } = await import('./metalink-run.js');
      const listed = metalinkAnswer(err.url, err.text, options);
      return runDownload(listed.url, listed.options, run);
    }
    const [next, ...rest] = options.mirrors ?? [];
    const unreachable = err instanceof RangegetError && UNREACHABLE.has(err.code) && !options.signal?.aborted;
    if (probed || next === undefined || !unreachable || !mayFallBack(url, options)) throw err;
    options.onEvent?.({ type: 'warning', message: `${(err as Error).message}; trying the mirror ${String(next)} instead` });
    return runDownload(next, { ...options, mirrors: rest }, run);
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
  return runDownload(url, options, (u, o) => new Download(resolveOptions(u, o)).start());
}

/**
 * {@link download} for a batch: on connections kept open for the next items, and without
 * starting a worker thread before the probe (batches are mostly small files, fetched in the
 * main thread; a big one starts its thread when it needs it). Internal.
 */
export async function downloadSharing(url: string | URL, options: DownloadOptions, shared: SharedConnections): Promise<DownloadResult> {
  return runDownload(url, options, (u, o) => {
    const opts = resolveOptions(u, o);
    return new Download(opts, shared.client(opts.request.connection), false, shared.sizes).start();
  });
}
