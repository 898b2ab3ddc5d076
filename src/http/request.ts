/**
 * Requests: the headers every request of a download carries (credentials kept to their
 * origin), redirects followed by hand, and bodies dropped without holding a connection.
 */
import { RedirectError } from '../primitives/errors.js';
import { cookieHeader, type StoredCookie } from './cookies.js';
import type { HttpClient, ResponseBody } from './client.js';
import type { ConnectionSettings } from './dispatcher.js';
import { contentLength, type ResponseHeaders } from './headers.js';
import { maskHeaders, type HttpTrace } from './trace.js';

/** What every request of one download carries, plain data for worker threads. */
export interface RequestSettings {
  /** Headers sent with every request (User-Agent, -H ...), names lower-cased. */
  headers: Record<string, string>;
  /**
   * Origin that may receive credentials: `Authorization`, `Cookie` and
   * `Proxy-Authorization` never follow a redirect to another origin.
   */
  credentialOrigin: string;
  /** Redirects to follow at most. */
  maxRedirects: number;
  /** Cookies of a `cookies.txt` (`--load-cookies`), each sent where its domain, path, flags and expiry allow. */
  cookies?: StoredCookie[];
  connection: ConnectionSettings;
}

const credentialHeaders = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** Headers for a request to `url`: credentials only to the origin they were given for. */
export function headersFor(url: URL, settings: RequestSettings): Record<string, string> {
  const sameOrigin = url.origin === settings.credentialOrigin;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(settings.headers)) {
    if (sameOrigin || !credentialHeaders.has(name)) headers[name] = value;
  }
  const stored = settings.cookies && cookieHeader(settings.cookies, url);
  if (stored) headers.cookie = headers.cookie ? `${headers.cookie}; ${stored}` : stored;
  // Ask for the bytes as stored: a decoded body would break every offset.
  headers['accept-encoding'] = 'identity';
  return headers;
}

/**
 * Move `user:password@` out of the URL into a Basic `Authorization` header bound to
 * that origin, so it is never sent elsewhere and never printed.
 */
export function takeUrlCredentials(url: URL): { url: URL; authorization?: string } {
  if (!url.username && !url.password) return { url };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const clean = new URL(url.href);
  clean.username = '';
  clean.password = '';
  return { url: clean, authorization: basicAuth(user, password) };
}

/** `Basic base64(user:password)`. */
export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** A response after redirects, with the URL that answered. */
export interface FollowedResponse {
  url: URL;
  statusCode: number;
  headers: ResponseHeaders;
  body: ResponseBody;
  /** Every URL visited, the first one included. */
  chain: URL[];
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/**
 * Send a request and follow redirects by hand, so that loops are detected, only http and
 * https are followed, and credentials stay with their origin.
 */
export async function followRedirects(
  client: HttpClient,
  url: URL,
  init: { method: 'GET' | 'HEAD'; headers?: Record<string, string>; signal?: AbortSignal; onTrace?: (trace: HttpTrace) => void },
  settings: RequestSettings,
): Promise<FollowedResponse> {
  const chain: URL[] = [url];
  const seen = new Set([url.href]);
  let current = url;
  for (;;) {
    const headers = { ...headersFor(current, settings), ...init.headers };
    init.onTrace?.({ kind: 'request', method: init.method, url: current.href, headers: maskHeaders(headers) });
    const res = await client.request(current, { method: init.method, headers, ...(init.signal ? { signal: init.signal } : {}) });
    init.onTrace?.({
      kind: 'response',
      method: init.method,
      url: current.href,
      status: res.statusCode,
      headers: maskHeaders(res.headers as Record<string, unknown>),
    });
    const location = res.headers.location;
    if (!redirectStatuses.has(res.statusCode) || typeof location !== 'string') {
      return { url: current, statusCode: res.statusCode, headers: res.headers, body: res.body, chain };
    }
    discard(res);
    if (chain.length > settings.maxRedirects) {
      throw new RedirectError(`too many redirects (more than ${settings.maxRedirects}) from ${url.href}; raise --max-redirects if this is expected`);
    }
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      throw new RedirectError(`invalid redirect Location ${JSON.stringify(location)} from ${current.href}`);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new RedirectError(`redirect to unsupported scheme ${next.protocol} from ${current.href}`);
    }
    if (seen.has(next.href)) {
      throw new RedirectError(`redirect loop: ${next.href} was already visited`);
    }
    seen.add(next.href);
    chain.push(next);
    current = next;
  }
}

/** Most of a body {@link discard} reads to its end rather than cut off. */
const DISCARD_READ_LIMIT = 64 * 1024;

/**
 * Drop a response body. One of a short, declared length (a probe's byte, a redirect's note) is
 * read to its end: cutting off a body still arriving closes its connection, and even a finished
 * one makes undici build an abort error with a stack (per item of a batch). Any other is cut
 * off at once, so that no slow body holds up the end of a download.
 */
export function discard(response: { body: ResponseBody; headers: ResponseHeaders }): void {
  const { body } = response;
  if (body.destroyed) return;
  body.on('error', () => undefined);
  const length = contentLength(response.headers);
  if (length !== undefined && length <= DISCARD_READ_LIMIT) body.dump({ limit: DISCARD_READ_LIMIT }).catch(() => undefined);
  else body.destroy();
}

