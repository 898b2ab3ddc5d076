/**
 * The pool's threads: the workers that drive its connections, each started with its share of
 * the slots, and stopped so that what they hold in buffers is written first.
 */
import type { Worker } from 'node:worker_threads';
import { InlineWorker } from './inline-worker.js';
import { takeWorker } from './prewarm.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import type { RateLimiter } from './rate.js';
import type { SlotTable } from './slots.js';
import type { RequestSettings } from '../http/request.js';
import type { RetrySettings } from '../http/retry-policy.js';
import type { HttpClient } from '../http/client.js';

/** A worker thread, or its in-thread stand-in. */
type PoolWorker = Worker | InlineWorker;

/** How a pool's threads are started, for its whole life (one download). */
export interface ThreadOptions {
  /** Connections (slots) at once. */
  connections: number;
  /** Worker threads; each drives `connections / threads` connections. */
  threads: number;
  request: RequestSettings;
  retry: RetrySettings;
  writeBuffer: number;
  flushInterval: number;
  rate?: RateLimiter;
  /** Report every request and response through `onTrace`. */
  trace?: boolean;
  /**
   * Run the fetchers in the main thread instead of worker threads (small files), on these
   * connections (the download's: a batch keeps them open from one file to the next).
   */
  inline?: HttpClient;
}

/** What the workers tell their owner. */
export interface ThreadEvents {
  message: (message: FromWorker) => void;
  error: (err: Error) => void;
  /** A worker ended; `code` is 0 when it stopped as asked. */
  exit: (code: number) => void;
}

/** The workers of one pool. */
export class Threads {
  /** In start order; slot `s` belongs to worker `s % workers.length`. */
  private readonly workers: readonly PoolWorker[];
  private readonly exited = new Set<PoolWorker>();

  /**
   * Start the workers (taken warm when possible; in-thread stand-ins on `options.inline`'s
   * connections when given), sharing the slots of `table` as evenly as they can.
   */
  constructor(options: ThreadOptions, table: SlotTable, events: ThreadEvents) {
    const count = Math.max(1, Math.min(options.threads, table.count));
    const { request, retry, writeBuffer, flushInterval } = options;
    const init: Omit<WorkerInit, 'connections'> = { slotBuffer: table.buffer, request, retry, writeBuffer, flushInterval };
    if (options.rate) init.rateBuffer = options.rate.buffer;
    if (options.trace) init.trace = true;
    this.workers = Array.from({ length: count }, (_, t) => {
      const owned = Math.floor(table.count / count) + (t < table.count % count ? 1 : 0);
      const worker: PoolWorker = options.inline ? new InlineWorker(options.inline) : takeWorker();
      worker.on('message', events.message);
      worker.on('error', events.error);
      worker.on('exit', (code) => {
        this.exited.add(worker);
        events.exit(code);
      });
      worker.postMessage({ type: 'init', init: { ...init, connections: owned } } satisfies ToWorker);
      return worker;
    });
  }

  /** Tell the worker of `slot` to fetch the slot's range (as the table has it) from `source`. */
  run(slot: number, source: number): void {
    this.workers[slot % this.workers.length]!.postMessage({ type: 'run', slot, source } satisfies ToWorker);
  }

  /** Send a message to every worker. */
  post(message: ToWorker): void {
    for (const worker of this.workers) worker.postMessage(message);
  }

  /**
   * Stop every worker: after it writes its buffers when `flush`, else at once. A worker that
   * does not answer in time is ended: its positions are still true.
   */
  stop(flush: boolean): Promise<void> {
    return Promise.all(this.workers.map((worker) => (flush ? this.stopAfterFlush(worker) : worker.terminate()))).then(() => undefined);
  }

  private stopAfterFlush(worker: PoolWorker): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.exited.has(worker)) {
        resolve();
        return;
      }
      const timer = setTimeout(() => void worker.terminate(), 10_000);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ type: 'stop' } satisfies ToWorker);
    });
  }
}
