/**
 * A fault-injecting HTTP/1.1 test server (node:http only, loopback only) serving generated
 * content from {@link fill}. See {@link FileSpec} and {@link Faults} for what it can do.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import { contentOf, fill, sha256Of } from './content.js';
import { serverTls, TEST_TLS } from './fixtures.js';
import { listenLoopback } from './loopback.js';
import { mulberry32 } from './random.js';
import type { AfterContext } from './tmp.js';

export interface FileSpec {
  /** Size in bytes. */
  size: number;
  /** Content seed; default derived from the path (FNV-1a). */
  seed?: number;
  /** Default true: honour single `Range`, answer 206 + Content-Range, send Accept-Ranges. False: ignore Range, no Accept-Ranges. */
  ranges?: boolean;
  /** Default true; false: HEAD answers 405; a number: HEAD answers with that status. */
  head?: boolean | number;
  /** Default true; false: no Content-Length (chunked), and `bytes a-b/*` in Content-Range. */
  length?: boolean;
  /** Default `"${seed}-${size}"` (strong); null: none. */
  etag?: string | null;
  /** Default an HTTP-date derived from the seed (changes when the seed changes); null: none. */
  lastModified?: string | null;
  /** Sent verbatim as Content-Disposition on GET and HEAD. */
  contentDisposition?: string;
  /** Sent verbatim as Content-Encoding; the bytes are not transformed. */
  contentEncoding?: string;
  /** Extra headers sent verbatim with every HEAD, 200 and 206 (e.g. `Repr-Digest`). */
  headers?: Record<string, string>;
  /** Answer GET and HEAD with this status and a short text body. */
  status?: number;
  /** Answer `redirectStatus` (default 302) with `Location: redirect`. */
  redirect?: string;
  redirectStatus?: number;
  /** Bytes per second per response, sent smoothly. */
  throttle?: number;
  /** Default true: honour If-Range (ETag or date); a mismatch answers 200 with the full body. */
  ifRange?: boolean;
  /**
   * Default true: a GET or HEAD whose `If-Modified-Since` is not older than Last-Modified
   * answers `304 Not Modified` with no body (RFC 9110 §13.1.3), as nginx and Apache do; false:
   * the header is ignored.
   */
  ifModifiedSince?: boolean;
  faults?: Faults;
}

export interface Faults {
  /** Seeds the fault RNG (default 1). */
  seed?: number;
  /** Probability that a GET body is cut (connection closed) at a random point. */
  dropRate?: number;
  /** Probability that a GET answers `errorStatus`. */
  errorRate?: number;
  /** Default 503. */
  errorStatus?: number;
  /** Retry-After value sent with `errorStatus` (only sent when set); a function is called per response. */
  retryAfter?: string | (() => string);
  /** The first N GETs answer `errorStatus`. */
  failFirst?: number;
  /** The first GET (every GET with `stallEvery`) sends this many body bytes, then goes silent. */
  stallAfter?: number;
  stallEvery?: boolean;
  /** The first N GETs announce the full length but close after half the body. */
  shortBody?: number;
  /** The first N range GETs answer 206 with Content-Range and bytes shifted by +1. */
  wrongContentRange?: number;
  /** After N GETs, Range is ignored: 200 + full body. */
  ignoreRangeAfter?: number;
  /** HEAD reports this Content-Length instead of `size`. */
  headSize?: number;
  /** The first N GETs send half the body, then reset the connection (TCP RST). */
  reset?: number;
  /** The first N GETs are never answered: no status line, no headers (until the client gives up). */
  noHeaders?: number;
  /** The first N HEADs answer `errorStatus` (with `retryAfter`). */
  headFailFirst?: number;
  /** Every GET that carries a Range header answers this status (416 adds `Content-Range: bytes *\/size`). */
  rangeStatus?: number;
  /** A range whose last byte is past the file's answers 416, against RFC 9110 §14.1.2 (a few servers do). */
  overlongRange416?: boolean;
  /** Sent verbatim as Accept-Ranges (e.g. `none`) instead of the default. */
  acceptRanges?: string;
  /**
   * Range GETs (206) are sent chunked, without Content-Length, and carry this many junk bytes
   * (0xEE) after the range their Content-Range announces.
   */
  extraBytes?: number;
  /** A 206 holds at most this many bytes (Content-Range says so), like servers that cap a response. */
  rangeCap?: number;
  /** The first `count` GETs are sent at `rate` bytes/s instead of the file's throttle: a slow path. */
  slowFirst?: { count: number; rate: number };
  /** Milliseconds before every GET is answered: a long round trip. */
  latency?: number;
  /** Milliseconds before every HEAD is answered: a probe that takes as long as a far server's. */
  headLatency?: number;
  /**
   * A connection's second GET is met by closing the connection, unanswered: a keep-alive
   * timeout that races the client's next request (the client must ask again on a new one).
   */
  oneGetPerConnection?: boolean;
  /** Every GET is preceded by a `103 Early Hints` interim response. */
  earlyHints?: boolean;
  /** A GET carrying `If-Range` answers 412 Precondition Failed (no valid answer to If-Range). */
  ifRange412?: boolean;
  /** A range GET answers 206 as `multipart/byteranges` (one part), as some servers do. */
  multipart?: boolean;
  /** Every GET body has the bytes of this span of the file inverted (a corrupt mirror). */
  corrupt?: { start: number; end: number };
  /** Every GET carries a header of this many bytes (beyond what a client accepts). */
  bigHeader?: number;
  /** A 206's Content-Range gives this total instead of the size. */
  rangeTotal?: number;
  /**
   * A signed URL: a request to the path without `?sig=` is redirected (302) to `?sig=K`, a new
   * K each time; signature K serves `gets` GETs, then answers 403 (expired), as do older ones.
   */
  signed?: { gets: number };
  /** At most this many GETs are answered at once; one more is answered 503 (a server limiting connections per client). */
  maxBusy?: number;
}

export interface RequestRecord {
  method: string;
  /** The request target as received (path and query). */
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Status sent (0 until the head is written). */
  status: number;
  /** Content bytes written for this response. */
  bytes: number;
  /** The client's address, as the server's socket sees it. */
  remoteAddress: string;
}

export interface TestServer {
  readonly origin: string;
  readonly port: number;
  url(path: string): string;
  set(path: string, spec: FileSpec): void;
  sha256(path: string): string;
  content(path: string): Buffer;
  /** `connections`: TCP connections accepted. */
  readonly stats: { requests: number; bytesSent: number; connections: number; log: RequestRecord[] };
  resetStats(): void;
  close(): Promise<void>;
}

const CHUNK = 64 * 1024;
const LOG_LIMIT = 10_000;
const BASE_DATE = Date.UTC(2024, 0, 1);

/** FNV-1a of a string, as an unsigned 32-bit integer. */
export function seedOfPath(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) {
    h ^= path.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

interface Entry {
  spec: FileSpec;
  seed: number;
  size: number;
  etag: string | null;
  lastModified: string | null;
  gets: number;
  heads: number;
  rangeGets: number;
  /** The newest signature issued (`signed`), and the GETs each served. */
  signatures: number;
  signedGets: Map<number, number>;
  /** GETs being answered now (`maxBusy`). */
  busy: number;
  random: () => number;
}

type Range = { start: number; end: number } | 'unsatisfiable' | null;

/**
 * Parse a Range header for a representation of `size` bytes (RFC 9110 §14.1.2, one range).
 * Returns null when the header must be ignored (unknown unit, invalid syntax),
 * 'unsatisfiable' for a multi-range or a range outside the content.
 */
export function parseRange(header: string, size: number): Range {
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return null;
  const set = (m[1] ?? '').trim();
  const specs = set.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0) return null;
  const parsed: Array<{ first?: number; last?: number; suffix?: number }> = [];
  for (const s of specs) {
    let r: RegExpExecArray | null;
    if ((r = /^(\d+)-(\d*)$/.exec(s))) {
      const first = Number(r[1]);
      const last = r[2] === '' ? undefined : Number(r[2]);
      if (!Number.isSafeInteger(first) || (last !== undefined && (!Number.isSafeInteger(last) || last < first))) return null;
      parsed.push(last === undefined ? { first } : { first, last });
    } else if ((r = /^-(\d+)$/.exec(s))) {
      const suffix = Number(r[1]);
      if (!Number.isSafeInteger(suffix)) return null;
      parsed.push({ suffix });
    } else {
      return null;
    }
  }
  const only = parsed[0];
  if (parsed.length !== 1 || only === undefined) return 'unsatisfiable';
  if (only.suffix !== undefined) {
    if (only.suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - only.suffix), end: size - 1 };
  }
  const first = only.first ?? 0;
  if (first >= size) return 'unsatisfiable';
  return { start: first, end: Math.min(size - 1, only.last ?? size - 1) };
}

function retryAfterHeader(faults: Faults): http.OutgoingHttpHeaders {
  const value = typeof faults.retryAfter === 'function' ? faults.retryAfter() : faults.retryAfter;
  return value !== undefined ? { 'Retry-After': value } : {};
}

function ifRangeMatches(value: string, entry: Entry): boolean {
  const v = value.trim();
  if (v.startsWith('"') || v.startsWith('W/')) {
    // Strong comparison: weak tags never match.
    return entry.etag !== null && !v.startsWith('W/') && !entry.etag.startsWith('W/') && v === entry.etag;
  }
  if (entry.lastModified === null) return false;
  const a = Date.parse(v);
  const b = Date.parse(entry.lastModified);
  return Number.isFinite(a) && a === b;
}

/** A GET or HEAD the file's Last-Modified does not postdate (If-None-Match, when sent, takes precedence). */
function notModified(req: http.IncomingMessage, entry: Entry): boolean {
  const since = req.headers['if-modified-since'];
  if (entry.spec.ifModifiedSince === false || since === undefined || req.headers['if-none-match'] !== undefined) return false;
  if ((req.method !== 'GET' && req.method !== 'HEAD') || entry.lastModified === null) return false;
  const a = Date.parse(since);
  return Number.isFinite(a) && Date.parse(entry.lastModified) <= a;
}

/** How the server listens. */
export interface ServerOptions {
  /** Serve HTTPS (node:https) with this key and certificate (PEM) instead of plain HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export async function startServer(files: Record<string, FileSpec> = {}, options: ServerOptions = {}): Promise<TestServer> {
  // Under `npm run test:tls` every server that does not choose serves HTTPS (fixture
  // certificate, trusted through NODE_EXTRA_CA_CERTS): the fault suites then cover the lean
  // reader's TLS path, which holds reads in each slot's buffer (range-reader.ts).
  if (TEST_TLS && !('tls' in options)) options = { ...options, tls: serverTls() };
  const entries = new Map<string, Entry>();
  const stats = { requests: 0, bytesSent: 0, connections: 0, log: [] as RequestRecord[] };
  const timers = new Set<NodeJS.Timeout>();
  /** Over TLS: each connection's TCP socket, by the peer's port (see `reset`). */
  const tcpUnder = new Map<number, net.Socket>();

  function makeEntry(path: string, spec: FileSpec): Entry {
    if (!Number.isSafeInteger(spec.size) || spec.size < 0) throw new RangeError(`bad size for ${path}: ${spec.size}`);
    const seed = spec.seed ?? seedOfPath(path);
    return {
      spec,
      seed,
      size: spec.size,
      etag: spec.etag === undefined ? `"${seed}-${spec.size}"` : spec.etag,
      lastModified:
        spec.lastModified === undefined
          ? new Date(BASE_DATE + (Math.abs(seed) % 31_536_000) * 1000).toUTCString()
          : spec.lastModified,
      gets: 0,
      heads: 0,
      rangeGets: 0,
      signatures: 0,
      signedGets: new Map(),
      busy: 0,
      random: mulberry32(spec.faults?.seed ?? 1),
    };
  }

  function lookup(target: string): Entry | undefined {
    const exact = entries.get(target);
    if (exact) return exact;
    const q = target.indexOf('?');
    return q >= 0 ? entries.get(target.slice(0, q)) : undefined;
  }

  function entryFor(path: string): Entry {
    const e = entries.get(path);
    if (!e) throw new Error(`test server: no file at ${path}`);
    return e;
  }

  for (const [path, spec] of Object.entries(files)) entries.set(path, makeEntry(path, spec));

  function sleep(ms: number, res: http.ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        timers.delete(timer);
        res.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timers.add(timer);
      res.once('close', done);
    });
  }

  function waitDrainOrClose(res: http.ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.once('drain', done);
      res.once('close', done);
    });
  }

  /** Close the connection after everything written so far has been flushed (the peer sees a premature EOF). */
  function cut(res: http.ServerResponse): void {
    const socket = res.socket;
    if (!socket || socket.destroyed) return;
    socket.end();
    socket.once('finish', () => socket.destroy());
  }

  /** Abort the connection with a TCP RST (over TLS, of the TCP socket under the TLS one). */
  function reset(res: http.ServerResponse): void {
    const socket = res.socket;
    if (!socket || socket.destroyed) return;
    (tcpUnder.get(socket.remotePort ?? -1) ?? socket).resetAndDestroy();
  }

  function sendText(res: http.ServerResponse, rec: RequestRecord, status: number, text: string, headers: http.OutgoingHttpHeaders = {}): void {
    const body = Buffer.from(text + '\n');
    rec.status = status;
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, ...headers });
    res.end(body);
  }

  async function sendBody(
    res: http.ServerResponse,
    rec: RequestRecord,
    entry: Entry,
    start: number,
    limit: number,
    after: 'end' | 'cut' | 'stall' | 'reset',
    junk = 0,
    rate?: number,
  ): Promise<void> {
    let gone = false;
    res.once('close', () => (gone = true));
    const throttle = rate ?? entry.spec.throttle;
    const slice = throttle && throttle > 0 ? Math.max(1, Math.min(16 * 1024, Math.floor(throttle / 50))) : CHUNK;
    const t0 = Date.now();
    let pos = 0;
    while (pos < limit && !gone && !res.destroyed) {
      const n = Math.min(slice, limit - pos);
      if (throttle && throttle > 0) {
        const due = ((pos + n) / throttle) * 1000 - (Date.now() - t0);
        if (due > 1) {
          await sleep(due, res);
          if (gone || res.destroyed) break;
        }
      }
      const buf = Buffer.allocUnsafe(n);
      fill(entry.seed, start + pos, buf);
      const bad = entry.spec.faults?.corrupt;
      if (bad) for (let i = Math.max(bad.start, start + pos); i < Math.min(bad.end, start + pos + n); i++) buf[i - start - pos] = buf[i - start - pos]! ^ 0xff;
      const ok = res.write(buf);
      pos += n;
      rec.bytes += n;
      stats.bytesSent += n;
      if (!ok && pos < limit) await waitDrainOrClose(res);
    }
    if (gone || res.destroyed) return;
    if (junk > 0 && after === 'end') {
      res.write(Buffer.alloc(junk, 0xee));
      stats.bytesSent += junk;
    }
    if (after === 'end') res.end();
    else if (after === 'cut') cut(res);
    else if (after === 'reset') {
      // Let the bytes written so far reach the client, then reset. An empty write's callback
      // comes once those before it are out: the socket's 'drain' never came on Node 22 and 24,
      // so the reset was a stall there, met by the client's timeout (10 s in faults.test.ts).
      const socket = res.socket;
      if (socket && socket.writableLength > 0) socket.write(Buffer.alloc(0), () => reset(res));
      else reset(res);
    }
    // 'stall': stay silent; the connection stays open until the client or close() ends it.
  }

  function commonHeaders(entry: Entry): http.OutgoingHttpHeaders {
    const h: http.OutgoingHttpHeaders = { 'Content-Type': 'application/octet-stream' };
    if (entry.spec.faults?.acceptRanges !== undefined) h['Accept-Ranges'] = entry.spec.faults.acceptRanges;
    else if (entry.spec.ranges !== false) h['Accept-Ranges'] = 'bytes';
    if (entry.etag !== null) h['ETag'] = entry.etag;
    if (entry.lastModified !== null) h['Last-Modified'] = entry.lastModified;
    if (entry.spec.contentDisposition !== undefined) h['Content-Disposition'] = entry.spec.contentDisposition;
    if (entry.spec.contentEncoding !== undefined) h['Content-Encoding'] = entry.spec.contentEncoding;
    Object.assign(h, entry.spec.headers);
    return h;
  }

  const delayed = new WeakSet<http.IncomingMessage>();
  /** Sockets that have carried a GET (for `oneGetPerConnection`). */
  const served = new WeakSet<object>();
  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    if (method === 'GET' && lookup(target)?.spec.faults?.oneGetPerConnection) {
      if (served.has(req.socket)) {
        req.socket.destroy();
        return;
      }
      served.add(req.socket);
    }
    const delays = lookup(target)?.spec.faults;
    const latency = method === 'GET' ? delays?.latency : method === 'HEAD' ? delays?.headLatency : undefined;
    if (latency !== undefined && !delayed.has(req)) {
      delayed.add(req);
      const timer = setTimeout(() => {
        timers.delete(timer);
        handle(req, res);
      }, latency);
      timers.add(timer);
      return;
    }
    const rec: RequestRecord = { method, path: target, headers: req.headers, status: 0, bytes: 0, remoteAddress: req.socket.remoteAddress ?? '' };
    stats.requests++;
    stats.log.push(rec);
    if (stats.log.length > LOG_LIMIT) stats.log.splice(0, stats.log.length - LOG_LIMIT);
    req.resume();

    const entry = lookup(target);
    if (!entry) return sendText(res, rec, 404, 'Not Found');
    const spec = entry.spec;
    const faults = spec.faults ?? {};

    if (spec.redirect !== undefined) {
      return sendText(res, rec, spec.redirectStatus ?? 302, `Redirecting to ${spec.redirect}`, { Location: spec.redirect });
    }
    if (spec.status !== undefined) return sendText(res, rec, spec.status, `Status ${spec.status}`);
    if (faults.signed) {
      const sig = /[?&]sig=(\d+)/.exec(target)?.[1];
      if (sig === undefined) {
        entry.signatures++;
        return sendText(res, rec, 302, 'signed', { Location: `${target.split('?')[0]}?sig=${entry.signatures}` });
      }
      const used = entry.signedGets.get(Number(sig)) ?? 0;
      if (Number(sig) !== entry.signatures || used >= faults.signed.gets) return sendText(res, rec, 403, 'signature expired');
      if (method === 'GET') entry.signedGets.set(Number(sig), used + 1);
    }

    if (notModified(req, entry)) {
      rec.status = 304;
      const { 'Content-Type': _, ...validators } = commonHeaders(entry);
      res.writeHead(304, validators);
      res.end();
      return;
    }

    if (method === 'HEAD') {
      const h = entry.heads++;
      if (faults.headFailFirst !== undefined && h < faults.headFailFirst) {
        return sendText(res, rec, faults.errorStatus ?? 503, `Injected HEAD failure ${h + 1}`, retryAfterHeader(faults));
      }
      if (spec.head === false) return sendText(res, rec, 405, 'Method Not Allowed', { Allow: 'GET' });
      if (typeof spec.head === 'number') return sendText(res, rec, spec.head, `Status ${spec.head}`);
      const headers = commonHeaders(entry);
      if (spec.length !== false) headers['Content-Length'] = faults.headSize ?? entry.size;
      rec.status = 200;
      res.writeHead(200, headers);
      res.end();
      return;
    }
    if (method !== 'GET') return sendText(res, rec, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });

    const n = entry.gets++;
    if (faults.earlyHints) res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
    if (faults.ifRange412 && req.headers['if-range'] !== undefined) return sendText(res, rec, 412, 'Precondition Failed');
    const errorStatus = faults.errorStatus ?? 503;
    const errorHeaders = (): http.OutgoingHttpHeaders => retryAfterHeader(faults);
    if (faults.failFirst !== undefined && n < faults.failFirst) return sendText(res, rec, errorStatus, `Injected failure ${n + 1}`, errorHeaders());
    if (faults.maxBusy !== undefined) {
      if (entry.busy >= faults.maxBusy) return sendText(res, rec, 503, 'Too many connections from your address', errorHeaders());
      entry.busy++;
      res.once('close', () => entry.busy--);
    }
    if (faults.errorRate !== undefined && faults.errorRate > 0 && entry.random() < faults.errorRate) {
      return sendText(res, rec, errorStatus, 'Injected random failure', errorHeaders());
    }
    if (faults.noHeaders !== undefined && n < faults.noHeaders) return; // silent; close() or the client ends it
    if (faults.rangeStatus !== undefined && req.headers.range !== undefined) {
      const extra: http.OutgoingHttpHeaders = faults.rangeStatus === 416 ? { 'Content-Range': `bytes */${entry.size}` } : {};
      return sendText(res, rec, faults.rangeStatus, `Status ${faults.rangeStatus}`, extra);
    }
    const last = /^bytes=\d+-(\d+)$/.exec(req.headers.range ?? '')?.[1];
    if (faults.overlongRange416 && last !== undefined && Number(last) >= entry.size) {
      return sendText(res, rec, 416, 'Range Not Satisfiable', { 'Content-Range': `bytes */${entry.size}` });
    }

    const size = entry.size;
    let range: Range = null;
    const rangeHeader = req.headers.range;
    const ignoreRange = faults.ignoreRangeAfter !== undefined && n >= faults.ignoreRangeAfter;
    if (spec.ranges !== false && !ignoreRange && rangeHeader !== undefined) {
      const raw = req.headers['if-range'];
      const ifRange = Array.isArray(raw) ? raw.join(', ') : raw;
      const honoured = spec.ifRange === false || ifRange === undefined || ifRangeMatches(ifRange, entry);
      if (honoured) range = parseRange(rangeHeader, size);
    }

    const headers = commonHeaders(entry);
    if (range === 'unsatisfiable') {
      rec.status = 416;
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
      res.end();
      return;
    }

    let status = 200;
    let start = 0;
    let length = size;
    if (range) {
      status = 206;
      start = range.start;
      let end = range.end;
      const r = entry.rangeGets++;
      if (faults.wrongContentRange !== undefined && r < faults.wrongContentRange && start + 1 < size) {
        start += 1;
        end = Math.min(size - 1, end + 1);
      }
      if (faults.rangeCap !== undefined && faults.rangeCap > 0) end = Math.min(end, start + faults.rangeCap - 1);
      length = end - start + 1;
      headers['Content-Range'] = `bytes ${start}-${end}/${spec.length === false ? '*' : (faults.rangeTotal ?? size)}`;
      if (faults.multipart) {
        const part = `--B\r\nContent-Type: application/octet-stream\r\nContent-Range: ${String(headers['Content-Range'])}\r\n\r\n`;
        delete headers['Content-Range'];
        return sendText(res, rec, 206, `${part}(bytes)\r\n--B--`, { ...headers, 'Content-Type': 'multipart/byteranges; boundary=B' });
      }
    }
    if (faults.bigHeader !== undefined) headers['X-Padding'] = 'x'.repeat(faults.bigHeader);
    if (spec.length !== false) headers['Content-Length'] = length;

    let limit = length;
    let after: 'end' | 'cut' | 'stall' | 'reset' = 'end';
    let junk = 0;
    if (status === 206 && faults.extraBytes !== undefined && faults.extraBytes > 0) {
      delete headers['Content-Length'];
      junk = faults.extraBytes;
    }
    if (faults.reset !== undefined && n < faults.reset) {
      limit = Math.floor(length / 2);
      after = 'reset';
    } else if (faults.stallAfter !== undefined && (n === 0 || faults.stallEvery)) {
      if (faults.stallAfter < limit) {
        limit = faults.stallAfter;
        after = 'stall';
      }
    } else if (faults.shortBody !== undefined && n < faults.shortBody) {
      limit = Math.floor(length / 2);
      after = 'cut';
    } else if (faults.dropRate !== undefined && faults.dropRate > 0 && entry.random() < faults.dropRate) {
      limit = Math.floor(entry.random() * length);
      after = 'cut';
    }

    rec.status = status;
    res.writeHead(status, headers);
    if (limit === 0 && after !== 'end') {
      res.flushHeaders();
      if (after === 'cut') cut(res);
      if (after === 'reset') reset(res);
      return;
    }
    const slow = faults.slowFirst && n < faults.slowFirst.count ? faults.slowFirst.rate : undefined;
    sendBody(res, rec, entry, start, limit, after, junk, slow).catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  }

  const server: http.Server = options.tls
    ? https.createServer({ keepAliveTimeout: 5000, key: options.tls.key, cert: options.tls.cert }, handle)
    : http.createServer({ keepAliveTimeout: 5000 }, handle);
  server.on('connection', (socket: net.Socket) => {
    stats.connections++;
    // A TLS socket cannot send a RST itself (resetAndDestroy wants a TCP handle): keep the TCP
    // socket under it, found by the peer's port, which both share.
    const port = socket.remotePort;
    if (!options.tls || port === undefined) return;
    tcpUnder.set(port, socket);
    socket.once('close', () => tcpUnder.get(port) === socket && tcpUnder.delete(port));
  });
  const listening = await listenLoopback(server);
  const port = listening.port;
  const origin = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  return {
    origin,
    port,
    url: (path: string) => origin + path,
    set(path: string, spec: FileSpec) {
      entries.set(path, makeEntry(path, spec));
    },
    sha256: (path: string) => {
      const e = entryFor(path);
      return sha256Of(e.seed, e.size);
    },
    content: (path: string) => {
      const e = entryFor(path);
      return contentOf(e.seed, e.size);
    },
    stats,
    resetStats() {
      stats.requests = 0;
      stats.bytesSent = 0;
      stats.connections = 0;
      stats.log.length = 0;
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return listening.close();
    },
  };
}

/** The GETs in the server's log (of `path` only, when given), in order. */
export function gets(server: TestServer, path?: string): RequestRecord[] {
  return server.stats.log.filter((r) => r.method === 'GET' && (path === undefined || r.path === path));
}

/** {@link startServer}, closed when the test ends. */
export async function serve(t: AfterContext, files: Record<string, FileSpec> = {}, options: ServerOptions = {}): Promise<TestServer> {
  const server = await startServer(files, options);
  t.after(() => server.close());
  return server;
}
