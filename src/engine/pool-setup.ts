/**
 * A pool for one file's fetch, set up the same way for a file and for a stream: worker
 * threads (taken warm when possible) or inline fetchers for a small file, and every report
 * of the pool turned into the download's events.
 */
import type { HttpClient } from '../http/client.js';
import type { DownloadEvent } from './events.js';
import { formatRate } from './meter.js';
import type { DownloadSettings } from './settings.js';
import { WorkerPool, type PoolOptions } from './worker-pool.js';

/** Bytes buffered per connection before a positional write. */
const WRITE_BUFFER = 256 * 1024;
/** Longest time received bytes wait in a buffer. */
const FLUSH_INTERVAL = 200;

/** What a pool reports to, and runs on. */
export interface PoolContext {
  opts: DownloadSettings;
  /** The download's connections: a small file is fetched on them, in the main thread. */
  client: HttpClient;
  /** Worker threads fetch the file, else the main thread (prewarm.ts: `WarmUp.threaded`, `threadsFor`). */
  threaded: boolean;
  emit(event: DownloadEvent): void;
}

/** What the caller hears from its pool besides events: ranges done, the count changed, bytes written (piece checks). */
export type PoolHooks = Pick<PoolOptions, 'onRangeDone' | 'onConnections' | 'onWritten'>;

/** A pool for one file's fetch. */
export function newPool(context: PoolContext, hooks: PoolHooks = {}): WorkerPool {
  const { opts } = context;
  const warn = (message: string): void => context.emit({ type: 'warning', message });
  const inline = !context.threaded;
  return new WorkerPool({
    ...(inline ? { inline: context.client } : {}),
    connections: opts.connections,
    threads: inline ? 1 : opts.threads,
    request: opts.request,
    retry: opts.retry,
    writeBuffer: WRITE_BUFFER,
    flushInterval: FLUSH_INTERVAL,
    ...(opts.rate ? { rate: opts.rate } : {}),
    trace: opts.trace,
    onTrace: (trace) => context.emit({ type: 'http', ...trace }),
    onRetry: (r) => context.emit({ type: 'retry', attempt: r.attempt, delay: r.delay, reason: r.reason }),
    ...hooks,
    onSlow: (speed, median) => warn(`a connection ran at ${formatRate(speed)} against a median of ${formatRate(median)}; the rest of its range goes to another connection`),
    onEndgame: (speed, s) =>
      warn(`the last range ran at ${formatRate(speed)}, ${Number.isFinite(s) ? `${Math.round(s)} s` : 'forever'} from its end; an idle connection fetches the rest`),
    onSourceDropped: (url, reason) => warn(`mirror ${url} dropped for the rest of the download: ${reason}`),
  });
}
