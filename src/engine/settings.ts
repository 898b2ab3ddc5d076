/**
 * The settings of one download, as the engine reads them.
 */
import type { RequestSettings } from '../http/request.js';
import type { RetrySettings } from '../http/retry-policy.js';
import type { Checksum, PieceHashes } from '../primitives/checksum.js';
import type { DownloadEvent, Progress } from './events.js';
import type { RateLimiter } from './rate.js';

/**
 * What the engine runs a download with: the public options validated, defaults filled in,
 * turned into the settings of each layer. Made by `resolveOptions` (options.ts).
 */
export interface DownloadSettings {
  url: URL;
  output?: string;
  dir?: string;
  /** The most connections at once: a fixed `-c N`, or `--max-connections` under `-c auto`. */
  connections: number;
  /** `-c auto`: start with a few connections and add more while the speed rises (connection-count.ts). */
  autoConnections: boolean;
  threads: number;
  /** `--threads` was given: a file over 4 MiB is fetched by that many worker threads, whatever else (prewarm.ts, `worthThreads`). */
  threadsChosen: boolean;
  minRangeSize: number;
  /** `--min-range` was given: the size holds on every path (see plan.ts, `plannedMinRange`). */
  minRangeChosen: boolean;
  /** Bytes a stream's connections may fetch ahead of the consumer (`--stream-window`). */
  streamWindow: number;
  checksum?: Checksum;
  /** Read a URL that answers `application/metalink4+xml` as a metalink (engine/download.ts, `MetalinkAnswer`). */
  metalink: boolean;
  /** Piece hashes (a metalink's): each piece is checked once written, a bad one fetched again. */
  pieces?: PieceHashes;
  /** Ask for and verify the server's digest of the file (Repr-Digest, Digest) when `checksum` is not given. */
  serverDigest: boolean;
  overwrite: boolean;
  /** `continue`: finish or keep a file at the output path (engine/existing.ts). */
  continue: boolean;
  skipExisting: boolean;
  timestamping: boolean;
  /** Give the saved file the remote Last-Modified as its modification time. */
  remoteTime: boolean;
  /** Sync the `.part` file before each control-file save and before the move into place. */
  fsync: boolean;
  resume: boolean;
  restart: boolean;
  request: RequestSettings;
  retry: RetrySettings;
  progressInterval: number;
  /** Said as `warning` events when the download starts (a `.netrc` others can read ...). */
  warnings: string[];
  rate?: RateLimiter;
  mirrors: URL[];
  trace: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  onEvent?: (event: DownloadEvent) => void;
}
