import type { ProbeResult } from '../http/probe.js';
import type { HttpTrace } from '../http/trace.js';
import type { Checksum } from '../primitives/checksum.js';

/**
 * What a download reports while it runs. The CLI prints these (bars or `--json` lines);
 * library users get them through `onEvent` and `onProgress`.
 */

/** Progress of one download. */
export interface Progress {
  /** Bytes written to the `.part` file, resumed bytes included. */
  downloaded: number;
  /** File size, when known. */
  total: number | undefined;
  /** Bytes per second over the last few seconds. */
  speed: number;
  /** Connections fetching right now. */
  connections: number;
  /** Milliseconds since the download started. */
  elapsed: number;
}

/** The result of a finished download. */
export interface DownloadResult {
  /** Absolute path of the saved file; `'-'` for a stream (`downloadStream`, `downloadTo`). */
  path: string;
  /** The URL asked for (credentials removed). */
  url: string;
  /** The URL that served the file, after redirects. */
  finalUrl: string;
  /** Size in bytes. */
  size: number;
  /** Milliseconds from start to the file in place. */
  duration: number;
  /** Bytes that were already on disk from an earlier run. */
  resumed: number;
  /** Most connections used at once (1 when the server does not support ranges). */
  connections: number;
  /** Hex digest, when the file was verified (a checksum asked for, or the server's digest). */
  digest?: string;
  /** The digest the file was verified against, and where it came from. */
  verified?: VerifiedDigest;
  /**
   * Set when nothing was fetched because the file at `path` needed nothing: it `exists`
   * (`skipExisting`), is `complete` (`continue`), or is `not-modified` (`timestamping`).
   */
  skipped?: SkipReason;
}

/** A digest a file was verified against: {@link DownloadResult.verified}. */
export interface VerifiedDigest extends Checksum {
  /**
   * `checksum`: the option (`--checksum`); `Repr-Digest` or `Digest`: the header of that name
   * in the server's answer to the probe of `url`.
   */
  source: 'checksum' | 'Repr-Digest' | 'Digest';
  /** The URL whose answer carried the digest (a server's digest only). */
  url?: string;
}

/** Why a download fetched nothing: see {@link DownloadResult.skipped}. */
export type SkipReason = 'exists' | 'complete' | 'not-modified';

/** One event of a download; `type` says which. */
export type DownloadEvent =
  | {
      type: 'probe';
      url: string;
      finalUrl: string;
      size: number | undefined;
      ranges: boolean;
      etag?: string;
      lastModified?: string;
      path: string;
    }
  | { type: 'resume'; have: number; left: number }
  | { type: 'start'; path: string; size: number | undefined; connections: number; ranges: number }
  | ({ type: 'progress' } & Progress)
  | { type: 'retry'; attempt: number; delay: number; reason: string }
  /** `-c auto` changed the connections in use: how many now, and why. */
  | { type: 'connections'; connections: number; reason: string }
  | { type: 'warning'; message: string }
  /** A request or response, with `trace: true` (`-v`). */
  | ({ type: 'http' } & HttpTrace)
  | ({ type: 'done' } & DownloadResult);

/** What {@link inspect} learnt: the plan of a download that was not started. */
export interface Inspection {
  url: string;
  finalUrl: string;
  size: number | undefined;
  /** Byte ranges still to fetch, `[start, end)`, as the download would start them. */
  ranges: Array<{ start: number; end: number }>;
  /** The server supports byte ranges. */
  rangeSupport: boolean;
  /** An interrupted download could resume (ranges and a validator). */
  resumable: boolean;
  /** Why ranges or resuming are not possible. */
  reason?: string;
  etag?: string;
  lastModified?: string;
  /** Where the file would be saved. */
  path: string;
  /** Something already exists at `path`. */
  exists: boolean;
  /** Bytes an earlier run left that would be kept. */
  have: number;
}

/** The `probe` event: what the probe found, and where the file goes (`-`: a stream). */
export function probeEvent(info: ProbeResult, path: string): DownloadEvent {
  return {
    type: 'probe',
    url: info.url,
    finalUrl: info.finalUrl,
    size: info.size,
    ranges: info.acceptsRanges,
    ...(info.etag ? { etag: info.etag } : {}),
    ...(info.lastModified ? { lastModified: info.lastModified } : {}),
    path,
  };
}
