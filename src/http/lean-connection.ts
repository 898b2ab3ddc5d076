/**
 * A lean connection: one keep-alive HTTP/1.1 connection over node:net or node:tls whose
 * bytes are read straight into memory its reader owns (`onread`), never into a buffer of its
 * own per read. It sends a GET and hands every read to the current {@link LeanReader}; the
 * reader parses and decides. This is the range fetcher's hot path (see range-reader.ts in
 * the engine) and of the main thread's requests without a proxy (lean-client.ts); undici
 * serves proxies.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import type * as Tls from 'node:tls';
import type { ConnectionSettings } from './dispatcher.js';
import { tlsOptions } from './dispatcher.js';

// node:tls is loaded by the first https connection: a plain http download need not pay for it.
const require = createRequire(import.meta.url);

/** Who reads the bytes of the current request's response. */
export interface LeanReader {
  /** The memory the next read goes into (a subarray of the reader's buffer). */
  space(): Buffer;
  /**
   * `n` bytes were read into `into`: the memory `space()` gave, except for the first read of
   * an answer, which Node had asked memory for before this reader came (copy it then).
   */
  read(n: number, into: Buffer): void;
  /** The server closed the connection (after `read`s, if any). */
  closed(): void;
  /** The connection failed (connect, TLS, reset, timeout). */
  failed(err: Error): void;
}

/** An error with a code the failure classification knows (undici's, where one applies). */
function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

export class LeanConnection {
  private readonly socket: Socket;
  private reader: LeanReader | undefined;
  private dead = false;
  private connectTimer: NodeJS.Timeout | undefined;
  /** Requests sent on this connection: a failure of the first answer of a reused one is not the server's fault. */
  requests = 0;

  /** `host:port` as the Host header gives it. */
  private readonly host: string;

  /** Open a connection to `url`'s origin (https: with {@link tlsOptions}, one context per thread and CA). */
  constructor(
    readonly origin: string,
    url: URL,
    settings: ConnectionSettings,
  ) {
    this.host = url.host;
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const onread = {
      buffer: () => this.reader?.space() ?? SPARE,
      callback: (n: number, into: Uint8Array) => {
        this.reader?.read(n, into as Buffer);
        return true;
      },
    };
    // -4 / -6 and --bind, as undici's connections take them.
    const where = {
      host,
      port,
      ...(settings.family ? { family: settings.family } : {}),
      ...(settings.localAddress ? { localAddress: settings.localAddress } : {}),
    };
    this.socket =
      url.protocol === 'https:'
        ? // node:tls takes `onread` as node:net does (its types do not say so yet)
          (require('node:tls') as typeof Tls).connect({ ...where, servername: isIp(host) ? '' : host, ALPNProtocols: ['http/1.1'], onread, ...tlsOptions(settings) } as Tls.ConnectionOptions)
        : connectTcp({ ...where, onread });
    this.socket.setNoDelay(true);
    this.connectTimer = setTimeout(
      () => this.destroy(coded(`connect timeout (${settings.connectTimeout / 1000} s) to ${origin}`, 'UND_ERR_CONNECT_TIMEOUT')),
      settings.connectTimeout,
    );
    this.socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      clearTimeout(this.connectTimer);
    });
    // No byte for the stall timeout while a response is awaited or arriving: a stalled connection.
    this.socket.setTimeout(settings.stallTimeout, () => {
      if (this.reader) this.destroy(coded(`no data for ${settings.stallTimeout / 1000} s`, 'UND_ERR_BODY_TIMEOUT'));
    });
    this.socket.on('error', (err) => this.destroy(err));
    this.socket.on('end', () => this.close());
    this.socket.on('close', () => this.close());
  }

  /** An answer is being read. */
  get busy(): boolean {
    return this.reader !== undefined;
  }

  /** Usable for another request. */
  get alive(): boolean {
    return !this.dead && !this.socket.destroyed;
  }

  /** Send a request; `reader` gets every byte of the answer until {@link release}. */
  send(method: 'GET' | 'HEAD', path: string, headers: Record<string, string>, reader: LeanReader): void {
    this.reader = reader;
    this.requests++;
    this.socket.ref();
    // Paused when the last answer's consumer fell behind at its very end (it was parked so).
    this.socket.resume();
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.host}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    this.socket.write(`${head}connection: keep-alive\r\n\r\n`, 'latin1');
  }

  /** The answer is read to its end: the connection waits for the next request. */
  release(): void {
    this.reader = undefined;
  }

  /** Waiting in a pool for the next request: it does not keep the process alive meanwhile. */
  park(): void {
    this.reader = undefined;
    this.socket.unref();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Close at once (an answer not read to its end leaves the connection unusable). */
  destroy(err?: Error): void {
    const reader = this.reader;
    this.reader = undefined;
    this.dead = true;
    clearTimeout(this.connectTimer);
    this.socket.destroy();
    if (err && reader) reader.failed(err);
    else reader?.closed();
  }

  private close(): void {
    if (this.dead && !this.reader) return;
    const reader = this.reader;
    this.reader = undefined;
    this.dead = true;
    clearTimeout(this.connectTimer);
    reader?.closed();
  }
}

/** Reads that arrive with no reader (a server talking out of turn) land here and are dropped. */
const SPARE = Buffer.allocUnsafe(16 * 1024);

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
