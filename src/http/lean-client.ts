/**
 * The main thread's connections when no proxy is involved: lean keep-alive connections
 * (lean-connection.ts), kept per origin between requests, so that the probe, its redirects
 * and a small file's ranges share one warm connection. It spares the main thread undici's
 * ~30 modules and its WebAssembly parser: measured on a 256 KiB download, ~11 MiB of peak
 * RSS and ~3,500 page faults (see BENCHMARKS.md, start-up).
 */
import { AnswerReader, StaleConnection, type Answer } from './lean-answer.js';
import { LeanConnection } from './lean-connection.js';
import type { ConnectionSettings } from './dispatcher.js';

/** A request of the main thread. */
export interface RequestInit {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  signal?: AbortSignal;
}

export class LeanClient {
  /** Idle connections by origin, the most recently used last. */
  private readonly idle = new Map<string, LeanConnection[]>();
  private closed = false;

  constructor(readonly settings: ConnectionSettings) {}

  /** Send a request; a kept-alive connection the server had closed meanwhile is replaced once per idle one. */
  async request(url: URL, init: RequestInit): Promise<Answer> {
    for (;;) {
      init.signal?.throwIfAborted();
      const connection = this.take(url);
      const reused = connection.requests > 0;
      const reader = new AnswerReader(connection, init.method, this.settings.headersTimeout, init.signal, (reusable) => {
        if (reusable) this.giveBack(connection);
      });
      connection.send(init.method, url.search ? `${url.pathname}${url.search}` : url.pathname, init.headers, reader);
      try {
        return await reader.answer;
      } catch (err) {
        if (err instanceof StaleConnection && reused) continue;
        throw err;
      }
    }
  }

  /** An idle connection to `url`'s origin, or a new one. The caller sends on it, then gives it back or destroys it. */
  take(url: URL): LeanConnection {
    const list = this.idle.get(url.origin);
    for (let c = list?.pop(); c; c = list?.pop()) {
      if (c.alive) return c;
    }
    return new LeanConnection(url.origin, url, this.settings);
  }

  /**
   * Open `count` connections to `url`'s origin now, idle for the next requests to take: a
   * download's first ranges, connected while its probe runs (engine/prewarm.ts).
   */
  preconnect(url: URL, count: number): void {
    for (let i = 0; i < count && !this.closed; i++) {
      const connection = new LeanConnection(url.origin, url, this.settings);
      // It waits idle as a kept-alive connection does: closed by the server before its first
      // answer, it is stale (tried again on a fresh one), not a failure (as preconnect.ts's spares).
      connection.requests++;
      connection.park();
      this.idle.set(url.origin, [connection, ...(this.idle.get(url.origin) ?? [])]);
    }
  }

  /** Keep at most `count` idle connections to `origin` (the most recently used), closing the rest. */
  trim(origin: string, count: number): void {
    const list = this.idle.get(origin);
    if (!list) return;
    for (const extra of list.splice(0, Math.max(0, list.length - count))) extra.destroy();
  }

  /** A connection whose last answer was read to its end: kept for the next request to its origin. */
  giveBack(connection: LeanConnection): void {
    if (this.closed || !connection.alive) return connection.destroy();
    connection.park();
    const list = this.idle.get(connection.origin);
    if (list) list.push(connection);
    else this.idle.set(connection.origin, [connection]);
  }

  /** Close the idle connections; one still busy closes when its answer ends. */
  close(): Promise<void> {
    this.closed = true;
    for (const list of this.idle.values()) for (const c of list) c.destroy();
    this.idle.clear();
    return Promise.resolve();
  }

  destroy(): Promise<void> {
    return this.close();
  }
}
