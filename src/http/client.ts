/**
 * The connections of the main thread, behind one interface: lean ones of our own
 * (lean-client.ts) when no proxy is involved, undici's dispatchers (dispatcher.ts) through a
 * proxy. The probe, redirects, documents, whole-file answers and small files' ranges go
 * through an {@link HttpClient}; which one is decided here only.
 */
import { createDispatcher, proxyFromEnvironment, type ConnectionSettings } from './dispatcher.js';
import type { Answer } from './lean-answer.js';
import { LeanClient, type RequestInit } from './lean-client.js';
import { request, type Dispatcher } from './undici.js';

export type { Answer, ResponseBody } from './lean-answer.js';
export type { RequestInit } from './lean-client.js';
export { LeanClient } from './lean-client.js';

/** Requests from the main thread, on connections kept open between them. */
export interface HttpClient {
  /** Send a request; resolves with the head, the body follows (read it or {@link discard} it). */
  request(url: URL, init: RequestInit): Promise<Answer>;
  /** Close once the requests under way are over. */
  close(): Promise<void>;
  /** Close at once. */
  destroy(): Promise<void>;
}

/** undici's connections, for proxies (HTTP, HTTPS, SOCKS, from flags or the environment). */
export class UndiciClient implements HttpClient {
  constructor(readonly dispatcher: Dispatcher) {}

  async request(url: URL, init: RequestInit): Promise<Answer> {
    const { statusCode, headers, body } = await request(url, { dispatcher: this.dispatcher, ...init });
    return { statusCode, headers, body };
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }

  destroy(): Promise<void> {
    return this.dispatcher.destroy();
  }
}

/**
 * True when requests with these settings go over lean connections: no proxy, from a flag or
 * the environment. `RANGEGET_TRANSPORT=undici` sends everything through undici (the suite
 * runs both ways).
 */
export function leanReaches(settings: ConnectionSettings): boolean {
  return process.env.RANGEGET_TRANSPORT !== 'undici' && settings.proxy === undefined && !proxyFromEnvironment();
}

/** The main thread's connections for these settings; `connections`: most per server (undici's). */
export function createClient(settings: ConnectionSettings, connections: number): HttpClient {
  return leanReaches(settings) ? new LeanClient(settings) : new UndiciClient(createDispatcher(settings, connections));
}

/**
 * Connections kept open from one download to the next (a batch's): one client per set of
 * connection settings, each with up to `connections` connections per server.
 */
export class SharedConnections {
  private readonly clients = new Map<string, HttpClient>();
  /** The size the last probe to each origin found (probe.ts, `asksWhole`: the next probe's guess). */
  readonly sizes = new Map<string, number>();

  constructor(private readonly connections: number) {}

  /** The client for these settings, made on first use. */
  client(settings: ConnectionSettings): HttpClient {
    const key = JSON.stringify(settings);
    let client = this.clients.get(key);
    if (!client) {
      client = createClient(settings, this.connections);
      this.clients.set(key, client);
    }
    return client;
  }

  /** Close every connection (after the last download). */
  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close().catch(() => undefined)));
    this.clients.clear();
  }
}
