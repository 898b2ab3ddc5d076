/**
 * A small forward HTTP proxy for tests (node:http and node:net only, loopback only).
 *
 * - Absolute-URI requests (`GET http://127.0.0.1:PORT/path HTTP/1.1`, any method) are
 *   forwarded and their responses streamed back: what a plain-HTTP proxy does.
 * - `CONNECT 127.0.0.1:PORT` opens a TCP tunnel: what undici's ProxyAgent asks for by
 *   default for https targets; rangeget sets `proxyTunnel: false`, so plain http is forwarded.
 *
 * Only 127.0.0.1 targets are relayed; anything else answers 403, so a test can never reach
 * out through it. Every relayed request and tunnel is counted and logged.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { listenLoopback, track } from './loopback.js';

export interface ProxyRecord {
  /** `CONNECT` for a tunnel, else the forwarded method. */
  method: string;
  /** `127.0.0.1:PORT` for a tunnel, the absolute URL otherwise. */
  target: string;
  /** The Proxy-Authorization header received, if any. */
  proxyAuthorization?: string;
  /** Status the proxy answered (200 for an established tunnel). */
  status: number;
}

export interface ProxyOptions {
  /** Default true. False: refuse CONNECT with 403, like a squid whose CONNECT is limited to port 443. */
  connect?: boolean;
}

export interface TestProxy {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly stats: {
    /** Tunnels opened (CONNECT answered 200). */
    tunnels: number;
    /** Absolute-URI requests forwarded. */
    forwarded: number;
    /** Requests refused (non-loopback target, CONNECT disabled, bad request). */
    refused: number;
    log: ProxyRecord[];
  };
  /** Tunnels plus forwarded requests: everything relayed to a target. */
  relayed(): number;
  resetStats(): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function loopbackPort(host: string): number | undefined {
  const m = /^127\.0\.0\.1:(\d{1,5})$/.exec(host);
  if (!m) return undefined;
  const port = Number(m[1]);
  return port > 0 && port < 65536 ? port : undefined;
}

export async function startProxy(options: ProxyOptions = {}): Promise<TestProxy> {
  const stats = { tunnels: 0, forwarded: 0, refused: 0, log: [] as ProxyRecord[] };
  const sockets = new Set<net.Socket>();
  const agent = new http.Agent({ keepAlive: false });

  const record = (method: string, target: string, req: http.IncomingMessage, status: number): ProxyRecord => {
    const auth = req.headers['proxy-authorization'];
    const rec: ProxyRecord = { method, target, status, ...(auth !== undefined ? { proxyAuthorization: auth } : {}) };
    stats.log.push(rec);
    return rec;
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    let target: URL | undefined;
    try {
      target = new URL(req.url ?? '');
    } catch {
      target = undefined;
    }
    const port = target?.protocol === 'http:' ? loopbackPort(target.host) : undefined;
    if (!target || port === undefined) {
      stats.refused++;
      record(method, req.url ?? '', req, 403);
      req.resume();
      const body = Buffer.from('test proxy: only http://127.0.0.1 targets are relayed\n');
      res.writeHead(403, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
      return;
    }
    stats.forwarded++;
    const rec = record(method, target.href, req, 0);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    }
    const upstream = http.request(
      { host: '127.0.0.1', port, method, path: `${target.pathname}${target.search}`, headers, agent },
      (up) => {
        rec.status = up.statusCode ?? 502;
        const back: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(up.headers)) {
          if (!HOP_BY_HOP.has(name) && value !== undefined) back[name] = value;
        }
        res.writeHead(up.statusCode ?? 502, back);
        up.pipe(res);
        up.once('error', () => res.destroy());
      },
    );
    upstream.once('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-length': 0 }).end();
      else res.destroy();
    });
    res.once('close', () => upstream.destroy());
    req.pipe(upstream);
  });

  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    track(sockets, client);
    client.on('error', () => undefined);
    const target = req.url ?? '';
    const port = loopbackPort(target);
    if (options.connect === false || port === undefined) {
      stats.refused++;
      record('CONNECT', target, req, 403);
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const rec = record('CONNECT', target, req, 0);
    const upstream = net.connect(port, '127.0.0.1');
    track(sockets, upstream);
    upstream.on('error', () => {
      if (rec.status === 0) {
        rec.status = 502;
        client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      } else {
        client.destroy();
      }
    });
    upstream.once('connect', () => {
      stats.tunnels++;
      rec.status = 200;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });

  const listening = await listenLoopback(server, sockets);
  const port = listening.port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    relayed: () => stats.tunnels + stats.forwarded,
    resetStats() {
      stats.tunnels = 0;
      stats.forwarded = 0;
      stats.refused = 0;
      stats.log.length = 0;
    },
    close() {
      agent.destroy();
      return listening.close();
    },
  };
}
