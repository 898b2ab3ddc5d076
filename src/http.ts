/**
 * HTTP plumbing shared by the probe (main thread) and the workers: the undici dispatcher,
 * the request headers, and redirect following with credentials kept to their origin.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { SecureContext } from 'node:tls';
import { Agent, EnvHttpProxyAgent, ProxyAgent, request, type Dispatcher, type ResponseBody } from './undici.js';
import { RedirectError, UsageError } from './errors.js';
import { maskHeaders, type HttpTrace } from './trace.js';

/** Connection settings, plain data so they can be handed to worker threads. */
export interface ConnectionSettings {
  /** Skip TLS certificate verification (`--insecure`). */
  insecure: boolean;
  /** PEM text of extra CA certificates (`--ca-cert`), trusted besides the usual roots. */
  ca?: string;
  /** Proxy URL (`--proxy`); when absent, HTTP_PROXY / HTTPS_PROXY / NO_PROXY apply. */
  proxy?: string;
  /** Milliseconds to establish a connection. */
  connectTimeout: number;
  /** Milliseconds to wait for response headers. */
  headersTimeout: number;
  /** Milliseconds without a body byte before the connection counts as stalled. */
  stallTimeout: number;
}

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

const require = createRequire(import.meta.url);

/**
 * Certificate checks for every connection. node:tls is loaded only for `--ca-cert` (undici
 * loads it itself for https), so a plain-http download starts sooner.
 */
function tlsOptions(settings: ConnectionSettings): { rejectUnauthorized?: false; secureContext?: SecureContext } {
  if (settings.insecure) return { rejectUnauthorized: false };
  if (!settings.ca) return {};
  // Node's `ca` replaces the trusted roots; `--ca-cert` adds to them (a private CA for one
  // host must not break a redirect to a public CDN). One context for every connection.
  const { createSecureContext, rootCertificates } = require('node:tls') as typeof import('node:tls');
  return { secureContext: createSecureContext({ ca: [...rootCertificates, settings.ca] }) };
}

/** The dispatcher for one thread: keep-alive connections, timeouts, TLS and proxy settings. */
export function createDispatcher(settings: ConnectionSettings, connections: number): Dispatcher {
  const tls = tlsOptions(settings);
  const options = {
    connections,
    connect: { timeout: settings.connectTimeout, ...tls },
    headersTimeout: settings.headersTimeout,
    bodyTimeout: settings.stallTimeout,
    keepAliveTimeout: 10_000,
  };
  // Plain http goes through the proxy as a forwarded request (many proxies refuse CONNECT
  // to ports other than 443); https is tunnelled.
  if (settings.proxy) return new ProxyAgent({ ...options, uri: settings.proxy, requestTls: tls, proxyTls: tls, proxyTunnel: false });
  const env = process.env;
  if (env.HTTP_PROXY || env.http_proxy || env.HTTPS_PROXY || env.https_proxy) {
    return new EnvHttpProxyAgent({ ...options, requestTls: tls, proxyTls: tls, proxyTunnel: false });
  }
  return new Agent(options);
}

/**
 * Connections kept open from one download to the next (a batch's): one dispatcher per set of
 * connection settings, each with up to `connections` connections per server.
 */
export class SharedConnections {
  private readonly dispatchers = new Map<string, Dispatcher>();

  constructor(private readonly connections: number) {}

  /** The dispatcher for these settings, made on first use. */
  dispatcher(settings: ConnectionSettings): Dispatcher {
    const key = JSON.stringify(settings);
    let dispatcher = this.dispatchers.get(key);
    if (!dispatcher) {
      dispatcher = createDispatcher(settings, this.connections);
      this.dispatchers.set(key, dispatcher);
    }
    return dispatcher;
  }

  /** Close every connection (after the last download). */
  async close(): Promise<void> {
    await Promise.all([...this.dispatchers.values()].map((d) => d.close().catch(() => undefined)));
    this.dispatchers.clear();
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Read a CA bundle for `--ca-cert`, with a clear message when it cannot be read or holds no
 * usable certificate (Node would silently ignore it, and every connection would fail later
 * with a confusing certificate error).
 */
export function readCaFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EISDIR' ? 'it is a directory' : code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new UsageError(`--ca-cert: cannot read ${path}: ${why}`);
  }
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new UsageError(`--ca-cert: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  blocks.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new UsageError(`--ca-cert: certificate ${i + 1} in ${path} is not valid: ${(err as Error).message}`);
    }
  });
  return text;
}

/** A response after redirects, with the URL that answered. */
export interface FollowedResponse {
  url: URL;
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
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
  dispatcher: Dispatcher,
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
    const res = await request(current, { dispatcher, method: init.method, headers, signal: init.signal });
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
export function discard(response: { body: ResponseBody; headers: Record<string, string | string[] | undefined> }): void {
  const { body } = response;
  if (body.destroyed) return;
  body.on('error', () => undefined);
  const length = contentLength(response.headers);
  if (length !== undefined && length <= DISCARD_READ_LIMIT) body.dump({ limit: DISCARD_READ_LIMIT }).catch(() => undefined);
  else body.destroy();
}

/** The Content-Length header as a number, or undefined when absent or malformed. */
export function contentLength(headers: Record<string, string | string[] | undefined>): number | undefined {
  const raw = header(headers, 'content-length');
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** First value of a header that may be repeated. */
export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Parse `Content-Range: bytes a-b/total` (total may be `*`). */
export function parseContentRange(
  value: string | undefined,
): { start: number; end: number; total: number | undefined } | { unsatisfied: true; total: number } | undefined {
  if (!value) return undefined;
  const m = /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(value);
  if (!m) return undefined;
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (m[1] === undefined || m[2] === undefined) {
    return total === undefined ? undefined : { unsatisfied: true, total };
  }
  const start = Number(m[1]);
  const end = Number(m[2]) + 1;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) return undefined;
  if (total !== undefined && (!Number.isSafeInteger(total) || end > total)) return undefined;
  return { start, end, total };
}

/** A strong ETag can vouch for byte ranges; a weak one (`W/"..."`) cannot. */
export function isStrongEtag(etag: string | undefined): etag is string {
  return etag !== undefined && !etag.startsWith('W/');
}

/** OpenSSL / Node codes of a TLS certificate that could not be verified. */
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True when `err` (from undici) is a failed TLS certificate check. */
export function isCertificateError(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | undefined;
  return CERTIFICATE_ERRORS.has(e?.cause?.code ?? '') || CERTIFICATE_ERRORS.has(e?.code ?? '');
}

/** Human text for an error thrown by undici, for messages and retry logs. */
export function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  const text = code && !message.includes(code) ? `${message} (${code})` : message;
  if (isCertificateError(err)) {
    return `TLS certificate verification failed: ${text}; trust its CA with --ca-cert FILE, or skip the check with --insecure`;
  }
  return text;
}
