/**
 * The protocol between the pool (main thread) and its workers. Messages are per range,
 * never per chunk: bytes and positions travel through the shared {@link SlotTable}.
 */
import type { ErrorCode } from './errors.js';
import type { RequestSettings } from './http.js';
import type { HttpTrace } from './trace.js';

/** How a worker fetches: byte ranges (206), or one plain stream from the start (200). */
export type FetchMode = 'ranges' | 'stream';

/** Retry policy of a range. */
export interface RetrySettings {
  /** Failed attempts in a row (without a byte written) before the range fails. */
  retries: number;
  /** First backoff delay in ms; doubled each attempt, with jitter. */
  retryWait: number;
  /** Longest wait in ms, for backoff and for a server's Retry-After. */
  maxRetryWait: number;
}

/** Everything a worker needs, given once as `workerData`. */
export interface WorkerInit {
  slotBuffer: SharedArrayBuffer;
  /** Shared token bucket for `--max-speed`, when set. */
  rateBuffer?: SharedArrayBuffer;
  partPath: string;
  /** URLs to fetch from, by mirror index (the final URL of each after its probe). */
  urls: string[];
  request: RequestSettings;
  /** Connections this worker drives (sizes its dispatcher). */
  connections: number;
  mode: FetchMode;
  /** Size of the file, when known. */
  size: number | undefined;
  etag?: string;
  lastModified?: string;
  retry: RetrySettings;
  /** Bytes buffered per connection before one positional write. */
  writeBuffer: number;
  /** Longest time in ms bytes wait in a buffer before they are written. */
  flushInterval: number;
  /** Report every request and response (`-v`). */
  trace?: boolean;
}

/** Main → worker. */
export type ToWorker =
  | { type: 'run'; slot: number; mirror: number }
  | { type: 'stop' };

/** An error crossing the thread boundary. */
export interface WireError {
  code: ErrorCode;
  message: string;
  status?: number;
  url?: string;
}

/** Worker → main. */
export type FromWorker =
  | { type: 'done'; slot: number }
  | { type: 'failed'; slot: number; error: WireError }
  /** The server answered a range request with the whole file: ranges do not work after all. */
  | { type: 'no-ranges'; slot: number; reason: string }
  | { type: 'retry'; slot: number; attempt: number; delay: number; reason: string }
  | { type: 'http'; trace: HttpTrace }
  | { type: 'stopped' };
