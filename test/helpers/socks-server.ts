/**
 * A small real SOCKS5 server for tests (RFC 1928, node:net only, loopback only): no
 * authentication or user/password (RFC 1929), CONNECT to an IPv4 address, an IPv6 address
 * or a domain name (resolved here, IPv4 first). Its outgoing connections are bound to
 * {@link PROXIED_FROM}, so the test server tells proxied requests from direct ones. Only
 * loopback targets are relayed; anything else is refused (reply 0x02), so a test can never
 * reach out through it. Every connection and CONNECT is counted.
 */
import { lookup } from 'node:dns/promises';
import { connect, createServer, isIP, type Socket } from 'node:net';
import { track } from './loopback.js';
import type { AfterContext } from './tmp.js';

/** The address proxied connections come from (as with microsocks -b in ./socks.ts). */
export const PROXIED_FROM = '127.0.0.2';

export interface SocksOptions {
  /** Require this user name and password (method 0x02); without it, only "no authentication" (0x00) is offered. */
  auth?: { user: string; password: string };
}

export interface SocksRecord {
  /** `ipv4`, `ipv6` or `domain`: how the client named the target. */
  type: 'ipv4' | 'ipv6' | 'domain';
  /** The target as named, and its port. */
  host: string;
  port: number;
  /** The user name the client authenticated as, if any. */
  user?: string;
  /** The reply sent (0 = succeeded). */
  reply: number;
}

export interface TestSocks {
  readonly port: number;
  readonly url: string;
  /** `connections`: TCP connections accepted; `refused`: handshakes refused (bad auth, bad target). */
  readonly stats: { connections: number; refused: number; log: SocksRecord[] };
  resetStats(): void;
  close(): Promise<void>;
}

/** Reads exactly n bytes at a time from a socket during the handshake. */
class Reader {
  private buffered = Buffer.alloc(0);
  private wanted: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.once('close', () => this.wanted?.reject(new Error('closed')));
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    this.serve();
  };

  private serve(): void {
    if (!this.wanted || this.buffered.length < this.wanted.n) return;
    const { n, resolve } = this.wanted;
    this.wanted = undefined;
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    resolve(out);
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.wanted = { n, resolve, reject };
      this.serve();
    });
  }

  /** Stop reading; what is left belongs to the relayed stream. */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    return this.buffered;
  }
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** Start a SOCKS5 server on 127.0.0.1, port 0. */
export async function startSocksServer(options: SocksOptions = {}): Promise<TestSocks> {
  const sockets = new Set<Socket>();
  const stats = { connections: 0, refused: 0, log: [] as SocksRecord[] };

  async function handshake(client: Socket): Promise<void> {
    const reader = new Reader(client);
    const [version, count] = await reader.read(2);
    const methods = [...(await reader.read(count!))];
    const method = options.auth ? 0x02 : 0x00;
    if (version !== 5 || !methods.includes(method)) {
      stats.refused++;
      client.end(Buffer.from([5, 0xff]));
      return;
    }
    client.write(Buffer.from([5, method]));
    let user: string | undefined;
    if (options.auth) {
      const [, ulen] = await reader.read(2);
      user = (await reader.read(ulen!)).toString();
      const [plen] = await reader.read(1);
      const password = (await reader.read(plen!)).toString();
      const ok = user === options.auth.user && password === options.auth.password;
      client.write(Buffer.from([1, ok ? 0 : 1]));
      if (!ok) {
        stats.refused++;
        client.end();
        return;
      }
    }
    const [, command, , atyp] = await reader.read(4);
    let type: SocksRecord['type'];
    let host: string;
    if (atyp === 1) {
      type = 'ipv4';
      host = [...(await reader.read(4))].join('.');
    } else if (atyp === 4) {
      type = 'ipv6';
      const raw = await reader.read(16);
      host = Array.from({ length: 8 }, (_, i) => raw.readUInt16BE(i * 2).toString(16)).join(':');
    } else {
      type = 'domain';
      const [len] = await reader.read(1);
      host = (await reader.read(len!)).toString();
    }
    const port = (await reader.read(2)).readUInt16BE(0);
    const record: SocksRecord = { type, host, port, reply: 0, ...(user !== undefined ? { user } : {}) };
    stats.log.push(record);
    const reply = (code: number): void => {
      record.reply = code;
      client.write(Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]));
    };
    if (command !== 1) {
      stats.refused++;
      reply(7); // command not supported
      client.end();
      return;
    }
    const address = type === 'domain' ? await lookup(host, { family: 4 }).then((a) => a.address, () => '') : host;
    if (!isIP(address) || !isLoopback(address)) {
      stats.refused++;
      reply(address === '' ? 4 : 2); // host unreachable, or not allowed by the rule set
      client.end();
      return;
    }
    const upstream = connect({ host: address, port, localAddress: isIP(address) === 4 ? PROXIED_FROM : undefined });
    track(sockets, upstream);
    let connected = false;
    upstream.once('error', () => {
      if (!connected) {
        stats.refused++;
        reply(5); // connection refused
      }
      client.end();
    });
    upstream.once('connect', () => {
      connected = true;
      reply(0);
      const rest = reader.detach();
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }

  const server = createServer((client) => {
    stats.connections++;
    track(sockets, client);
    client.on('error', () => client.destroy());
    handshake(client).catch(() => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `socks5://127.0.0.1:${port}`,
    stats,
    resetStats() {
      stats.connections = 0;
      stats.refused = 0;
      stats.log.length = 0;
    },
    close() {
      if (!closing) {
        closing = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
      }
      return closing;
    },
  };
}

/** {@link startSocksServer}, closed when the test ends. */
export async function serveSocks(t: AfterContext, options: SocksOptions = {}): Promise<TestSocks> {
  const socks = await startSocksServer(options);
  t.after(() => socks.close());
  return socks;
}
