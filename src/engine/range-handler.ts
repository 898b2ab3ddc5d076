/**
 * One request for a range, as an undici dispatch handler: the response is checked before
 * a byte of it is written, then its body goes through a {@link RangeWriter} into the file.
 *
 * A dispatch handler rather than a body stream: chunks arrive in a plain callback, with no
 * stream or promise per chunk, which is most of the CPU per byte. A class with fields (as
 * undici's own handlers are) rather than a closure over a promise executor.
 */
import type { DispatchController, DispatchHandler } from '../http/undici.js';
import { contentLength, type ResponseHeaders } from '../http/headers.js';
import { checkResponse, type RangeAsked } from '../http/response-checks.js';
import { UNKNOWN_END } from '../primitives/ranges.js';
import { RemoteChangedError } from '../primitives/errors.js';
import { AttemptFailure } from '../http/retry-policy.js';
import type { RateLimiter } from './rate.js';
import type { RangeWriter } from './range-writer.js';
import type { SlotTable } from './slots.js';

/** The server answered a range request with the whole file: ranges do not work after all. */
export class NoRangesError extends Error {}

/** What a range request needs besides what it asks for. */
export interface RangeContext {
  table: SlotTable;
  slot: number;
  writer: RangeWriter;
  limiter: RateLimiter | undefined;
  /** Bytes held before one write. */
  writeBuffer: number;
  /** Longest time in ms bytes wait in the buffer. */
  flushInterval: number;
  /** The server dropped Range on an `If-Range` with the ETag, although the file is the same. */
  onIfRangeIgnored: () => void;
  /** The server refused a request for carrying `If-Range` (412): later ones, on every thread, go without it. */
  onIfRangeRefused: () => void;
}

export class RangeHandler implements DispatchHandler {
  /** Settles when the attempt ends: true when the response delivered every byte it announced. */
  readonly done: Promise<boolean>;
  private resolve!: (complete: boolean) => void;
  private reject!: (err: unknown) => void;
  private controller: DispatchController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private settled = false;
  /** Exclusive end of the bytes this response announced: nothing past it is written. */
  private stopAt: number;
  /** Body bytes still announced by Content-Length, to know whether the connection can be kept. */
  private announced = Infinity;
  /** For a whole-file (200) answer: bytes it may still send before it is longer than the probed size. */
  private allowed = Infinity;
  private readonly sent = performance.now();
  private readonly onAbort = (): void => this.stop(new Error('stopped'));

  constructor(
    private readonly asked: RangeAsked,
    private readonly context: RangeContext,
    private readonly signal: AbortSignal,
  ) {
    this.stopAt = asked.size ?? UNKNOWN_END;
    this.done = new Promise<boolean>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (signal.aborted) this.finish(new Error('stopped'));
    else {
      signal.addEventListener('abort', this.onAbort);
      this.timer = setInterval(() => this.tick(), context.flushInterval);
    }
  }

  onRequestStart(controller: DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(new Error('stopped'));
  }

  /**
   * A body that pauses must not keep its bytes from the file (and the control file)
   * meanwhile; and a range whose end was moved to where it stands (the endgame handed its
   * tail over) ends now, even while no byte arrives.
   */
  private tick(): void {
    const { writer, table, slot, flushInterval } = this.context;
    if (writer.buffered > 0) {
      if (performance.now() - writer.lastFlush >= flushInterval) this.flush();
    } else if (table.position(slot) >= table.end(slot)) this.stop();
  }

  onResponseStart(_controller: DispatchController, status: number, headers: ResponseHeaders): void {
    // An interim answer (103 Early Hints, 100 Continue ...) precedes the real one (RFC 9110 §15.2).
    if (this.settled || status < 200) return;
    const { table, slot } = this.context;
    table.setWait(slot, performance.now() - this.sent);
    const verdict = checkResponse(status, headers, this.asked);
    if (verdict.kind === 'noRanges') return this.stop(new NoRangesError(verdict.reason));
    if (verdict.kind === 'failure') {
      if (verdict.avoidEtag) this.context.onIfRangeIgnored();
      if (verdict.dropIfRange) this.context.onIfRangeRefused();
      return this.stop(verdict.failure);
    }
    this.stopAt = verdict.writeEnd;
    this.announced = contentLength(headers) ?? Infinity;
    if (status === 200 && this.asked.size !== undefined) this.allowed = this.asked.size - this.asked.position;
  }

  onResponseData(controller: DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    const { writer, limiter } = this.context;
    this.allowed -= chunk.length;
    if (this.allowed < 0) {
      // A chunked 200 that runs past the probed size is another file: nothing of it is kept.
      writer.discard();
      this.stop(new AttemptFailure(new RemoteChangedError(`the server sends more than the ${this.asked.size} bytes it announced`), false));
      return;
    }
    writer.push(chunk);
    this.announced -= chunk.length;
    if (limiter) {
      const wait = limiter.reserve(chunk.length);
      if (wait > 0) {
        controller.pause();
        setTimeout(() => controller.resume(), wait);
      }
    }
    if (writer.buffered >= this.context.writeBuffer || performance.now() - writer.lastFlush >= this.context.flushInterval) this.flush();
  }

  onResponseEnd(): void {
    this.finish();
  }

  onResponseError(_controller: DispatchController, err: Error): void {
    this.finish(err);
  }

  /** Write what is held; stop once the range (or the response) is complete. */
  private flush(): void {
    try {
      if (this.context.writer.flush(this.stopAt)) this.stop();
    } catch (err) {
      this.stop(err as Error);
    }
  }

  /** End the attempt early: the connection is dropped unless its body is fully read. */
  private stop(err?: Error): void {
    const controller = this.controller;
    if (controller && !controller.aborted && (err || this.announced > 0)) controller.abort(err ?? new Error('range complete'));
    this.finish(err);
  }

  private finish(err?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    clearInterval(this.timer);
    this.signal.removeEventListener('abort', this.onAbort);
    const { writer, table, slot } = this.context;
    try {
      // Bytes already received are good: keep them, even when the attempt failed or stopped.
      if (writer.buffered > 0) writer.flush(this.stopAt);
    } catch (writeError) {
      err ??= writeError;
    }
    if (err) this.reject(err);
    else this.resolve(table.position(slot) >= Math.min(this.stopAt, table.end(slot)));
  }
}
