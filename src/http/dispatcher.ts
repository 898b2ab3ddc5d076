/**
 * The connections: undici dispatchers with keep-alive, timeouts, TLS and proxy settings, one
 * per thread, or one shared by the downloads of a batch.
 */
import type * as Crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { SecureContext } from 'node:tls';
import { undici, type Dispatcher } from './undici.js';
import { UsageError } from '../primitives/errors.js';
import { bypassesProxy, noProxyFromEnvironment } from './no-proxy.js';
import { isSocksProxy, socksConnector } from './socks.js';

/** Connection settings, plain data so they can be handed to worker threads. */
export interface ConnectionSettings {
  /** Skip TLS certificate verification (`--insecure`). */
  insecure: boolean;
  /** PEM text of extra CA certificates (`--ca-cert`), trusted besides the usual roots. */
  ca?: string;
  /** Proxy URL (`--proxy`); when absent, HTTP_PROXY / HTTPS_PROXY / ALL_PROXY minus NO_PROXY apply. */
  proxy?: string;
  /** Milliseconds to establish a connection (and for https, its TLS handshake). */
  connectTimeout: number;
  /** Connect over IPv4 or IPv6 only (`-4` / `-6`); names are resolved to that family only. */
  family?: 4 | 6;
  /** Local IP address to connect from (`--bind`). */
  localAddress?: string;
  /** Milliseconds to wait for response headers. */
  headersTimeout: number;
  /** Milliseconds without a body byte before the connection counts as stalled. */
  stallTimeout: number;
}

const require = createRequire(import.meta.url);

/** The contexts made for `--ca-cert`, by CA text: one per thread, whoever asks (probe, preconnect, fetcher). */
const contexts = new Map<string, SecureContext>();

/**
 * Certificate checks for every connection. node:tls is loaded only for `--ca-cert` (undici
 * loads it itself for https), so a plain-http download starts sooner.
 */
export function tlsOptions(settings: ConnectionSettings): { rejectUnauthorized?: false; secureContext?: SecureContext } {
  if (settings.insecure) return { rejectUnauthorized: false };
  if (!settings.ca) return {};
  // Node's `ca` replaces the trusted roots; `--ca-cert` adds to them (a private CA for one
  // host must not break a redirect to a public CDN). `ca: [...rootCertificates, pem]` parsed
  // Node's ~140 roots again for every context: 36 ms of CPU on Node 20. Adding the PEM to a
  // default context (`addCACert`, what Node's own `ca` option calls) copies the roots Node
  // parsed once per process into a store of the context's own: 3 ms (15 ms on Node 20 with
  // NODE_EXTRA_CA_CERTS, below); each thread makes one, before its first byte. The spread stays
  // for a Node without it. One context per thread and CA, whoever connects.
  let secureContext = contexts.get(settings.ca);
  if (secureContext === undefined) {
    const { createSecureContext, rootCertificates } = require('node:tls') as typeof import('node:tls');
    secureContext = createSecureContext();
    const native = (secureContext as { context?: { addCACert?: (pem: string) => void } }).context;
    const extra = extraCaCertificates();
    if (typeof native?.addCACert === 'function') {
      native.addCACert(settings.ca);
      if (extra !== undefined) native.addCACert(extra);
    } else secureContext = createSecureContext({ ca: [...rootCertificates, ...(extra !== undefined ? [extra] : []), settings.ca] });
    contexts.set(settings.ca, secureContext);
  }
  return { secureContext };
}

/**
 * NODE_EXTRA_CA_CERTS's certificates where a context's own store would leave them out: Node
 * before 22 copies only its bundled roots into it (nodejs/node#32010), and they are trusted
 * without `--ca-cert`, so they stay trusted with it. Those that are bundled roots already (a
 * system bundle, as here, holds ~140 of them, 122 bundled) are left out: a context then takes
 * 15 ms on Node 20 instead of 36. Unreadable: Node warned at start-up.
 */
function extraCaCertificates(): string | undefined {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file || Number(process.versions.node.split('.')[0]) >= 22) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const { rootCertificates } = require('node:tls') as typeof import('node:tls');
  const bundled = new Set(rootCertificates.map(pemBody));
  const extra = (text.match(PEM_CERTIFICATE) ?? []).filter((pem) => !bundled.has(pemBody(pem)));
  return extra.length > 0 ? extra.join('\n') : undefined;
}

/** A PEM certificate's base64, whatever its line breaks. */
function pemBody(pem: string): string {
  return pem.replace(/-----[^-]+-----|\s/g, '');
}

/** True when HTTP_PROXY or HTTPS_PROXY (either case) name a proxy. */
function httpProxyFromEnvironment(): boolean {
  const env = process.env;
  return Boolean(env.HTTP_PROXY || env.http_proxy || env.HTTPS_PROXY || env.https_proxy);
}

/**
 * The proxy the environment names for URLs of `protocol` (`http:` or `https:`): HTTP_PROXY,
 * HTTPS_PROXY (falling back to HTTP_PROXY, as undici does), or, when neither is set,
 * `ALL_PROXY`, as curl reads it. NO_PROXY applies to every one of them.
 */
function environmentProxy(protocol: string): string | undefined {
  const env = process.env;
  if (httpProxyFromEnvironment()) {
    const http = env.http_proxy || env.HTTP_PROXY || undefined;
    return protocol === 'https:' ? env.https_proxy || env.HTTPS_PROXY || http : http;
  }
  return env.ALL_PROXY || env.all_proxy || undefined;
}

/** True when the environment names a proxy of any kind (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY). */
export function proxyFromEnvironment(): boolean {
  return environmentProxy('http:') !== undefined || environmentProxy('https:') !== undefined;
}

type AgentOptions = ConstructorParameters<ReturnType<typeof undici>['Agent']>[0] & object;

/**
 * Proxies from the environment when one of them is SOCKS: each server (origin) gets its own
 * pool of connections, direct when NO_PROXY names it, else through its scheme's proxy.
 * (undici's EnvHttpProxyAgent, used for HTTP proxies, applies NO_PROXY the same way.)
 */
function environmentRouter(options: AgentOptions, settings: ConnectionSettings, tls: ReturnType<typeof tlsOptions>): Dispatcher {
  const { Agent, Pool, ProxyAgent } = undici();
  const factory = (origin: string | URL, opts: object): Dispatcher => {
    const url = new URL(origin);
    const proxy = bypassesProxy(url, noProxyFromEnvironment()) ? undefined : environmentProxy(url.protocol);
    if (proxy && isSocksProxy(proxy)) return new Pool(origin, { ...opts, connect: socksConnector(proxy, settings, tls) });
    if (proxy) return new ProxyAgent({ ...options, uri: proxy, requestTls: tls, proxyTls: tls, proxyTunnel: false });
    return new Pool(origin, opts);
  };
  return new Agent({ ...options, factory });
}

/** The dispatcher for one thread: keep-alive connections, timeouts, TLS and proxy settings. */
export function createDispatcher(settings: ConnectionSettings, connections: number): Dispatcher {
  const tls = tlsOptions(settings);
  const options = {
    connections,
    connect: { timeout: settings.connectTimeout, ...(settings.family ? { family: settings.family } : {}), ...tls },
    ...(settings.localAddress ? { localAddress: settings.localAddress } : {}),
    headersTimeout: settings.headersTimeout,
    bodyTimeout: settings.stallTimeout,
    keepAliveTimeout: 10_000,
  };
  const { Agent, EnvHttpProxyAgent, ProxyAgent } = undici();
  // Plain http goes through an HTTP proxy as a forwarded request (many proxies refuse
  // CONNECT to ports other than 443); https is tunnelled.
  const { proxy } = settings;
  if (proxy && isSocksProxy(proxy)) return new Agent({ ...options, connect: socksConnector(proxy, settings, tls) });
  if (proxy) return new ProxyAgent({ ...options, uri: proxy, requestTls: tls, proxyTls: tls, proxyTunnel: false });
  const http = environmentProxy('http:');
  const https = environmentProxy('https:');
  if (http === undefined && https === undefined) return new Agent(options);
  if ([http, https].some((p) => p !== undefined && isSocksProxy(p))) return environmentRouter(options, settings, tls);
  return new EnvHttpProxyAgent({ ...options, httpProxy: http ?? '', httpsProxy: https ?? '', requestTls: tls, proxyTls: tls, proxyTunnel: false });
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
      // node:crypto only for --ca-cert: a download without it need not load it.
      new (require('node:crypto') as typeof Crypto).X509Certificate(pem);
    } catch (err) {
      throw new UsageError(`--ca-cert: certificate ${i + 1} in ${path} is not valid: ${(err as Error).message}`);
    }
  });
  return text;
}

