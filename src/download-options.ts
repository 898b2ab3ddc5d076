/**
 * The public options of one download: the type only. Validated into the engine's settings by
 * `resolveOptions` (options.ts).
 */
import type { DownloadEvent, Progress } from './engine/events.js';
import type { RateLimiter } from './engine/rate.js';
import type { Checksum, PieceHashes } from './primitives/checksum.js';

/** Options of {@link download}. Every CLI flag has one. */
export interface DownloadOptions {
  /** Output file (`-o`). Relative paths are taken from `dir`. Default: a name from the server. */
  output?: string;
  /** Output directory (`-d`), created if missing. Default: the current directory. */
  dir?: string;
  /**
   * Connections at once (`-c`): a number from 1 to 64, or `'auto'` (the default): start with 16,
   * double while the total speed rises by a quarter or more, stop at the plateau, never more
   * than `maxConnections`, and one fewer each time the server pushes back (429, 503, a refused
   * or reset connection).
   */
  connections?: number | 'auto';
  /** The most connections `connections: 'auto'` may use (`--max-connections`), 1 to 64. Default 16. */
  maxConnections?: number;
  /**
   * Worker threads (`--threads`), at most `connections`; given, a file over 4 MiB is always
   * fetched in that many. Unset: one worker thread for a file over 4 MiB whose bytes cost more than a copy
   * (a proxy or `trace`), or with a checksum to verify when it is over 384 MiB or the server is
   * far (the probe took over 25 ms), the main thread otherwise, https included (measured; see
   * the README's *Who fetches*).
   */
  threads?: number;
  /** Smallest range a connection gets, in bytes (`--min-range`). Default 1 MiB; unset, a small file on a path of 5 ms or more is shared among the connections down to 64 KiB. */
  minRangeSize?: number;
  /** Expected digest, `'sha256=HEX'` or a parsed {@link Checksum} (`--checksum`). */
  checksum?: string | Checksum;
  /**
   * Ask the server for its digest of the file (`Want-Repr-Digest`) and verify the file against
   * a `Repr-Digest` (RFC 9530) or `Digest` (RFC 3230) it sends, as if it were `checksum`
   * (`checksum` wins). `false`: `--no-server-digest`. Default true.
   */
  serverDigest?: boolean;
  /**
   * Digests of the file's consecutive pieces (a metalink's `<pieces>`, set by
   * {@link downloadMetalink}): each piece is checked once written; a bad one is fetched again
   * from another source, and the source that served it is used last from then on.
   */
  pieces?: PieceHashes;
  /**
   * A URL that answers `application/metalink4+xml` is read as a metalink (RFC 5854) and the
   * file it lists is downloaded, with its mirrors and hashes; false saves the document itself.
   * Default true.
   */
  metalink?: boolean;
  /** Extra request headers (`-H`). */
  headers?: Record<string, string> | ReadonlyArray<readonly [string, string]>;
  /** User-Agent header (`--user-agent`). Default `rangeget/<version>`. */
  userAgent?: string;
  /** Basic-auth credentials (`--user`), as `'user:password'` or an object. */
  user?: string | { user: string; password: string };
  /**
   * Credentials from a `.netrc` file for the URL's host (used when `user` and the URL give
   * none; sent to the URL's origin only): a path, or true for `$NETRC` or `~/.netrc` (a
   * missing one is no entries). The CLI reads it by default (`--no-netrc`). Default false.
   */
  netrc?: boolean | string;
  /**
   * A Netscape `cookies.txt` file (`--load-cookies`, curl `-b FILE`): each cookie is sent to
   * the URLs its domain, path, secure flag and expiry allow, redirects included.
   */
  cookieFile?: string;
  /** Replace an existing file at the output path (`--overwrite`). Default false. */
  overwrite?: boolean;
  /**
   * A file already at the output path (`--continue`; wget -c, aria2c -c): complete (the remote
   * size, not older than the remote Last-Modified) is done without fetching; shorter, with a
   * Last-Modified not newer than it, it is continued from its end; otherwise fetched again
   * and replaced. Without it, an existing file is refused. Default false.
   */
  continue?: boolean;
  /** Leave any existing file at the output path alone and succeed (`--skip-existing`, wget -nc). Default false. */
  skipExisting?: boolean;
  /**
   * Fetch only when the remote file is newer than the file at the output path (`-N`, wget -N,
   * curl -z): the probe carries `If-Modified-Since` with the file's time, and a `304` leaves it
   * alone; where the server ignores that, the probe's Last-Modified and size decide. The new
   * one replaces the old once verified. Default false.
   */
  timestamping?: boolean;
  /** Give the saved file the remote Last-Modified as its time (`--no-remote-time` sets false). Default true. */
  remoteTime?: boolean;
  /**
   * Sync the `.part` file to the disk before each control-file save and before it is moved to
   * its path, so that neither a crash nor a power cut leaves a control file claiming lost bytes
   * or a finished file with holes. False (`--no-fsync`): the kernel writes the data back when it
   * will, as for aria2c, curl and wget; a killed process still loses nothing. Where the network
   * outruns the disk this is faster (README, Performance).
   * Default true.
   */
  fsync?: boolean;
  /** Continue from a control file left by an earlier run (`--no-resume` sets false). Default true. */
  resume?: boolean;
  /** When the remote file changed, start over (true) or fail (false, `--no-restart`). Default true. */
  restart?: boolean;
  /**
   * Failed attempts in a row before a range fails (`--retries`). Default 5; when left out, a
   * refused connection or an unknown host at the first probe fails after one quick retry.
   */
  retries?: number;
  /** First retry delay in ms, doubled each time (`--retry-wait`). Default 1000. */
  retryWait?: number;
  /** Connect, response-header and stall timeout in ms (`--timeout`). Default 30000. */
  timeout?: number;
  /** Time to establish a connection, TLS included, in ms (`--connect-timeout`). Default: `timeout`. */
  connectTimeout?: number;
  /** Connect over IPv4 (4) or IPv6 (6) only (`-4` / `-6`). Default: either. */
  family?: 4 | 6;
  /** Local IP address to connect from (`--bind`). */
  localAddress?: string;
  /** Redirects to follow at most (`--max-redirects`). Default 10. */
  maxRedirects?: number;
  /** Other URLs of the same file (`--mirror`); ranges are spread over all of them. */
  mirrors?: ReadonlyArray<string | URL>;
  /**
   * Limit of the total rate in bytes per second, shared by all connections (`--max-speed`);
   * or a {@link RateLimiter} to share one limit between several downloads (as
   * `downloadMany` does).
   */
  maxSpeed?: number | RateLimiter;
  /** Skip TLS certificate checks (`--insecure`). Default false. */
  insecure?: boolean;
  /** File with extra CA certificates in PEM (`--ca-cert`), trusted besides Node's roots and NODE_EXTRA_CA_CERTS. */
  caCert?: string;
  /** Proxy URL (`--proxy`). Default: HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the environment. */
  proxy?: string;
  /** Abort the download; the `.part` and control files are kept for a resume. */
  signal?: AbortSignal;
  /** Called a few times a second with the progress. */
  onProgress?: (progress: Progress) => void;
  /** Called for every event (probe, resume, retry, warning, progress, done). */
  onEvent?: (event: DownloadEvent) => void;
  /** Emit an `http` event for every request and response, credentials masked (`-v`). */
  trace?: boolean;
  /** Milliseconds between progress reports. Default 250. */
  progressInterval?: number;
}
