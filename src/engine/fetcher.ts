/**
 * The fetcher: fetches the ranges of the slots it is given and writes each body straight
 * into the `.part` file at its offset. It runs in a worker thread (worker.ts), or inline in
 * the main thread for small files, where starting a thread would cost more than the fetch.
 * Each attempt is a {@link RangeHandler}; between attempts the retry policy decides.
 */
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { leanReaches, LeanClient, UndiciClient, type HttpClient } from '../http/client.js';
import { createDispatcher } from '../http/dispatcher.js';
import { LeanConnection } from '../http/lean-connection.js';
import { connectionFailure } from '../http/failures.js';
import { headersFor } from '../http/request.js';
import { AttemptFailure, isPushback, retryDelay } from '../http/retry-policy.js';
import { traceThread } from '../http/trace.js';
import type { Dispatcher } from '../http/undici.js';
import { ifRangeHeader, isStrongEtag } from '../http/validators.js';
import { fileError, HttpError, NetworkError, RangegetError, toWire } from '../primitives/errors.js';
import { UNKNOWN_END } from '../primitives/ranges.js';
import { Spares } from './preconnect.js';
import type { FetchFile, FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { NoRangesError, RangeHandler } from './range-handler.js';
import { LeanUnsupported, RangeReader, StaleConnection } from './range-reader.js';
import { RangeWriter } from './range-writer.js';
import { RateLimiter } from './rate.js';
import { SlotTable } from './slots.js';

/** Drives the connections of one thread; talks to the pool only through messages and the slot table. */
export class Fetcher {
  // Set by the `init` message (once) and the `file` message (per file).
  private init!: WorkerInit;
  private file!: FetchFile;
  private table!: SlotTable;
  private limiter: RateLimiter | undefined;
  private dispatcher: Dispatcher | undefined;
  private fd = -1;
  private untrace: (() => void) | undefined;
  private readonly running = new Map<number, AbortController>();
  private stopping = false;
  /** Set when a server drops Range on an ETag `If-Range` although the file did not change (some CDNs). */
  private avoidEtag = false;
  /** Each slot's lean connection (see range-reader.ts), kept from range to range. */
  private readonly lean: Array<LeanConnection | undefined> = [];
  /** TLS connections' read buffers, one per slot; plain ones share `readBuffer` (see range-reader.ts). */
  private readonly buffers: Array<Buffer | undefined> = [];
  private readBuffer: Buffer | undefined;
  /** Set when a server answered in a framing the lean reader does not take. */
  private leanOff = false;
  /** Lean connections opened while the probe ran, for the first ranges to take (preconnect.ts). */
  private readonly spares = new Spares();

  /**
   * `post` sends a message to the pool; `close` ends the thread (or its stand-in). `shared`:
   * connections to use instead of its own (in the main thread, the download's: the probe's
   * warm connection), left open when the fetcher stops.
   */
  constructor(
    private readonly post: (message: FromWorker) => void,
    private readonly close: () => void,
    private readonly shared?: HttpClient,
  ) {}

  /** Handle one message from the pool. */
  handle(message: ToWorker): void {
    switch (message.type) {
      case 'preconnect':
        this.spares.want(message.order);
        break;
      case 'init':
        this.init = message.init;
        this.table = new SlotTable(this.init.slotBuffer);
        this.limiter = this.init.rateBuffer ? new RateLimiter(this.init.rateBuffer) : undefined;
        if (this.init.trace) this.untrace = traceThread((trace) => this.post({ type: 'http', trace }));
        break;
      case 'file':
        if (this.fd >= 0) closeSync(this.fd);
        this.file = message.file;
        this.avoidEtag = false;
        this.leanOff = false;
        // Spares only for the lean path to this file's servers (a redirect may have moved it).
        this.spares.keep((origin) => this.file.mode === 'ranges' && this.file.sources.some((s) => new URL(s.url).origin === origin));
        try {
          this.fd = openSync(this.file.partPath, 'r+');
        } catch (err) {
          this.fd = -1;
          this.post({ type: 'failed', slot: -1, error: toWire(fileError(err, this.file.partPath)) });
        }
        break;
      case 'run':
        void this.runSlot(message.slot, message.source);
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
    for (const connection of this.lean) {
      if (connection && this.shared instanceof LeanClient && !connection.busy) this.shared.giveBack(connection);
      else connection?.destroy();
    }
    this.spares.close();
    if (!(this.shared instanceof UndiciClient)) await this.dispatcher?.destroy().catch(() => undefined);
    this.untrace?.();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.post({ type: 'stopped' });
    this.close();
  }

  private async runSlot(slot: number, source: number): Promise<void> {
    const controller = new AbortController();
    this.running.set(slot, controller);
    try {
      let failures = 0;
      for (;;) {
        if (this.table.position(slot) >= this.table.end(slot) || this.stopping) break;
        const before = this.table.position(slot);
        try {
          const complete = await this.fetchOnce(slot, source, controller.signal);
          if (this.table.position(slot) >= this.table.end(slot)) break;
          if (this.file.mode === 'stream' && this.table.end(slot) === UNKNOWN_END) break; // a stream of unknown length ends when the body does
          if (complete) {
            // A valid 206 for less than was asked (servers may cap a response): ask for the rest.
            failures = 0;
            continue;
          }
          throw new AttemptFailure(new NetworkError('connection closed before the range was complete'), true);
        } catch (err) {
          if (this.stopping || this.table.position(slot) >= this.table.end(slot)) break;
          if (err instanceof NoRangesError) {
            this.post({ type: 'no-ranges', slot, reason: err.message });
            return;
          }
          const failure = this.toFailure(err);
          if (this.file.mode === 'stream') this.table.setPosition(slot, 0); // a plain stream can only start over
          // Bytes written since the last failure: the connection works, the count starts again.
          failures = this.table.position(slot) > before && this.file.mode === 'ranges' ? 1 : failures + 1;
          const delay = retryDelay(failure, failures, this.init.retry);
          if (delay === undefined) {
            this.post({ type: 'failed', slot, error: toWire(this.finalError(failure)) });
            return;
          }
          this.post({ type: 'retry', slot, attempt: failures, delay, reason: failure.message, pushback: isPushback(failure) });
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

  /** What an attempt's failure is, as the retry policy sees it. */
  private toFailure(err: unknown): AttemptFailure {
    if (err instanceof AttemptFailure) return err;
    if (err instanceof RangegetError) return new AttemptFailure(err, false);
    return connectionFailure(err, this.init.request.connection.stallTimeout);
  }

  /**
   * The error a range ends the download with. Out of retries, it says so; a status that
   * should have cleared up (503, 429 ...) is reported as the server being unreachable for
   * now (exit 4, as a dropped connection), not as a refusal of the file (exit 3).
   */
  private finalError(failure: AttemptFailure): RangegetError {
    if (!failure.retryable) return failure.error;
    const message = `${failure.message} after ${this.init.retry.retries} retries`;
    if (failure.error instanceof HttpError) return new NetworkError(message);
    return Object.assign(failure.error, { message });
  }

  /**
   * One request: fetch from the slot's position towards its end and write what arrives.
   * Resolves true when the response delivered every byte it announced.
   */
  private fetchOnce(slot: number, index: number, signal: AbortSignal): Promise<boolean> {
    const source = this.file.sources[index] ?? this.file.sources[0]!;
    const url = new URL(source.url);
    const position = this.table.position(slot);
    const end = this.table.end(slot);
    const headers = headersFor(url, this.init.request);
    let ifRangeEtag = false;
    let ifRange = false;
    if (this.file.mode === 'ranges') {
      // A 412 to If-Range on any connection drops it for every one (the slot table's flag).
      const condition = this.table.noIfRange() ? {} : ifRangeHeader(source, this.avoidEtag);
      ifRange = 'if-range' in condition;
      ifRangeEtag = ifRange && !this.avoidEtag && isStrongEtag(source.etag);
      Object.assign(headers, { range: `bytes=${position}-${end - 1}` }, condition);
    }
    const asked = { mode: this.file.mode, position, end, size: this.file.size, url: url.href, validators: source, ifRangeEtag, ifRange };
    const context = {
      table: this.table,
      slot,
      writer: new RangeWriter(this.fd, this.file.partPath, this.table, slot, this.file.ring),
      limiter: this.limiter,
      writeBuffer: this.init.writeBuffer,
      flushInterval: this.init.flushInterval,
      onIfRangeIgnored: () => (this.avoidEtag = true),
      onIfRangeRefused: () => this.table.setNoIfRange(),
    };
    const path = url.search ? `${url.pathname}${url.search}` : url.pathname;
    if (this.leanFits(url)) {
      const connection = this.leanConnection(slot, url);
      const shared = url.protocol === 'http:';
      const buffer = shared ? (this.readBuffer ??= Buffer.allocUnsafe(this.init.writeBuffer)) : (this.buffers[slot] ??= Buffer.allocUnsafe(this.init.writeBuffer));
      const reader = new RangeReader(asked, { ...context, buffer, shared, headersTimeout: this.init.request.connection.headersTimeout }, connection, signal);
      if (!signal.aborted) connection.send('GET', path, headers, reader);
      return reader.done.catch((err: unknown) => {
        // A keep-alive connection the server had closed: the same request on a fresh one.
        if (err instanceof StaleConnection) return this.fetchOnce(slot, index, signal);
        // A framing the lean reader does not take: this download's ranges go through undici.
        if (err instanceof LeanUnsupported) {
          this.leanOff = true;
          return this.fetchOnce(slot, index, signal);
        }
        throw err;
      });
    }
    const handler = new RangeHandler(asked, context, signal);
    // Made on first use: a thread whose ranges all go the lean way never loads undici.
    this.dispatcher ??= this.shared instanceof UndiciClient ? this.shared.dispatcher : createDispatcher(this.init.request.connection, this.init.connections);
    if (!signal.aborted) this.dispatcher.dispatch({ origin: url.origin, path, method: 'GET', headers }, handler);
    return handler.done;
  }

  /**
   * The lean reader takes the ranges fetched over plain and TLS connections to the server
   * itself: in worker threads, and in the main thread (small files) on the main thread's lean
   * connections (the one the probe left open, a round trip sooner; a batch's, shared from
   * file to file). undici takes the rest: proxies, `-v` traces (undici's diagnostics
   * channel), whole-file streams, and servers whose framing the lean reader does not take.
   * `RANGEGET_TRANSPORT=undici` sends them all through undici (the suite runs both ways).
   */
  private leanFits(url: URL): boolean {
    return (
      leanReaches(this.init.request.connection) &&
      (this.shared === undefined || this.shared instanceof LeanClient) &&
      this.file.mode === 'ranges' &&
      !this.leanOff &&
      !this.init.trace &&
      (url.protocol === 'http:' || url.protocol === 'https:')
    );
  }

  /** This slot's lean connection to `url`'s origin: its last one while alive, else a new one. */
  private leanConnection(slot: number, url: URL): LeanConnection {
    const current = this.lean[slot];
    if (current?.alive && current.origin === url.origin) return current;
    current?.destroy();
    if (this.shared instanceof LeanClient) return (this.lean[slot] = this.shared.take(url));
    const fresh = this.spares.take(url.origin) ?? new LeanConnection(url.origin, url, this.init.request.connection);
    this.lean[slot] = fresh;
    return fresh;
  }
}
