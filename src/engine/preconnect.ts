/**
 * Connections opened while the probe runs. A warm worker thread opens, as soon as it is told
 * to, the lean connections its first ranges will take, so that their TCP (and TLS) handshakes
 * overlap the probe instead of following it: at a 200 ms round trip the probe costs two round
 * trips (connect, HEAD) and each range connection one more after it, which aria2c (whose first
 * GET carries data) does not pay. The main thread decides what to open ({@link preconnectPlan},
 * used by prewarm.ts); the worker keeps them as spares ({@link Spares}) until its fetcher takes
 * them. Polite: never more than the download starts with, only where the lean path carries the
 * ranges, and closed as soon as the probe says they will not be used.
 */
import { leanReaches } from '../http/client.js';
import type { ConnectionSettings } from '../http/dispatcher.js';
import { LeanConnection } from '../http/lean-connection.js';
import { countSettings } from './connection-count.js';
import type { DownloadSettings } from './settings.js';

/** What one worker opens: `count` connections to `origin` (0: close every spare). */
export interface PreconnectOrder {
  origin: string;
  count: number;
  connection: ConnectionSettings;
}

/** What a download preconnects to: its URL's origin, as many as it starts with. */
export interface PreconnectPlan {
  origin: string;
  /** Connections the download starts with (`-c N`, or `-c auto`'s start). */
  connections: number;
  /** Threads the connections are shared by, slot `s` to thread `s % threads` (threads.ts). */
  threads: number;
  minRangeSize: number;
  connection: ConnectionSettings;
}

/**
 * The plan for a download, or undefined where its ranges would not go the lean way (a proxy,
 * `-v`, `RANGEGET_TRANSPORT=undici`, a scheme other than http(s); see `Fetcher.leanFits`).
 */
export function preconnectPlan(opts: DownloadSettings): PreconnectPlan | undefined {
  const { connection } = opts.request;
  const lean = !opts.trace && leanReaches(connection) && (opts.url.protocol === 'http:' || opts.url.protocol === 'https:');
  if (!lean) return undefined;
  const connections = countSettings(opts, true).start;
  return { origin: opts.url.origin, connections, threads: Math.min(opts.threads, opts.connections), minRangeSize: opts.minRangeSize, connection };
}

/**
 * Connections a file of `size` bytes starts with at most: no range is smaller than the
 * minimum range size, so no more can be busy at once (undefined size: the plan's count).
 */
export function connectionsFor(plan: PreconnectPlan, size: number | undefined): number {
  if (size === undefined) return plan.connections;
  return Math.min(plan.connections, Math.max(1, Math.floor(size / plan.minRangeSize)));
}

/** Thread `t`'s share of `connections` (slot `s` belongs to thread `s % threads`). */
export function threadShare(connections: number, threads: number, t: number): number {
  return Math.floor(connections / threads) + (t < connections % threads ? 1 : 0);
}

/**
 * A worker's spare connections. One that fails to connect, or that the server closes, is
 * dropped without a word: the range that would have taken it connects itself, and that
 * attempt reports what goes wrong.
 */
export class Spares {
  private spares: LeanConnection[] = [];
  /** The origin ordered last, and how many to it: a smaller order never opens more. */
  private origin: string | undefined;
  private ordered = 0;

  /** Have at most `order.count` spares to `order.origin`: the rest closed, missing ones opened. */
  want(order: PreconnectOrder): void {
    if (this.origin !== order.origin) this.ordered = 0;
    this.origin = order.origin;
    this.keep((origin) => origin === order.origin);
    for (const extra of this.spares.splice(order.count)) extra.destroy();
    if (order.count <= this.ordered) {
      this.ordered = order.count;
      return;
    }
    const url = new URL(order.origin);
    for (let i = this.ordered; i < order.count; i++) this.spares.push(new LeanConnection(order.origin, url, order.connection));
    this.ordered = order.count;
  }

  /** Close the spares whose origin does not fit (and any no longer alive). */
  keep(fits: (origin: string) => boolean): void {
    this.spares = this.spares.filter((spare) => {
      if (spare.alive && fits(spare.origin)) return true;
      spare.destroy();
      return false;
    });
  }

  /** A spare to `origin`, no longer a spare; undefined when none is alive. */
  take(origin: string): LeanConnection | undefined {
    this.keep(() => true);
    const at = this.spares.findIndex((spare) => spare.origin === origin);
    if (at < 0) return undefined;
    const [spare] = this.spares.splice(at, 1);
    // It waited idle as a kept-alive connection does: closed by the server before its first
    // answer, it is stale (tried again on a fresh one, range-reader.ts), not a failure.
    spare!.requests++;
    return spare;
  }

  /** Close every spare. */
  close(): void {
    this.keep(() => false);
    this.ordered = 0;
  }
}
