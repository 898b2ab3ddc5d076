/**
 * The probe: learn the size, range support, validators and name of a remote file before
 * planning. HEAD first; where HEAD fails or says too little, `GET Range: bytes=0-0`.
 */
import type { Dispatcher } from 'undici';
import { HttpError, NetworkError, RangegetError } from './errors.js';
import {
  describeNetworkError,
  discard,
  followRedirects,
  header,
  parseContentRange,
  type FollowedResponse,
  type RequestSettings,
} from './http.js';

/** What the probe learnt about a remote file. */
export interface ProbeResult {
  /** The URL asked for. */
  url: string;
  /** The URL that answered, after redirects; ranges are fetched from here. */
  finalUrl: string;
  /** Size in bytes, or undefined when the server does not say. */
  size: number | undefined;
  /** True when byte ranges work, so several connections and resume are possible. */
  ranges: boolean;
  /** Why ranges are not used, for the user. */
  noRangesReason?: string;
  etag?: string;
  lastModified?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentType?: string;
  /** Which request gave the answer. */
  method: 'HEAD' | 'GET';
}

type Headers = FollowedResponse['headers'];

function validators(headers: Headers): Pick<ProbeResult, 'etag' | 'lastModified' | 'contentDisposition' | 'contentEncoding' | 'contentType'> {
  const out: Pick<ProbeResult, 'etag' | 'lastModified' | 'contentDisposition' | 'contentEncoding' | 'contentType'> = {};
  const etag = header(headers, 'etag');
  const lastModified = header(headers, 'last-modified');
  const disposition = header(headers, 'content-disposition');
  const encoding = header(headers, 'content-encoding');
  const type = header(headers, 'content-type');
  if (etag) out.etag = etag;
  if (lastModified) out.lastModified = lastModified;
  if (disposition) out.contentDisposition = disposition;
  if (encoding && encoding !== 'identity') out.contentEncoding = encoding;
  if (type) out.contentType = type;
  return out;
}

function contentLength(headers: Headers): number | undefined {
  const raw = header(headers, 'content-length');
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

async function send(
  dispatcher: Dispatcher,
  url: URL,
  method: 'HEAD' | 'GET',
  settings: RequestSettings,
  signal: AbortSignal | undefined,
  extra?: Record<string, string>,
): Promise<FollowedResponse> {
  try {
    return await followRedirects(dispatcher, url, { method, headers: extra, signal }, settings);
  } catch (err) {
    if (err instanceof RangegetError) throw err;
    if (signal?.aborted) throw err;
    throw new NetworkError(`cannot reach ${url.href}: ${describeNetworkError(err)}`, { cause: err });
  }
}

/**
 * Probe a URL. Throws {@link HttpError} when the server refuses the file,
 * {@link NetworkError} when it cannot be reached, and a redirect error for bad redirects.
 */
export async function probe(
  dispatcher: Dispatcher,
  url: URL,
  settings: RequestSettings,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const head = await send(dispatcher, url, 'HEAD', settings, signal);
  discard(head.body);
  const headSize = contentLength(head.headers);
  const acceptRanges = header(head.headers, 'accept-ranges')?.toLowerCase();
  const headOk = head.statusCode >= 200 && head.statusCode < 300;

  if (headOk && headSize !== undefined && acceptRanges === 'none') {
    return {
      url: url.href,
      finalUrl: head.url.href,
      size: headSize,
      ranges: false,
      noRangesReason: 'the server says it does not accept ranges (Accept-Ranges: none)',
      ...validators(head.headers),
      method: 'HEAD',
    };
  }
  if (headOk && headSize === 0) {
    return { url: url.href, finalUrl: head.url.href, size: 0, ranges: false, ...validators(head.headers), method: 'HEAD' };
  }
  if (headOk && headSize !== undefined && acceptRanges === 'bytes') {
    return { url: url.href, finalUrl: head.url.href, size: headSize, ranges: true, ...validators(head.headers), method: 'HEAD' };
  }

  // HEAD refused, without a length, or silent about ranges: ask for the first byte.
  const from = headOk ? head.url : url;
  const get = await send(dispatcher, from, 'GET', settings, signal, { range: 'bytes=0-0' });
  const base = { url: url.href, finalUrl: get.url.href, ...validators(get.headers), method: 'GET' as const };
  try {
    if (get.statusCode === 206) {
      const range = parseContentRange(header(get.headers, 'content-range'));
      if (range && !('unsatisfied' in range) && range.start === 0 && range.total !== undefined) {
        return { ...base, size: range.total, ranges: true };
      }
      return {
        ...base,
        size: undefined,
        ranges: false,
        noRangesReason: 'the server does not give the file size',
      };
    }
    if (get.statusCode === 416) {
      // An empty file cannot satisfy bytes=0-0.
      const range = parseContentRange(header(get.headers, 'content-range'));
      const total = range && 'unsatisfied' in range ? range.total : headOk ? headSize : undefined;
      if (total === 0) return { ...base, size: 0, ranges: false };
      throw new HttpError(416, get.url.href, `server answered HTTP 416 (range not satisfiable) to bytes=0-0 for ${get.url.href}`);
    }
    if (get.statusCode >= 200 && get.statusCode < 300) {
      const size = contentLength(get.headers);
      return {
        ...base,
        size,
        ranges: false,
        noRangesReason:
          size === undefined
            ? 'the server supports neither ranges nor a known length'
            : 'the server ignores range requests',
      };
    }
    throw new HttpError(get.statusCode, get.url.href);
  } finally {
    discard(get.body);
  }
}
