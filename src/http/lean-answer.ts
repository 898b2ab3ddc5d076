/**
 * One answer over a lean connection, for the main thread's few requests (the probe, its
 * redirects, a metalink document, a server's whole-file answer): the head parsed strictly
 * (response-head.ts), the body as a Readable in whichever HTTP/1.1 framing the server chose
 * (Content-Length, chunked, or up to the close). Failures carry undici's codes, so that
 * failures.ts words them as it does undici's.
 */
import { Readable } from 'node:stream';
import { ChunkedDecoder } from './chunked.js';
import { contentLength, header, type ResponseHeaders } from './headers.js';
import type { LeanConnection, LeanReader } from './lean-connection.js';
import { MAX_HEAD_BYTES, parseHead } from './response-head.js';

/** A reused keep-alive connection was closed before its answer began: send again on a fresh one. */
export class StaleConnection extends Error {}

/** A response: its status, headers and body. */
export interface Answer {
  statusCode: number;
  headers: ResponseHeaders;
  body: ResponseBody;
}

/** A response body: Buffers, and `dump` to read (at most `limit` bytes of) it to its end and drop them. */
export type ResponseBody = Readable & { dump(options?: { limit: number }): Promise<void> };

/** Memory for the head; doubled while a head is larger, up to Node's head limit. */
const FIRST_SPACE = 16 * 1024;
/** Memory each body read lands in before it is copied out: undici's read size. */
const BODY_SPACE = 64 * 1024;

function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** The body of a lean answer: paused and resumed with its consumer, its connection dropped if it is dropped. */
class LeanBody extends Readable implements ResponseBody {
  constructor(
    private readonly onRead: () => void,
    private readonly onDestroy: () => void,
  ) {
    super();
  }

  override _read(): void {
    this.onRead();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.readableEnded) this.onDestroy();
    callback(err);
  }

  async dump({ limit }: { limit: number } = { limit: 128 * 1024 }): Promise<void> {
    let read = 0;
    try {
      for await (const chunk of this) {
        read += (chunk as Buffer).length;
        if (read > limit) break; // leaving the loop destroys the body, and with it the connection
      }
    } catch {
      // a broken body is dropped all the same
    }
  }
}

/** Reads one answer; `answer` settles with its head, and the body follows as it arrives. */
export class AnswerReader implements LeanReader {
  readonly answer: Promise<Answer>;
  private resolve!: (answer: Answer) => void;
  private reject!: (err: Error) => void;
  private buf = Buffer.allocUnsafe(FIRST_SPACE);
  private fill = 0;
  private body: LeanBody | undefined;
  private framing: 'none' | 'length' | 'chunked' | 'close' = 'none';
  private owed = 0;
  private chunked: ChunkedDecoder | undefined;
  private keepAlive = true;
  private over = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort = (): void => this.connection.destroy(coded('request aborted', 'UND_ERR_ABORTED'));

  /** `done`: the answer is over; its connection may serve another request when `reusable` (then `done` parks or closes it). */
  constructor(
    private readonly connection: LeanConnection,
    private readonly method: 'GET' | 'HEAD',
    headersTimeout: number,
    private readonly signal: AbortSignal | undefined,
    private readonly done: (reusable: boolean) => void,
  ) {
    this.answer = new Promise<Answer>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(
      () => connection.destroy(coded(`no response head for ${headersTimeout / 1000} s`, 'UND_ERR_HEADERS_TIMEOUT')),
      headersTimeout,
    );
    signal?.addEventListener('abort', this.onAbort);
  }

  space(): Buffer {
    if (this.body) return this.buf;
    if (this.fill === this.buf.length && this.buf.length <= MAX_HEAD_BYTES) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger);
      this.buf = bigger;
    }
    return this.buf.subarray(this.fill);
  }

  read(n: number, into: Buffer): void {
    if (this.over) return;
    if (this.body) return this.take(Buffer.from(into.subarray(0, n)));
    if (into.buffer !== this.buf.buffer || into.byteOffset !== this.buf.byteOffset + this.fill) into.copy(this.buf, this.fill, 0, n);
    this.fill += n;
    let head;
    try {
      head = parseHead(this.buf, 0, this.fill);
    } catch (err) {
      this.connection.destroy(err as Error);
      return;
    }
    if (!head) return;
    clearTimeout(this.timer);
    const { status, headers } = head;
    const length = contentLength(headers);
    const chunked = /\bchunked\b/i.test(header(headers, 'transfer-encoding') ?? '');
    this.keepAlive = !/\bclose\b/i.test(header(headers, 'connection') ?? '');
    if (this.method === 'HEAD' || status === 204 || status === 304) this.framing = 'none';
    else if (chunked) {
      this.framing = 'chunked';
      this.chunked = new ChunkedDecoder();
    } else if (length !== undefined) {
      this.framing = 'length';
      this.owed = length;
    } else {
      this.framing = 'close';
      this.keepAlive = false;
    }
    this.body = new LeanBody(
      () => this.connection.resume(),
      () => this.end(false),
    );
    this.resolve({ statusCode: status, headers, body: this.body });
    const rest = Buffer.from(this.buf.subarray(head.bodyStart, this.fill));
    this.fill = 0;
    if (this.framing !== 'none' && this.buf.length < BODY_SPACE) this.buf = Buffer.allocUnsafe(BODY_SPACE);
    if (this.framing === 'none' || this.framing === 'length') {
      if (this.owed === 0) return this.end(rest.length === 0 && this.keepAlive, true);
    }
    if (rest.length > 0) this.take(rest);
  }

  closed(): void {
    if (this.over) return;
    if (!this.body) {
      if (this.fill === 0 && this.connection.requests > 1) return this.fail(new StaleConnection('a kept-alive connection was closed'));
      return this.fail(coded('other side closed before the response head', 'UND_ERR_SOCKET'));
    }
    if (this.framing === 'close') return this.end(false, true);
    this.fail(coded('other side closed before the response was complete', 'UND_ERR_SOCKET'));
  }

  failed(err: Error): void {
    if (!this.over) this.fail(err);
  }

  /** Body bytes (a copy: the read memory is reused). */
  private take(bytes: Buffer): void {
    const body = this.body!;
    let push = bytes;
    let extra = false;
    if (this.framing === 'length') {
      push = bytes.subarray(0, Math.min(bytes.length, this.owed));
      extra = bytes.length > this.owed;
      this.owed -= push.length;
    } else if (this.framing === 'chunked') {
      const pieces: Buffer[] = [];
      let taken;
      try {
        taken = this.chunked!.feed(bytes, (piece) => pieces.push(piece));
      } catch (err) {
        this.connection.destroy(err as Error);
        return;
      }
      extra = taken < bytes.length;
      push = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    } else if (this.framing === 'none') {
      extra = true; // a server talking out of turn
      push = Buffer.alloc(0);
    }
    if (push.length > 0 && !body.push(push)) this.connection.pause();
    const complete = (this.framing === 'length' && this.owed === 0) || (this.framing === 'chunked' && this.chunked!.done);
    if (complete || extra) this.end(complete && !extra && this.keepAlive, complete);
  }

  /** The answer is over: the body ends (when `complete`), the connection is handed back or closed. */
  private end(reusable: boolean, complete = false): void {
    if (this.over) return;
    this.over = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    if (complete) this.body?.push(null);
    // A reusable connection is parked by whoever `done` hands it to (LeanClient.giveBack).
    if (!reusable) this.connection.destroy();
    this.done(reusable);
  }

  private fail(err: Error): void {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.body) this.body.destroy(err);
    else this.reject(err);
    this.connection.destroy();
    this.done(false);
  }
}
