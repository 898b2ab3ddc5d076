/**
 * One file streamed in file order (`-o -`, `downloadStream`): the pool's connections write
 * their ranges into a ring file of one window's size (byte `x` at `x mod window`), only
 * within the window after the last byte delivered (window.ts); the main thread reads the
 * contiguous written prefix out of the ring and hands it to the consumer, and the window
 * moves only when the consumer has taken it. Memory holds one chunk (the window is in the
 * page cache), disk holds one window, and a slow consumer pauses the connections. A server
 * without ranges streams its one answer as it arrives.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { statusFailure } from '../http/failures.js';
import type { ProbeResult } from '../http/probe.js';
import { header } from '../http/headers.js';
import { discard, followRedirects } from '../http/request.js';
import { validatorChange } from '../http/validators.js';
import type { ResponseBody } from '../http/client.js';
import { whenAborted } from '../primitives/abort.js';
import { AbortError, ChecksumError, InternalError, NetworkError, RangegetError, RemoteChangedError, FileError } from '../primitives/errors.js';
import type { DownloadResult } from './events.js';
import { Meter } from './meter.js';
import { fetchesRanges } from './plan.js';
import { countSettings } from './connection-count.js';
import { newPool } from './pool-setup.js';
import { findSources } from './sources.js';
import type { TransferContext } from './transfer.js';
import { streamPieceSize, WindowFeed } from './window.js';
import { RangesUnsupported, type WorkerPool } from './worker-pool.js';

/** Hands a chunk to the consumer; resolves when it may take more (back-pressure). */
export type StreamWrite = (chunk: Buffer) => Promise<void>;

/** Most bytes read out of the ring at once: the only copy of the stream in memory. */
const CHUNK = 256 * 1024;
/** Milliseconds between looks at the slot table while the next bytes are not written yet. */
const POLL = 4;

/** A ring file: open, already unlinked where the OS allows (Linux), removed by `close` anyway. */
interface Ring {
  fd: number;
  /** The path the workers open. */
  path: string;
  close(): void;
}

function openRing(): Ring {
  const file = join(tmpdir(), `rangeget-stream-${process.pid}-${Math.random().toString(36).slice(2)}.ring`);
  let fd: number;
  try {
    fd = openSync(file, 'wx+', 0o600);
  } catch (err) {
    // Not fileError's words: they name -d and -o, which do not place this file.
    throw new FileError(`cannot create the stream's temporary file in ${tmpdir()} (${(err as Error).message}); set TMPDIR to a writable directory with room for one --stream-window`, { cause: err });
  }
  // On Linux the workers (threads of this process) open it through /proc: it can go at once.
  const viaProc = process.platform === 'linux';
  if (viaProc) unlinkSync(file);
  return {
    fd,
    path: viaProc ? `/proc/self/fd/${fd}` : file,
    close: () => {
      closeSync(fd);
      if (!viaProc) unlinkSync(file);
    },
  };
}

/** One file's stream, start to `done` event: {@link run} it once. */
export class StreamTransfer {
  /** Bytes handed to the consumer. */
  private streamed = 0;
  private pool: WorkerPool | undefined;
  private readonly hash: Hash | undefined;
  private readonly meter: Meter;
  private connections: number;

  constructor(
    private readonly context: TransferContext,
    private readonly info: ProbeResult,
    private readonly write: StreamWrite,
  ) {
    const { checksum, connections } = context.opts;
    this.hash = checksum ? createHash(checksum.algorithm) : undefined;
    this.meter = new Meter(context.started);
    this.connections = fetchesRanges(info) ? connections : 1;
  }

  /** Stream every byte in order, then verify. */
  async run(): Promise<DownloadResult> {
    const { opts } = this.context;
    const ticker = setInterval(() => this.report(), opts.progressInterval);
    const abort = whenAborted(opts.signal);
    try {
      await Promise.race([this.fetch(), abort.aborted]);
    } catch (err) {
      if (opts.signal?.aborted) {
        throw new AbortError({ written: this.streamed, resumable: false }, `aborted after ${this.streamed} bytes were streamed; a stream cannot be resumed`);
      }
      throw err;
    } finally {
      abort.dispose();
      clearInterval(ticker);
      await this.pool?.stop();
      this.report();
    }
    return this.finish();
  }

  private async fetch(): Promise<void> {
    const { info } = this;
    if (!fetchesRanges(info)) return this.fromBody(info.body);
    try {
      await this.fromRanges(info.size!);
    } catch (err) {
      // A server that answers a range with the whole file: the rest comes from one answer of the whole file.
      if (!(err instanceof RangesUnsupported)) throw err;
      this.context.emit({ type: 'warning', message: `using one connection from the start: ${err.message}` });
      this.connections = 1;
      await this.pool?.stop();
      this.pool = undefined;
      return this.fromBody(undefined);
    }
  }

  /** Hand a chunk on, hashing it on the way. */
  private async deliver(chunk: Buffer): Promise<void> {
    this.hash?.update(chunk);
    await this.write(chunk);
    this.streamed += chunk.length;
  }

  /** The pool fetches within the window into the ring; the written prefix is read out in order. */
  private async fromRanges(size: number): Promise<void> {
    const { opts } = this.context;
    const ring = Math.min(opts.streamWindow, size);
    const sources = await findSources(this.info, opts.mirrors, (url) => this.context.probe(url), (message) => this.context.emit({ type: 'warning', message }));
    const file = openRing();
    try {
      const pool = newPool(this.context, { onConnections: (connections, reason) => this.context.emit({ type: 'connections', connections, reason }) });
      const count = countSettings(opts, true);
      this.pool = pool;
      const piece = streamPieceSize(ring, opts.connections);
      const feed = new WindowFeed(size, piece, ring);
      let failure: unknown;
      const running = pool.run(
        { partPath: file.path, sources, mode: 'ranges', size, ring, minRangeSize: opts.minRangeSize, connections: count, feed },
        [],
      );
      running.catch((err: unknown) => (failure = err));
      this.context.emit({ type: 'start', path: '-', size, connections: count.start, ranges: Math.ceil(size / piece) });
      while (this.streamed < size) {
        if (failure) throw failure;
        if (opts.signal?.aborted) throw new AbortError();
        const ready = prefix(pool) - this.streamed;
        if (ready <= 0) {
          await sleep(POLL);
          continue;
        }
        await this.deliver(readRing(file.fd, ring, this.streamed, Math.min(ready, CHUNK)));
        // The consumer took it: that part of the ring may be written again.
        feed.advance(this.streamed + ring);
        pool.wake();
      }
      await running;
    } finally {
      await this.pool?.stop();
      file.close();
    }
  }

  /**
   * One answer of the whole file, in order as it arrives: the probe's, or a new GET. Bytes
   * already streamed (before a server turned out to ignore ranges) are skipped, from the same
   * version of the file only.
   */
  private async fromBody(kept: ResponseBody | undefined): Promise<void> {
    const { opts, client } = this.context;
    const { size } = this.info;
    this.context.emit({ type: 'start', path: '-', size, connections: 1, ranges: 1 });
    let body = kept;
    if (!body) {
      const url = new URL(this.info.finalUrl);
      const res = await followRedirects(client, url, { method: 'GET', ...(opts.signal ? { signal: opts.signal } : {}) }, opts.request);
      const change = validatorChange(this.info, { etag: header(res.headers, 'etag'), lastModified: header(res.headers, 'last-modified') });
      if (res.statusCode !== 200 || (change && this.streamed > 0)) {
        discard(res);
        if (change) throw new RemoteChangedError(`the remote file changed (${change}) after ${this.streamed} bytes were streamed; a stream cannot start over`);
        throw statusFailure(res.statusCode, res.url.href, res.headers).error;
      }
      body = res.body;
    }
    let received = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (size !== undefined && received + chunk.length > size) throw new RemoteChangedError(`the server sends more than the ${size} bytes it announced`);
        const fresh = chunk.subarray(Math.max(0, this.streamed - received));
        received += chunk.length;
        if (fresh.length === 0) continue;
        const wait = opts.rate?.reserve(fresh.length) ?? 0;
        if (wait > 0) await sleep(wait);
        await this.deliver(fresh);
      }
    } catch (err) {
      body.destroy();
      if (err instanceof RangegetError || opts.signal?.aborted) throw err;
      throw new NetworkError(`the answer broke off after ${this.streamed} bytes (${(err as Error).message}); a stream cannot be resumed`, { cause: err });
    }
    if (size !== undefined && received < size) throw new NetworkError(`the answer ended after ${received} of ${size} bytes; a stream cannot be resumed`);
  }

  private report(): void {
    // The written prefix: bytes ready, handed on or about to be.
    const written = Math.max(this.streamed, this.pool ? prefix(this.pool) : 0);
    const progress = this.meter.progress({ now: performance.now(), written, total: this.info.size, connections: this.pool?.activeConnections() ?? 0 });
    this.context.opts.onProgress?.(progress);
    this.context.emit({ type: 'progress', ...progress });
  }

  /** Verify the digest of what was streamed, and say `done`. */
  private finish(): DownloadResult {
    const { checksum } = this.context.opts;
    const digest = this.hash?.digest('hex');
    if (checksum && digest !== checksum.hex) throw new ChecksumError(checksum.algorithm, checksum.hex, digest ?? '', undefined, true);
    const { info } = this;
    const result: DownloadResult = {
      path: '-',
      url: info.url,
      finalUrl: info.finalUrl,
      size: this.streamed,
      duration: performance.now() - this.context.started,
      resumed: 0,
      connections: this.connections,
      ...(digest !== undefined ? { digest } : {}),
    };
    this.context.emit({ type: 'done', ...result });
    return result;
  }
}

/** Bytes written from the first on, without a gap. */
function prefix(pool: WorkerPool): number {
  const first = pool.written()[0];
  return first?.start === 0 ? first.end : 0;
}

/** `length` bytes of the file from `position`, out of the ring (split where it wraps). */
function readRing(fd: number, ring: number, position: number, length: number): Buffer {
  const chunk = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const at = (position + done) % ring;
    const n = readSync(fd, chunk, done, Math.min(length - done, ring - at), at);
    if (n <= 0) throw new InternalError(`the stream's ring file ended at ${at} of ${ring} bytes`);
    done += n;
  }
  return chunk;
}
