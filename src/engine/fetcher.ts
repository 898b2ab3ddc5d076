/**
 * The fetcher: fetches the ranges of the slots it is given and writes each body straight
 * into the `.part` file at its offset. It runs in a worker thread (worker.ts), or inline in
 * the main thread for small files, where starting a thread would cost more than the fetch.
 */
import { closeSync, openSync, writevSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DispatchController, DispatchHandler, Dispatcher } from '../http/undici.js';
import { fileError, RangegetError, type ErrorCode } from '../primitives/errors.js';
import { contentLength, header, parseContentRange } from '../http/headers.js';
import { createDispatcher } from '../http/dispatcher.js';
import { describeNetworkError } from '../http/failures.js';
import { headersFor } from '../http/request.js';
import { isStrongEtag } from '../http/validators.js';
import type { FromWorker, Job, Source, ToWorker, WireError, WorkerInit } from './protocol.js';
import { RateLimiter } from './rate.js';
import { SlotTable } from './slots.js';
import { UNKNOWN_END } from '../primitives/ranges.js';
import { backoffDelay, parseRetryAfter } from '../http/retry-policy.js';
import { traceThread } from '../http/trace.js';

/** Why one attempt at a range failed. */
class AttemptError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Retrying may help (network faults, 5xx, 429, a bad Content-Range). */
    readonly retryable: boolean,
    readonly retryAfter?: number,
    readonly status?: number,
    readonly url?: string,
  ) {
    super(message);
  }
}

/** The server ignores ranges: the pool must fall back to one stream. */
class NoRangesError extends Error {}

const retryableStatuses = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Drives the connections of one thread; talks to the pool only through messages and the slot table. */
export class Fetcher {
  // Set by the `init` message (once) and the `job` message (per file).
  private init!: WorkerInit;
  private job!: Job;
  private table!: SlotTable;
  private limiter: RateLimiter | undefined;
  private dispatcher: Dispatcher | undefined;
  private fd = -1;
  private untrace: (() => void) | undefined;
  private readonly running = new Map<number, AbortController>();
  private stopping = false;
  /** Set when a server drops Range on `If-Range` although the file did not change (some CDNs). */
  private ifRangeBroken = false;

  /**
   * `post` sends a message to the pool; `close` ends the thread (or its stand-in). `shared`:
   * a dispatcher to use instead of one of its own (in the main thread, the download's), left
   * open when the fetcher stops.
   */
  constructor(
    private readonly post: (message: FromWorker) => void,
    private readonly close: () => void,
    private readonly shared?: Dispatcher,
  ) {}

  /** Handle one message from the pool. */
  handle(message: ToWorker): void {
    switch (message.type) {
      case 'init':
        this.init = message.init;
        this.table = new SlotTable(this.init.slotBuffer);
        this.limiter = this.init.rateBuffer ? new RateLimiter(this.init.rateBuffer) : undefined;
        this.dispatcher = this.shared ?? createDispatcher(this.init.request.connection, this.init.connections);
        if (this.init.trace) this.untrace = traceThread((trace) => this.post({ type: 'http', trace }));
        break;
      case 'job':
        if (this.fd >= 0) closeSync(this.fd);
        this.job = message.job;
        this.ifRangeBroken = false;
        try {
          this.fd = openSync(this.job.partPath, 'r+');
        } catch (err) {
          this.fd = -1;
          const failure = fileError(err, this.job.partPath);
          this.post({ type: 'failed', slot: -1, error: { code: failure.code, message: failure.message } });
        }
        break;
      case 'run':
        void this.runSlot(message.slot, message.mirror);
        break;
      case 'stop':
        void this.stop();
        break;
    }
  }

  private async stop(): Promise<void> {
    this.stopping = true;
    for (const controller of this.running.values()) controller.abort();
    // Wait for every slot to flush its buffer before the file is closed.
    while (this.running.size > 0) await sleep(5);
    if (!this.shared) await this.dispatcher?.destroy().catch(() => undefined);
    this.untrace?.();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.post({ type: 'stopped' });
    this.close();
  }

  private async runSlot(slot: number, mirror: number): Promise<void> {
    const controller = new AbortController();
    this.running.set(slot, controller);
    try {
      let failures = 0;
      for (;;) {
        if (this.table.position(slot) >= this.table.end(slot) || this.stopping) break;
        const before = this.table.position(slot);
        try {
          const complete = await this.fetchOnce(slot, mirror, controller.signal);
          if (this.table.position(slot) >= this.table.end(slot)) break;
          if (this.job.mode === 'stream' && this.table.end(slot) === UNKNOWN_END) break; // a stream of unknown length ends when the body does
          if (complete) {
            // A valid 206 for less than was asked (servers may cap a response): ask for the rest.
            failures = 0;
            continue;
          }
          throw new AttemptError('ENETWORK', 'connection closed before the range was complete', true);
        } catch (err) {
          if (this.stopping || this.table.position(slot) >= this.table.end(slot)) break;
          if (err instanceof NoRangesError) {
            this.post({ type: 'no-ranges', slot, reason: err.message });
            return;
          }
          const failure = this.toAttemptError(err);
          if (!failure.retryable) {
            this.post({ type: 'failed', slot, error: this.wire(failure) });
            return;
          }
          if (this.job.mode === 'stream') this.table.setPosition(slot, 0); // a plain stream can only start over
          failures = this.table.position(slot) > before && this.job.mode === 'ranges' ? 1 : failures + 1;
          if (failures > this.init.retry.retries) {
            this.post({ type: 'failed', slot, error: this.wire(failure, `after ${this.init.retry.retries} retries`) });
            return;
          }
          const delay = backoffDelay(failures, this.init.retry, failure.retryAfter);
          this.post({ type: 'retry', slot, attempt: failures, delay, reason: failure.message });
          try {
            await sleep(delay, undefined, { signal: controller.signal });
          } catch {
            break; // stopped while waiting
          }
        }
      }
      if (!this.stopping) this.post({ type: 'done', slot });
    } finally {
      this.running.delete(slot);
    }
  }

  private wire(err: AttemptError, suffix?: string): WireError {
    const out: WireError = { code: err.code, message: suffix ? `${err.message} ${suffix}` : err.message };
    if (err.status !== undefined) out.status = err.status;
    if (err.url !== undefined) out.url = err.url;
    return out;
  }

  private toAttemptError(err: unknown): AttemptError {
    if (err instanceof AttemptError) return err;
    if (err instanceof RangegetError) return new AttemptError(err.code, err.message, false);
    const code = (err as { code?: string }).code ?? '';
    if (code === 'UND_ERR_BODY_TIMEOUT') {
      return new AttemptError('ETIMEOUT', `no data for ${this.init.request.connection.stallTimeout / 1000} s (stalled connection)`, true);
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new AttemptError('ETIMEOUT', describeNetworkError(err), true);
    }
    return new AttemptError('ENETWORK', describeNetworkError(err), true);
  }

  /** Headers that tie a range request to the version of the file that was probed. */
  private conditionalHeaders(source: Source): Record<string, string> {
    if (!this.ifRangeBroken && isStrongEtag(source.etag)) return { 'if-range': source.etag };
    if (source.lastModified) return { 'if-range': source.lastModified };
    return {};
  }

  /** True when the response carries validators that contradict the probed ones. */
  private validatorsChanged(source: Source, headers: Record<string, string | string[] | undefined>): string | undefined {
    const etag = header(headers, 'etag');
    if (source.etag && etag && etag !== source.etag) return `ETag changed from ${source.etag} to ${etag}`;
    const lastModified = header(headers, 'last-modified');
    if (source.lastModified && lastModified && lastModified !== source.lastModified) {
      return `Last-Modified changed from ${source.lastModified} to ${lastModified}`;
    }
    return undefined;
  }

  /**
   * One request: fetch from the slot's position towards its end and write what arrives.
   * Resolves true when the response delivered every byte it announced.
   *
   * It uses undici's dispatch handler rather than a body stream: chunks arrive in a plain
   * callback, with no stream or promise per chunk, which is most of the CPU per byte.
   */
  private fetchOnce(slot: number, mirror: number, signal: AbortSignal): Promise<boolean> {
    const source = this.job.sources[mirror] ?? this.job.sources[0]!;
    const url = new URL(source.url);
    const position = this.table.position(slot);
    const end = this.table.end(slot);
    const headers = headersFor(url, this.init.request);
    let conditional: Record<string, string> = {};
    if (this.job.mode === 'ranges') {
      conditional = this.conditionalHeaders(source);
      Object.assign(headers, { range: `bytes=${position}-${end - 1}` }, conditional);
    }
    return new Promise<boolean>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let buffered = 0;
      let lastFlush = performance.now();
      /** Exclusive end of the bytes this response announced: nothing past it is written. */
      let stopAt = this.job.size ?? UNKNOWN_END;
      /** Body bytes still announced by Content-Length, to know whether the connection can be kept. */
      let announced = Infinity;
      /** For a whole-file (200) answer: bytes it may still send before it is longer than the probed size. */
      let allowed = Infinity;
      let controller: DispatchController | undefined;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;

      /** Write the buffer; returns true when the slot's end (or the response's) is reached. */
      const flush = (): boolean => {
        const at = this.table.position(slot);
        const stop = Math.min(this.table.end(slot), stopAt);
        const length = Math.max(0, Math.min(buffered, stop - at));
        if (length > 0) {
          this.writeFully(length < buffered ? take(chunks, length) : chunks, at, length);
          this.table.setPosition(slot, at + length);
        }
        chunks.length = 0;
        buffered = 0;
        lastFlush = performance.now();
        return at + length >= stop;
      };

      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
        try {
          // Bytes already received are good: keep them, even when the attempt failed or stopped.
          if (buffered > 0) flush();
        } catch (writeError) {
          err ??= writeError;
        }
        if (err) reject(err);
        else resolve(this.table.position(slot) >= Math.min(stopAt, this.table.end(slot)));
      };

      /** End the attempt early: the connection is dropped unless its body is fully read. */
      const stop = (err?: Error): void => {
        if (controller && !controller.aborted && (err || announced > 0)) controller.abort(err ?? new Error('range complete'));
        finish(err);
      };

      const onAbort = (): void => stop(new Error('stopped'));
      if (signal.aborted) {
        reject(new Error('stopped'));
        return;
      }
      signal.addEventListener('abort', onAbort);

      const handler: DispatchHandler = {
        onRequestStart: (c) => {
          controller = c;
        },
        onResponseStart: (_c, status, responseHeaders) => {
          if (settled) return;
          this.table.setWait(slot, performance.now() - sent);
          try {
            stopAt = this.accept(status, responseHeaders, source, url, position, end, conditional);
          } catch (err) {
            stop(err as Error);
            return;
          }
          announced = contentLength(responseHeaders) ?? Infinity;
          if (status === 200 && this.job.size !== undefined) allowed = this.job.size - position;
          // A body that pauses must not keep its bytes from the file (and the control file) meanwhile.
          timer = setInterval(() => {
            if (buffered === 0 || performance.now() - lastFlush < this.init.flushInterval) return;
            try {
              if (flush()) stop();
            } catch (err) {
              stop(err as Error);
            }
          }, this.init.flushInterval);
        },
        onResponseData: (c, chunk) => {
          if (settled) return;
          allowed -= chunk.length;
          if (allowed < 0) {
            // A chunked 200 that runs past the probed size is another file: nothing of it is kept.
            chunks.length = 0;
            buffered = 0;
            stop(new AttemptError('ECHANGED', `the server sends more than the ${this.job.size} bytes it announced`, false));
            return;
          }
          chunks.push(chunk);
          buffered += chunk.length;
          announced -= chunk.length;
          this.table.setReceived(slot, this.table.position(slot) + buffered);
          if (this.limiter) {
            const wait = this.limiter.reserve(chunk.length);
            if (wait > 0) {
              c.pause();
              setTimeout(() => c.resume(), wait);
            }
          }
          if (buffered >= this.init.writeBuffer || performance.now() - lastFlush >= this.init.flushInterval) {
            try {
              if (flush()) stop();
            } catch (err) {
              stop(err as Error);
            }
          }
        },
        onResponseEnd: () => finish(),
        onResponseError: (_c, err) => finish(err),
      };
      const sent = performance.now();
      this.dispatcher!.dispatch(
        { origin: url.origin, path: url.search ? `${url.pathname}${url.search}` : url.pathname, method: 'GET', headers },
        handler,
      );
    });
  }

  /**
   * Check a response before a byte of it is written. Returns the exclusive end of the bytes
   * it may write; throws an {@link AttemptError}, or {@link NoRangesError} for a server that
   * ignores ranges.
   */
  private accept(
    status: number,
    headers: Record<string, string | string[] | undefined>,
    source: Source,
    url: URL,
    position: number,
    end: number,
    conditional: Record<string, string>,
  ): number {
    const ranged = this.job.mode === 'ranges';
    const length = contentLength(headers);
    if (ranged && status === 206) {
      const range = parseContentRange(header(headers, 'content-range'));
      if (!range || 'unsatisfied' in range) {
        throw new AttemptError('ESERVER', `invalid Content-Range ${JSON.stringify(header(headers, 'content-range'))}`, true);
      }
      if (range.total !== undefined && this.job.size !== undefined && range.total !== this.job.size) {
        throw new AttemptError('ECHANGED', `the remote file changed size from ${this.job.size} to ${range.total} bytes`, false);
      }
      if (range.start !== position || range.end > end) {
        throw new AttemptError('ESERVER', `server sent bytes ${range.start}-${range.end - 1} for a request of ${position}-${end - 1}`, true);
      }
      const changed = this.validatorsChanged(source, headers);
      if (changed) throw new AttemptError('ECHANGED', `the remote file changed: ${changed}`, false);
      return range.end;
    }
    if (status === 200) {
      const changed = this.validatorsChanged(source, headers);
      if (changed) throw new AttemptError('ECHANGED', `the remote file changed: ${changed}`, false);
      this.sizeAgrees(length);
      // A 200 to a range request is the same bytes only when the range starts at 0.
      if (ranged && !(position === 0 && length === this.job.size)) {
        if ('if-range' in conditional && !this.ifRangeBroken && isStrongEtag(source.etag) && source.lastModified) {
          this.ifRangeBroken = true; // same validators, Range dropped: retry without the ETag
          throw new AttemptError('ESERVER', 'server ignored Range with If-Range; retrying with the Last-Modified date', true, 0);
        }
        throw new NoRangesError('the server answered a range request with the whole file (200)');
      }
      return this.job.size ?? UNKNOWN_END;
    }
    const retryAfter = parseRetryAfter(header(headers, 'retry-after'), Date.now());
    const retryable = retryableStatuses.has(status);
    throw new AttemptError(
      status === 416 ? 'EHTTP' : retryable ? 'ENETWORK' : 'EHTTP',
      `server answered HTTP ${status} for ${ranged ? `bytes ${position}-${end - 1} of ` : ''}${url.href}`,
      retryable,
      retryAfter,
      status,
      url.href,
    );
  }

  /** A 200 must have the size the probe announced: a longer or shorter file is not this one. */
  private sizeAgrees(length: number | undefined): void {
    if (length !== undefined && this.job.size !== undefined && length !== this.job.size) {
      throw new AttemptError('ECHANGED', `the server sends ${length} bytes, not the ${this.job.size} it announced`, false);
    }
  }

  private writeFully(parts: Buffer[], position: number, length: number): void {
    try {
      let offset = 0;
      while (offset < length) {
        const written = writevSync(this.fd, parts, position + offset);
        offset += written;
        if (offset < length) parts = dropBytes(parts, written); // rare short write
      }
    } catch (err) {
      const failure = fileError(err, this.job.partPath);
      throw new AttemptError(failure.code, failure.message, false);
    }
  }
}

/** The first `length` bytes of a list of chunks. */
function take(chunks: Buffer[], length: number): Buffer[] {
  const parts: Buffer[] = [];
  let left = length;
  for (const chunk of chunks) {
    if (left <= 0) break;
    parts.push(chunk.length <= left ? chunk : chunk.subarray(0, left));
    left -= chunk.length;
  }
  return parts;
}

function dropBytes(parts: Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = count;
  for (const part of parts) {
    if (skip >= part.length) {
      skip -= part.length;
      continue;
    }
    rest.push(skip > 0 ? part.subarray(skip) : part);
    skip = 0;
  }
  return rest;
}
