/**
 * The stream window: which pieces a streamed download may fetch now. Bytes leave in file
 * order, so connections may run ahead of the consumer only within `[streamed, streamed +
 * window)`; the pieces are made lazily as the window moves, whatever the file's size. Pure.
 */
import type { ByteRange } from '../primitives/ranges.js';

/** Smallest piece worth a request of its own when the window is small. */
const MIN_PIECE = 64 * 1024;
/** Pieces per connection within one window: a connection that finishes one finds another. */
const PIECES_PER_WINDOW = 4;

/**
 * The size of a streamed download's pieces: a share of the window such that every
 * connection gets several pieces within one window (a connection that finishes one finds
 * another while the consumer moves the window), not below 64 KiB (a request's round trip),
 * and not above the window itself. `--min-range` still bounds the splits of running ranges.
 */
export function streamPieceSize(window: number, connections: number): number {
  const share = Math.floor(window / (connections * PIECES_PER_WINDOW));
  return Math.min(window, Math.max(MIN_PIECE, share));
}

/**
 * The pieces of a file handed out as the window moves. {@link fill} appends the pieces that
 * now fit: whole pieces only (the last one of the file excepted), so a window that moves by a
 * few bytes at a time does not make tiny requests.
 */
export class WindowFeed {
  /** Start of the first piece not yet handed out. */
  private next = 0;
  /** Exclusive end of what may be fetched now. */
  private limit: number;

  constructor(
    private readonly size: number,
    private readonly piece: number,
    window: number,
  ) {
    this.limit = window;
  }

  /** Every piece has been handed out. */
  get exhausted(): boolean {
    return this.next >= this.size;
  }

  /** The consumer has taken every byte before `streamed`: the window moves to end at `streamed + window`. */
  advance(limit: number): void {
    this.limit = Math.max(this.limit, limit);
  }

  /** Append to `queue` the pieces that fit in the window now, front to back. */
  fill(queue: ByteRange[]): void {
    for (;;) {
      const end = Math.min(this.next + this.piece, this.size);
      if (this.next >= this.size || end > this.limit) return;
      queue.push({ start: this.next, end });
      this.next = end;
    }
  }
}
