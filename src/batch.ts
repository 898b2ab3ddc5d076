/**
 * Several downloads at once: `downloadMany()` runs a list of URLs with at most `jobs` files
 * in flight, each with its own connections. One failure never stops the others; the result
 * is a typed list with one entry per item, in the order given.
 */
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import type { LimitFunction } from 'p-limit';
import { RateLimiter } from './engine/rate.js';
import { downloadSharing, inspect } from './download.js';
import { SharedConnections } from './http/client.js';
import { AbortError, FileError, InternalError, RangegetError, UsageError, ExitCode } from './primitives/errors.js';
import type { DownloadEvent, DownloadResult, Inspection, Progress } from './engine/events.js';
import { DEFAULT_JOBS, DEFAULT_MAX_CONNECTIONS, MAX_CONNECTIONS } from './constants.js';
import type { DownloadOptions } from './options.js';

/** Options of one item that may differ from the batch's (its output name, checksum, headers ...). */
export type BatchItemOptions = Omit<DownloadOptions, 'signal' | 'onEvent' | 'onProgress'>;

/** One download of a batch: a URL, or a URL with its own options (they replace the batch's, field by field). */
export type BatchItem = string | URL | ({ url: string | URL } & BatchItemOptions);

/** Options of {@link downloadMany}: every {@link DownloadOptions} field but `output`, for all items. */
export interface BatchOptions extends Omit<DownloadOptions, 'output' | 'onEvent' | 'onProgress'> {
  /** Files downloaded at once, 1 to 64; each has its own `connections`. Default 2. */
  jobs?: number;
  /** Every event of every item, with the item's index in `items`. */
  onEvent?: (event: DownloadEvent, index: number) => void;
  /** Progress of every item, with the item's index in `items`. */
  onProgress?: (progress: Progress, index: number) => void;
  /** Called once per item when it has finished or failed, before the batch is over. */
  onItemEnd?: (result: BatchItemResult) => void;
}

/** The outcome of one item. `url` is the URL as given, without credentials. */
export type BatchItemResult =
  | { index: number; url: string; ok: true; result: DownloadResult }
  | { index: number; url: string; ok: false; error: RangegetError };

/** The outcome of one item of {@link inspectMany}. */
export type InspectItemResult =
  | { index: number; url: string; ok: true; inspection: Inspection }
  | { index: number; url: string; ok: false; error: RangegetError };

export { DEFAULT_JOBS } from './constants.js';

/** A URL for results and messages: user name and password removed. */
export function publicUrl(url: string | URL): string {
  try {
    const clean = new URL(typeof url === 'string' ? url.trim() : url.href);
    clean.username = '';
    clean.password = '';
    return clean.href;
  } catch {
    // Not a URL: still never echo what looks like a password.
    return String(url).replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1***@');
  }
}

function toRangegetError(err: unknown): RangegetError {
  if (err instanceof RangegetError) return err;
  return new InternalError(`unexpected failure: ${(err as Error | undefined)?.message ?? String(err)}`, { cause: err });
}

function split(item: BatchItem): { url: string | URL; options: BatchItemOptions } {
  if (typeof item === 'string' || item instanceof URL) return { url: item, options: {} };
  const { url, ...options } = item;
  return { url, options };
}

/** p-limit, loaded by the first batch (a single download does not need it). */
async function jobLimit(jobs: number): Promise<LimitFunction> {
  const { default: pLimit } = await import('p-limit');
  return pLimit(jobs);
}

function checkJobs(jobs: number | undefined): number {
  if (jobs === undefined) return DEFAULT_JOBS;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > MAX_CONNECTIONS) {
    throw new UsageError(`jobs: ${jobs} must be an integer from 1 to ${MAX_CONNECTIONS}`);
  }
  return jobs;
}

/**
 * The exit code the CLI gives a finished batch: 0 when every item succeeded; 130 (or the
 * abort's own code) when it was interrupted; else 8 ({@link ExitCode.batch}), whatever the
 * failures were: the summary names each one.
 */
export function batchExitCode(results: ReadonlyArray<{ ok: boolean; error?: RangegetError }>): number {
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return ExitCode.ok;
  if (failed.some((r) => r.error?.code === 'EABORTED')) return ExitCode.sigint;
  return ExitCode.batch;
}

/**
 * Download several files, at most `jobs` at once, each over its own `connections`.
 *
 * Resolves with one result per item, in the order of `items`, once every item has finished
 * or failed; it never rejects because an item failed (only for invalid batch options, such
 * as `jobs: 0`). An invalid URL or per-item option fails that item only.
 *
 * Aborting `signal` stops every running download (their `.part` and control files are kept
 * for a resume) and fails the items not started yet; all of them get an `EABORTED` error.
 *
 * Two items of one batch never write the same file: when an item's output path (known
 * after its probe, before its `.part` file is opened) is already taken by another item of
 * the batch, the item that probed later fails with `EFILE` and the other is unharmed.
 *
 * @example
 * const results = await downloadMany(
 *   ['https://example.com/a.iso', { url: 'https://example.com/b.iso', output: 'b-copy.iso' }],
 *   { jobs: 2, connections: 8, dir: 'downloads', onEvent: (e, i) => console.log(i, e.type) },
 * );
 * for (const r of results) console.log(r.url, r.ok ? r.result.path : r.error.message);
 */
export async function downloadMany(items: ReadonlyArray<BatchItem>, options: BatchOptions = {}): Promise<BatchItemResult[]> {
  const { jobs: rawJobs, onEvent, onProgress, onItemEnd, signal: given, ...common } = options;
  const jobs = checkJobs(rawJobs);
  if ((common as DownloadOptions).output !== undefined) {
    throw new UsageError('output: give each item its own output name ({ url, output }); a batch has no common output file');
  }
  const limit = await jobLimit(jobs);
  // One --max-speed for the whole batch, as for one download: all files share the limit.
  if (typeof common.maxSpeed === 'number') common.maxSpeed = new RateLimiter(common.maxSpeed);
  /** Output path → index of the item that claimed it first. */
  const claims = new Map<string, number>();
  const { signal, release } = batchSignal(given);
  // Probes and small files reuse connections from one item to the next.
  const connections = new SharedConnections(jobs * ((typeof common.connections === 'number' ? common.connections : (common.maxConnections ?? DEFAULT_MAX_CONNECTIONS)) + 1));

  const run = async (item: BatchItem, index: number): Promise<BatchItemResult> => {
    const { url, options: own } = split(item);
    const shown = publicUrl(url);
    const end = (result: BatchItemResult): BatchItemResult => {
      onItemEnd?.(result);
      return result;
    };
    if (signal?.aborted) return end({ index, url: shown, ok: false, error: new AbortError() });
    try {
      const itemOptions: DownloadOptions = {
        ...common,
        ...own,
        ...(signal ? { signal } : {}),
        onEvent: (event) => {
          if (event.type === 'probe') {
            // The probe event comes before the download opens or truncates any file, so a
            // throw here fails this item without touching the file of the item that owns it.
            const key = path.resolve(event.path);
            const owner = claims.get(key);
            if (owner !== undefined && owner !== index) {
              throw new FileError(
                `${event.path} is already the output of item ${owner + 1} of this batch; give one of them another name`,
              );
            }
            claims.set(key, index);
          }
          onEvent?.(event, index);
        },
        ...(onProgress ? { onProgress: (p: Progress) => onProgress(p, index) } : {}),
      };
      const result = await downloadSharing(url, itemOptions, connections);
      return end({ index, url: shown, ok: true, result });
    } catch (err) {
      return end({ index, url: shown, ok: false, error: toRangegetError(err) });
    }
  };

  try {
    return await Promise.all(items.map((item, index) => limit(run, item, index)));
  } finally {
    release();
    await connections.close();
  }
}

/**
 * The signal the items of a batch listen to. Every running item adds listeners to it, more
 * than Node's default of 10 with many jobs (a false "memory leak" warning on stderr), so the
 * items get a signal of their own with no limit, and the caller's gets one listener.
 */
function batchSignal(given: AbortSignal | undefined): { signal: AbortSignal | undefined; release: () => void } {
  if (!given) return { signal: undefined, release: () => undefined };
  const inner = new AbortController();
  setMaxListeners(0, inner.signal);
  const forward = (): void => inner.abort(given.reason);
  if (given.aborted) forward();
  else given.addEventListener('abort', forward, { once: true });
  return { signal: inner.signal, release: () => given.removeEventListener('abort', forward) };
}

/**
 * Probe and plan several downloads without fetching them (the CLI's `--dry-run` with several
 * URLs), at most `jobs` at once. Never rejects for one item; results are in the order given.
 */
export async function inspectMany(
  items: ReadonlyArray<BatchItem>,
  options: Omit<BatchOptions, 'onEvent' | 'onProgress' | 'onItemEnd'> = {},
): Promise<InspectItemResult[]> {
  const { jobs: rawJobs, signal: given, ...rest } = options;
  const limit = await jobLimit(checkJobs(rawJobs));
  const { signal, release } = batchSignal(given);
  const shared = { ...rest, ...(signal ? { signal } : {}) };
  const run = async (item: BatchItem, index: number): Promise<InspectItemResult> => {
    const { url, options: own } = split(item);
    const shown = publicUrl(url);
    if (shared.signal?.aborted) return { index, url: shown, ok: false, error: new AbortError() };
    try {
      return { index, url: shown, ok: true, inspection: await inspect(url, { ...shared, ...own }) };
    } catch (err) {
      // An abort surfaces as whatever the HTTP client threw at that moment.
      const error = shared.signal?.aborted ? new AbortError() : toRangegetError(err);
      return { index, url: shown, ok: false, error };
    }
  };
  try {
    return await Promise.all(items.map((item, index) => limit(run, item, index)));
  } finally {
    release();
  }
}

/**
 * Download the files a Metalink 4 document lists (RFC 5854, `.meta4`; the CLI's `-M`), a
 * path or an http(s) URL, as a batch: each from its URLs by priority (the others are its mirrors), checked against its
 * whole-file hash and, piece by piece as they are written, its piece hashes.
 *
 * @throws UsageError when the document cannot be read or used (naming `file:line`).
 * @example
 * const results = await downloadMetalink('ubuntu.meta4', { dir: 'downloads', connections: 8 });
 */
export async function downloadMetalink(file: string, options: BatchOptions = {}): Promise<BatchItemResult[]> {
  const { metalinkItems } = await import('./metalink-run.js');
  return downloadMany(await metalinkItems(file, options), options);
}
