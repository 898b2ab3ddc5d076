/**
 * The probe: learn the size, range support, validators and name of a remote file before
 * planning. HEAD first; where HEAD fails or says too little, `GET Range: bytes=0-0`.
 * A batch asks with the GET straight away: undici closes the connection after every HEAD
 * (its guard against servers that send a body anyway), so a HEAD per item would open a
 * connection per item; the GET's connection serves the next item. A batch's GET that will
 * keep a whole file (not with `--continue` or `--skip-existing`, whose files are mostly there,
 * nor with piece hashes, checked range by range) asks for its first {@link WHOLE_PROBE_MAX} bytes: a small file comes whole with the probe's
 * answer and is written from it, one request instead of two.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpClient, ResponseBody } from './client.js';
import { HttpError, RangegetError } from '../primitives/errors.js';
import { contentLength, header, parseContentRange } from './headers.js';
import { connectionFailure, statusFailure } from './failures.js';
import { serverDigest, WANT_REPR_DIGEST, type ServerDigest } from './digest-fields.js';
import { discard, followRedirects, type FollowedResponse, type RequestSettings } from './request.js';
import { AttemptFailure, firstProbeDelay, retryDelay, type RetrySettings } from './retry-policy.js';
import type { HttpTrace } from './trace.js';

/** What the probe learnt about a remote file. */
export interface ProbeResult {
  /** The URL asked for. */
  url: string;
  /** The URL that answered, after redirects; ranges are fetched from here. */
  finalUrl: string;
  /** Size in bytes, or undefined when the server does not say. */
  size: number | undefined;
  /** True when byte ranges work, so several connections and resume are possible. */
  acceptsRanges: boolean;
  /** Why ranges are not used, for the user. */
  noRangesReason?: string;
  etag?: string;
  lastModified?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentType?: string;
  /** Which request gave the answer. */
  method: 'HEAD' | 'GET';
  /** The whole file's digest the server published (Repr-Digest or Digest), when asked for. */
  digest?: ServerDigest;
  /**
   * The server answered `304 Not Modified` to the probe's `If-Modified-Since` (`-N`): the file
   * is not newer than the date sent. Size and ranges are then unknown.
   */
  notModified?: true;
  /**
   * Ms from sending the probe to the head of its answer, connection set-up and redirects
   * included: on a new connection about two round trips (the scheduler's first estimate).
   */
  elapsed?: number;
  /**
   * The whole file, on its way: the probe's GET got a `200` with the body (a server without
   * ranges), or a batch's GET a `206` with every byte (a small file), and the caller asked to
   * keep it. The caller must read or {@link discard} it.
   */
  body?: ResponseBody;
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

async function send(
  client: HttpClient,
  url: URL,
  method: 'HEAD' | 'GET',
  settings: RequestSettings,
  signal: AbortSignal | undefined,
  extra?: Record<string, string>,
  onTrace?: (trace: HttpTrace) => void,
): Promise<FollowedResponse> {
  try {
    return await followRedirects(client, url, { method, headers: extra, signal, ...(onTrace ? { onTrace } : {}) }, settings);
  } catch (err) {
    if (err instanceof RangegetError || signal?.aborted) throw err;
    throw connectionFailure(err, settings.connection.stallTimeout, `cannot reach ${url.href}: `);
  }
}

/**
 * Bytes a batch's probe asks for (`GET Range: bytes=0-262143`) when it keeps a whole file: a
 * file this small comes whole with the answer. Why this size: a new connection carries about
 * 14, 28, 57, 113 KiB in its first round trips (slow start from ten segments), so 256 KiB
 * takes about five round trips on one connection, the same as the probe's round trip and
 * then 64 KiB pieces on new connections (a handshake, then three); a bigger file is quicker
 * in pieces on a long path (1 MiB in one range: 2.03 s against 1.48 s at 200 ms, plan.ts).
 * A bigger file's answer is read to its end (at most this much) before its connection serves
 * again: see {@link asksWhole} for when a batch asks.
 */
export const WHOLE_PROBE_MAX = 256 * 1024;

/**
 * Whether a batch's probe asks for a small file's every byte, given the size the last probe to
 * the same origin found (undefined: none yet). A list's files tend to be alike: after a bigger
 * file, the probe asks for one byte, since a bigger file's answer is read to its end before
 * its connection takes a range (in a batch of 8 and 32 MiB files at 200 ms with 0.5 % loss,
 * asking every time took 4.44 s against 4.18 s; 200 files of 256 KiB took 6.12 s against 9.13 s).
 */
export function asksWhole(lastSize: number | undefined): boolean {
  return lastSize === undefined || lastSize <= WHOLE_PROBE_MAX;
}

/** The probe's first request: `HEAD`, or straight to `GET Range: bytes=0-0`. */
export type ProbeMethod = 'HEAD' | 'GET';

/** Retries of the probe (the download's retry settings, a callback per retry) and its trace. */
export interface ProbeRetry extends RetrySettings {
  onRetry?: (info: { attempt: number; delay: number; reason: string }) => void;
  /** Every request and response of the probe (`-v`). */
  onTrace?: (trace: HttpTrace) => void;
  /** The download's first probe: nothing fetched yet, so an unreachable server fails fast. */
  first?: boolean;
  /** Send `If-Modified-Since` with this HTTP-date (`-N`); a `304` then answers the probe. */
  ifModifiedSince?: string;
  /** Ask for the server's digest of the file (`Want-Repr-Digest`) and read it from the answer. */
  serverDigest?: boolean;
  /** A GET first that keeps a whole file asks for {@link WHOLE_PROBE_MAX} bytes: a small file is the answer (a batch's). */
  whole?: boolean;
}

/**
 * Probe a URL. Throws {@link HttpError} when the server refuses the file,
 * {@link NetworkError} or {@link TimeoutError} when it cannot be reached, and a redirect
 * error for bad redirects.
 *
 * With `retry`, network failures, timeouts and 408/425/429/5xx answers are tried again
 * (at most `retry.retries` times, with backoff, honouring Retry-After), as ranges are;
 * without it, the first failure is final. `first` is the first request (see the module's
 * header for why a batch starts with the GET).
 */
export async function probe(
  client: HttpClient,
  url: URL,
  settings: RequestSettings,
  signal?: AbortSignal,
  retry?: ProbeRetry,
  first: ProbeMethod = 'HEAD',
  keepBody = false,
): Promise<ProbeResult> {
  for (let failures = 1; ; failures++) {
    try {
      const sent = performance.now();
      const result = await probeOnce(client, url, settings, signal, { ...retry }, first, keepBody);
      return { ...result, elapsed: performance.now() - sent };
    } catch (err) {
      if (!(err instanceof AttemptFailure)) throw err;
      const delay = retry && !signal?.aborted ? (retry.first ? firstProbeDelay : retryDelay)(err, failures, retry) : undefined;
      if (delay === undefined) throw err.error;
      retry?.onRetry?.({ attempt: failures, delay, reason: err.message });
      await sleep(delay, undefined, signal ? { signal } : undefined);
    }
  }
}

/** The server's digest in an answer, when asked for (`digest-fields.ts` says which answers count). */
function digestOf(response: FollowedResponse, wanted: boolean | undefined, head: boolean): Pick<ProbeResult, 'digest'> {
  const digest = wanted ? serverDigest(response.headers, response.statusCode, head) : undefined;
  return digest ? { digest } : {};
}

/** The answer from a HEAD alone, when it says enough. */
function fromHead(url: URL, head: FollowedResponse, wanted: boolean | undefined): ProbeResult | undefined {
  const headSize = contentLength(head.headers);
  const acceptRanges = header(head.headers, 'accept-ranges')?.toLowerCase();
  if (head.statusCode < 200 || head.statusCode >= 300 || headSize === undefined) return undefined;
  const base = { url: url.href, finalUrl: head.url.href, size: headSize, ...validators(head.headers), method: 'HEAD' as const, ...digestOf(head, wanted, true) };
  if (acceptRanges === 'none') {
    return { ...base, acceptsRanges: false, noRangesReason: 'the server says it does not accept ranges (Accept-Ranges: none)' };
  }
  if (headSize === 0) return { ...base, acceptsRanges: false };
  if (acceptRanges === 'bytes') return { ...base, acceptsRanges: true };
  return undefined;
}

/** The answer when a conditional probe got `304 Not Modified` (RFC 9110 §15.4.5: no body, no size). */
function notModified(url: URL, res: FollowedResponse, condition: object | undefined, method: ProbeMethod): ProbeResult | undefined {
  if (res.statusCode !== 304 || condition === undefined) return undefined;
  return { url: url.href, finalUrl: res.url.href, size: undefined, acceptsRanges: false, ...validators(res.headers), method, notModified: true };
}

async function probeOnce(
  client: HttpClient,
  url: URL,
  settings: RequestSettings,
  signal: AbortSignal | undefined,
  asked: Pick<ProbeRetry, 'onTrace' | 'ifModifiedSince' | 'serverDigest' | 'whole'>,
  first: ProbeMethod,
  keepBody: boolean,
): Promise<ProbeResult> {
  const { onTrace, ifModifiedSince, serverDigest: wanted, whole: small } = asked;
  const condition = ifModifiedSince !== undefined ? { 'if-modified-since': ifModifiedSince } : undefined;
  // A Want-Repr-Digest given with -H is sent as it is.
  const want: Record<string, string> = wanted && settings.headers['want-repr-digest'] === undefined ? { 'want-repr-digest': WANT_REPR_DIGEST } : {};
  let head: FollowedResponse | undefined;
  if (first === 'HEAD') {
    head = await send(client, url, 'HEAD', settings, signal, { ...want, ...condition }, onTrace);
    discard(head);
    const answer = fromHead(url, head, wanted) ?? notModified(url, head, condition, 'HEAD');
    if (answer) return answer;
  }
  const headOk = head !== undefined && head.statusCode >= 200 && head.statusCode < 300;
  const headSize = head && headOk ? contentLength(head.headers) : undefined;

  // HEAD refused, without a length, or silent about ranges: ask for the first byte. A batch's
  // GET that keeps a whole file asks for as much as a small file is (WHOLE_PROBE_MAX).
  const from = head && headOk ? head.url : url;
  const whole = first === 'GET' && keepBody && small === true;
  const get = await send(client, from, 'GET', settings, signal, { ...want, range: `bytes=0-${whole ? WHOLE_PROBE_MAX - 1 : 0}`, ...condition }, onTrace);
  // A digest the HEAD gave still counts when the GET gives none.
  const digest = { ...(head && headOk ? digestOf(head, wanted, true) : {}), ...digestOf(get, wanted, false) };
  const base = { url: url.href, finalUrl: get.url.href, ...validators(get.headers), method: 'GET' as const, ...digest };
  let kept = false;
  try {
    const unchanged = notModified(url, get, condition, 'GET');
    if (unchanged) return unchanged;
    if (get.statusCode === 206) {
      const range = parseContentRange(header(get.headers, 'content-range'));
      if (range && !('unsatisfied' in range) && range.start === 0 && range.total !== undefined) {
        // The whole file, asked for as a small one's first bytes: the download (its length is
        // checked as it is written, first-body.ts).
        kept = whole && range.end === range.total;
        return { ...base, size: range.total, acceptsRanges: true, ...(kept ? { body: get.body } : {}) };
      }
      return {
        ...base,
        size: undefined,
        acceptsRanges: false,
        noRangesReason: 'the server does not give the file size',
      };
    }
    if (get.statusCode === 416) {
      // An empty file cannot satisfy bytes=0-0.
      const range = parseContentRange(header(get.headers, 'content-range'));
      const total = range && 'unsatisfied' in range ? range.total : headSize;
      if (total === 0) return { ...base, size: 0, acceptsRanges: false };
      if (!whole) throw new HttpError(416, get.url.href, `server answered HTTP 416 (range not satisfiable) to bytes=0-0 for ${get.url.href}`);
    } else if (get.statusCode >= 200 && get.statusCode < 300) {
      // A chunked 200 has no length; the HEAD may have given one.
      const size = contentLength(get.headers) ?? headSize;
      // The whole file is on its way: a second GET would fetch it all again.
      kept = keepBody && get.statusCode === 200 && size !== undefined && size > 0;
      // A 200 to a range that covers the whole file says nothing of ranges (RFC 9110 §14.2
      // lets a server send the whole file then): fetched in one answer, without a warning.
      const covered = whole && size !== undefined && size <= WHOLE_PROBE_MAX;
      return {
        ...base,
        size,
        acceptsRanges: false,
        ...(covered
          ? {}
          : { noRangesReason: size === undefined ? 'the server supports neither ranges nor a known length' : 'the server ignores range requests' }),
        ...(kept ? { body: get.body } : {}),
      };
    } else {
      throw statusFailure(get.statusCode, get.url.href, get.headers);
    }
  } finally {
    // A kept answer that breaks off before the caller reads it is the caller's to see (its
    // iterator throws; first-body.ts), not an uncaught error. A bigger file's first bytes are
    // read rather than cut off: the connection serves again.
    if (kept) get.body.on('error', () => undefined);
    else if (whole && get.statusCode === 206) get.body.dump({ limit: WHOLE_PROBE_MAX }).catch(() => undefined);
    else discard(get);
  }
  // A 416 to the first 256 KiB of a smaller file, which RFC 9110 §14.1.2 makes satisfiable (its
  // first byte exists): a server that reads it otherwise is asked for the first byte, as a HEAD's
  // download would be.
  return probeOnce(client, url, settings, signal, { ...asked, whole: false }, first, keepBody);
}
