/**
 * Options of one download: the public type, the defaults, and their validation into the
 * settings the rest of rangeget uses. Bad input throws {@link UsageError} before any request.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { RateLimiter } from './engine/rate.js';
import type { DownloadSettings } from './engine/settings.js';
import { parseCookiesFile, type StoredCookie } from './http/cookies.js';
import { readCaFile } from './http/dispatcher.js';
import { basicAuth, takeUrlCredentials } from './http/request.js';
import { defaultNetrcPath, netrcLogin, readNetrc } from './netrc.js';
import { checkPieces, parseChecksum, parseHeader, parseUrl, parseUserPass } from './parse.js';
import { UsageError } from './primitives/errors.js';
import { DEFAULT_MAX_CONNECTIONS, MAX_CONNECTIONS, VERSION } from './constants.js';
import { resolveTarget } from './storage/target.js';
import type { DownloadOptions } from './download-options.js';

export type { DownloadOptions } from './download-options.js';


export { VERSION, MAX_CONNECTIONS } from './constants.js';
const MiB = 1024 * 1024;
/** Default of `streamWindow`: how far a stream's connections may run ahead of its reader. */
export const DEFAULT_STREAM_WINDOW = 64 * MiB;

function integer(value: number | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${name}: ${value} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** The cookies of a `cookies.txt`; a file that cannot be read or parsed is a {@link UsageError} naming `file:line`. */
function readCookieFile(path: string): StoredCookie[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`--load-cookies: cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const cookies = parseCookiesFile(text);
  if (!Array.isArray(cookies)) throw new UsageError(`--load-cookies: ${path}:${cookies.line}: ${cookies.reason} (Netscape cookies.txt format)`);
  return cookies;
}

/** `family` and `localAddress`, checked against each other and the URL's host. */
function networkChoices(url: URL, options: DownloadOptions): { family?: 4 | 6; localAddress?: string } {
  const { family, localAddress } = options;
  if (family !== undefined && family !== 4 && family !== 6) throw new UsageError(`family: ${String(family)} must be 4 or 6`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (family && isIP(host) !== 0 && isIP(host) !== family) {
    throw new UsageError(`-${family}: ${url.host} is an IPv${isIP(host)} address; drop -${family} or use a name or an IPv${family} address`);
  }
  if (localAddress === undefined) return family ? { family } : {};
  const bound = isIP(localAddress);
  if (bound === 0) throw new UsageError(`--bind: '${localAddress}' is not an IP address (example: 192.0.2.10)`);
  if (family && bound !== family) throw new UsageError(`--bind: ${localAddress} is an IPv${bound} address, but -${family} was given`);
  return { family: family ?? (bound as 4 | 6), localAddress };
}

/** Validate options and fill in defaults (`streamWindow`: a stream's, see stream.ts). Throws {@link UsageError}. */
export function resolveOptions(url: string | URL, options: DownloadOptions & { streamWindow?: number }): DownloadSettings {
  const parsed = parseUrl(typeof url === 'string' ? url : url.href);
  const { url: clean, authorization: urlAuth } = takeUrlCredentials(parsed);

  const autoConnections = options.connections === undefined || options.connections === 'auto';
  const maxConnections = integer(options.maxConnections, 'maxConnections', 1, MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS);
  const connections = autoConnections ? maxConnections : integer(options.connections as number, 'connections', 1, MAX_CONNECTIONS, maxConnections);
  const threads = integer(options.threads, 'threads', 1, MAX_CONNECTIONS, 1);
  if (threads > connections) {
    throw new UsageError(`threads: ${threads} is more than the ${connections} connections; use at most one thread per connection`);
  }
  const minRangeSize = integer(options.minRangeSize, 'minRangeSize', 1, Number.MAX_SAFE_INTEGER, MiB);
  const streamWindow = integer(options.streamWindow, 'streamWindow', 64 * 1024, Number.MAX_SAFE_INTEGER, DEFAULT_STREAM_WINDOW);
  const retries = integer(options.retries, 'retries', 0, 1000, 5);
  const retryWait = integer(options.retryWait, 'retryWait', 0, 3_600_000, 1000);
  const timeout = integer(options.timeout, 'timeout', 1, 86_400_000, 30_000);
  const connectTimeout = integer(options.connectTimeout, 'connectTimeout', 1, 86_400_000, timeout);
  const network = networkChoices(clean, options);
  const maxRedirects = integer(options.maxRedirects, 'maxRedirects', 0, 100, 10);
  const progressInterval = integer(options.progressInterval, 'progressInterval', 10, 60_000, 250);

  const headers: Record<string, string> = { 'user-agent': options.userAgent ?? `rangeget/${VERSION}` };
  const entries = Array.isArray(options.headers)
    ? (options.headers as ReadonlyArray<readonly [string, string]>)
    : Object.entries(options.headers ?? {});
  for (const [name, value] of entries) {
    const [checkedName, checkedValue] = parseHeader(`${name}: ${value}`);
    headers[checkedName.toLowerCase()] = checkedValue;
  }
  if (urlAuth) headers.authorization = urlAuth;
  if (options.user !== undefined) {
    const { user, password } = typeof options.user === 'string' ? parseUserPass(options.user) : options.user;
    headers.authorization = basicAuth(user, password);
  }
  const warnings: string[] = [];
  // As curl: `https://bob@host/` takes bob's password from the file.
  const userOnly = urlAuth !== undefined && !parsed.password && options.user === undefined;
  if (options.netrc && (headers.authorization === undefined || userOnly)) {
    const path = typeof options.netrc === 'string' ? options.netrc : defaultNetrcPath();
    const entries = readNetrc(path, typeof options.netrc === 'string', (m) => warnings.push(m));
    const login = netrcLogin(entries, clean.hostname, userOnly ? decodeURIComponent(parsed.username) : undefined);
    if (login) headers.authorization = basicAuth(login.user, login.password);
  }

  if (options.proxy !== undefined) {
    let proxy: URL;
    try {
      proxy = new URL(options.proxy);
    } catch {
      throw new UsageError(`--proxy: '${options.proxy}' is not a URL (example: http://proxy.example:3128)`);
    }
    if (!['http:', 'https:', 'socks5:', 'socks5h:'].includes(proxy.protocol)) {
      throw new UsageError(`--proxy: ${proxy.protocol} proxies are not supported; use an http:, https:, socks5: or socks5h: proxy URL`);
    }
  }

  if (options.skipExisting && (options.overwrite || options.continue || options.timestamping)) {
    throw new UsageError('skipExisting (--skip-existing) cannot be combined with overwrite, continue or timestamping: it leaves every existing file alone');
  }
  if (options.overwrite && (options.continue || options.timestamping)) {
    throw new UsageError('overwrite (--overwrite) cannot be combined with continue or timestamping: it always fetches the whole file again');
  }

  const resolved: DownloadSettings = {
    url: clean,
    connections,
    autoConnections,
    threads,
    threadsChosen: options.threads !== undefined,
    minRangeSize,
    minRangeChosen: options.minRangeSize !== undefined,
    streamWindow,
    overwrite: options.overwrite ?? false,
    continue: options.continue ?? false,
    skipExisting: options.skipExisting ?? false,
    timestamping: options.timestamping ?? false,
    remoteTime: options.remoteTime ?? true,
    fsync: options.fsync ?? true,
    resume: options.resume ?? true,
    restart: options.restart ?? true,
    serverDigest: options.serverDigest ?? true,
    metalink: options.metalink ?? true,
    request: {
      headers,
      credentialOrigin: clean.origin,
      maxRedirects,
      connection: {
        insecure: options.insecure ?? false,
        connectTimeout,
        ...network,
        headersTimeout: timeout,
        stallTimeout: timeout,
      },
    },
    // One quick retry of an unreachable server at the first probe, unless retries were asked for.
    retry: { retries, retryWait, maxRetryWait: Math.max(retryWait, 60_000), ...(options.retries === undefined ? { unreachableRetries: 1 } : {}) },
    progressInterval,
    warnings,
    trace: options.trace ?? false,
    mirrors: (options.mirrors ?? []).map((m) => {
      const mirror = parseUrl(typeof m === 'string' ? m : m.href);
      if (mirror.username || mirror.password) {
        throw new UsageError(`--mirror: credentials in a mirror URL are not supported (${mirror.host}); use --user or -H for the main URL`);
      }
      return mirror;
    }),
  };
  if (options.caCert !== undefined) resolved.request.connection.ca = readCaFile(options.caCert);
  if (options.cookieFile !== undefined) resolved.request.cookies = readCookieFile(options.cookieFile);
  if (options.proxy !== undefined) resolved.request.connection.proxy = options.proxy;
  if (options.output !== undefined) {
    if (options.output === '') throw new UsageError('-o: the output name is empty');
    if (options.output === '-') throw new UsageError("output '-' is the command line's stdout: call downloadStream() or downloadTo() to stream");
    // '-o sub/', '-o .' name a directory: refuse now, not after the probe.
    resolveTarget({ output: options.output, fileName: 'x', ...(options.dir !== undefined ? { dir: options.dir } : {}) });
    resolved.output = options.output;
  }
  if (options.dir !== undefined) resolved.dir = options.dir;
  if (options.checksum !== undefined) {
    resolved.checksum = typeof options.checksum === 'string' ? parseChecksum(options.checksum) : parseChecksum(`${options.checksum.algorithm}=${options.checksum.hex}`);
  }
  if (options.pieces !== undefined) resolved.pieces = checkPieces(options.pieces);
  if (options.maxSpeed instanceof RateLimiter) resolved.rate = options.maxSpeed;
  else if (options.maxSpeed !== undefined) {
    if (!(options.maxSpeed >= 1) || !Number.isFinite(options.maxSpeed)) {
      throw new UsageError(`maxSpeed: ${options.maxSpeed} must be a number of bytes per second above 0`);
    }
    resolved.rate = new RateLimiter(options.maxSpeed);
  }
  if (options.signal) resolved.signal = options.signal;
  if (options.onProgress) resolved.onProgress = options.onProgress;
  if (options.onEvent) resolved.onEvent = options.onEvent;
  return resolved;
}
