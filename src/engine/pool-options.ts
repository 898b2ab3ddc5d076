/**
 * A transfer's pool settings: the download's settings turned into the pool's, and the pool's
 * reports turned into the download's events and warnings (worded here, in one place).
 */
import type { Dispatcher } from '../http/undici.js';
import type { DownloadEvent } from './events.js';
import { formatRate } from './meter.js';
import type { DownloadSettings } from './settings.js';
import type { PoolOptions } from './worker-pool.js';

/** Bytes buffered per connection before a positional write. */
const WRITE_BUFFER = 256 * 1024;
/** Longest time received bytes wait in a buffer. */
const FLUSH_INTERVAL = 200;

/** What the pool's reports go to. */
export interface PoolReports {
  emit(event: DownloadEvent): void;
  /** A range is complete. */
  rangeDone(): void;
  /** `-c auto` changed the count. */
  connections(connections: number, reason: string): void;
}

/** The pool's options for one transfer; `inline`: the connections a small file is fetched on, in the main thread. */
export function poolOptions(opts: DownloadSettings, inline: Dispatcher | undefined, reports: PoolReports): PoolOptions {
  const warn = (message: string): void => reports.emit({ type: 'warning', message });
  return {
    ...(inline ? { inline } : {}),
    connections: opts.connections,
    threads: inline ? 1 : opts.threads,
    request: opts.request,
    retry: opts.retry,
    writeBuffer: WRITE_BUFFER,
    flushInterval: FLUSH_INTERVAL,
    ...(opts.rate ? { rate: opts.rate } : {}),
    trace: opts.trace,
    onTrace: (trace) => reports.emit({ type: 'http', ...trace }),
    onRetry: (r) => reports.emit({ type: 'retry', attempt: r.attempt, delay: r.delay, reason: r.reason }),
    onRangeDone: () => reports.rangeDone(),
    onSlow: (speed, median) => warn(`a connection ran at ${formatRate(speed)} against a median of ${formatRate(median)}; the rest of its range goes to another connection`),
    onEndgame: (speed, s) => warn(`the last range ran at ${formatRate(speed)}, ${Number.isFinite(s) ? `${Math.round(s)} s` : 'forever'} from its end; an idle connection fetches the rest`),
    onSourceDropped: (url, reason) => warn(`mirror ${url} dropped for the rest of the download: ${reason}`),
    onConnections: (connections, reason) => reports.connections(connections, reason),
  };
}
