/**
 * The protocol between the pool (main thread) and its workers. Messages are per range,
 * never per chunk: bytes and positions travel through the shared {@link SlotTable}.
 */
import type { WireError } from '../primitives/errors.js';
import type { RetrySettings } from '../http/retry-policy.js';
import type { RequestSettings } from '../http/request.js';
import type { HttpTrace } from '../http/trace.js';
import type { PreconnectOrder } from './preconnect.js';

/** How a worker fetches: byte ranges (206), or one plain stream from the start (200). */
export type FetchMode = 'ranges' | 'stream';

/** Settings of a worker for its whole life (one download), sent once in an `init` message. */
export interface WorkerInit {
  slotBuffer: SharedArrayBuffer;
  /** Shared token bucket for `--max-speed`, when set. */
  rateBuffer?: SharedArrayBuffer;
  request: RequestSettings;
  /** Connections this worker drives (sizes its dispatcher). */
  connections: number;
  retry: RetrySettings;
  /** Bytes buffered per connection before one positional write. */
  writeBuffer: number;
  /** Longest time in ms bytes wait in a buffer before they are written. */
  flushInterval: number;
  /** Report every request and response (`-v`). */
  trace?: boolean;
}

/** The file being fetched: known after the probe, sent in a `file` message. */
export interface FetchFile {
  partPath: string;
  /** Where to fetch from, by source index: the URL first, then the `--mirror`s. */
  sources: Source[];
  mode: FetchMode;
  /** Size of the file, when known. */
  size: number | undefined;
  /** A stream's ring: `partPath` is a file of this many bytes, byte `x` at `x mod ring`. */
  ring?: number;
}

/** One server of the file, as its probe found it. */
export interface Source {
  /** Final URL, after redirects. */
  url: string;
  etag?: string;
  lastModified?: string;
}

/**
 * Main → worker. Workers start before the probe; `init` and `file` come before any `run`.
 * `preconnect` may come first of all (a warm worker, while the probe runs: preconnect.ts).
 */
export type ToWorker =
  | { type: 'preconnect'; order: PreconnectOrder }
  | { type: 'init'; init: WorkerInit }
  | { type: 'file'; file: FetchFile }
  | { type: 'run'; slot: number; source: number }
  | { type: 'stop' };

/** Worker → main. */
export type FromWorker =
  | { type: 'done'; slot: number }
  | { type: 'failed'; slot: number; error: WireError }
  /** The server answered a range request with the whole file: ranges do not work after all. */
  | { type: 'no-ranges'; slot: number; reason: string }
  | { type: 'retry'; slot: number; attempt: number; delay: number; reason: string; pushback: boolean }
  | { type: 'http'; trace: HttpTrace }
  | { type: 'stopped' }
  /** Posted once, as the thread starts taking messages: a warm thread running when the probe answers takes a small file too (prewarm.ts). */
  | { type: 'ready' };
