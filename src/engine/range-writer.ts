/**
 * The range writer: the bytes of one response, buffered and written at their offset in the
 * `.part` file with one positional write per buffer-full. The slot table is the truth about
 * what is written: its position moves only after the bytes are in the file. For a stream
 * (`-o -`) the file is a ring of `ring` bytes: byte `x` of the file is at `x mod ring`.
 */
import { writevSync } from 'node:fs';
import { fileError } from '../primitives/errors.js';
import { AttemptFailure } from '../http/retry-policy.js';
import type { SlotTable } from './slots.js';

export class RangeWriter {
  private chunks: Buffer[] = [];
  /** Bytes held, not yet written. */
  buffered = 0;
  /** When the buffer was last written (ms, performance.now()). */
  lastFlush = performance.now();

  constructor(
    private readonly fd: number,
    private readonly partPath: string,
    private readonly table: SlotTable,
    private readonly slot: number,
    /** Size of the ring file a stream is written into; undefined: the file itself. */
    private readonly ring?: number,
  ) {}

  /** Hold a chunk; the slot table learns it has arrived (a split must not start before it). */
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.table.setReceived(this.slot, this.table.position(this.slot) + this.buffered);
  }

  /** Forget what is held (bytes that must not be kept). */
  discard(): void {
    this.chunks = [];
    this.buffered = 0;
  }

  /**
   * Write what is held, up to the slot's end (work stealing may have moved it) and `stopAt`
   * (the end of what the response announced). Returns true when that end is reached.
   * Throws an {@link AttemptFailure} (not retryable) when the file cannot be written.
   */
  flush(stopAt: number): boolean {
    const reached = this.writeClipped(this.chunks, this.buffered, stopAt);
    this.discard();
    return reached;
  }

  /**
   * Write `bytes` straight from the caller's memory (the lean reader's buffer), as
   * {@link flush} writes what is held.
   */
  writeFrom(bytes: Buffer, stopAt: number): boolean {
    return this.writeClipped([bytes], bytes.length, stopAt);
  }

  /** Write the first bytes of `parts` that fit before the slot's end and `stopAt`. */
  private writeClipped(parts: Buffer[], total: number, stopAt: number): boolean {
    const at = this.table.position(this.slot);
    const stop = Math.min(this.table.end(this.slot), stopAt);
    const length = Math.max(0, Math.min(total, stop - at));
    if (length > 0) {
      this.writeFully(length < total ? take(parts, length) : parts, at, length);
      this.table.setPosition(this.slot, at + length);
    }
    this.lastFlush = performance.now();
    return at + length >= stop;
  }

  /** Write at `position` of the file, or of the ring: a write that crosses its end is split. */
  private writeFully(parts: Buffer[], position: number, length: number): void {
    const { ring } = this;
    if (ring === undefined) return this.writeAt(parts, position, length);
    const at = position % ring;
    const first = Math.min(length, ring - at);
    this.writeAt(first < length ? take(parts, first) : parts, at, first);
    if (first < length) this.writeAt(dropBytes(parts, first), 0, length - first);
  }

  private writeAt(parts: Buffer[], position: number, length: number): void {
    try {
      let offset = 0;
      while (offset < length) {
        const written = writevSync(this.fd, parts, position + offset);
        offset += written;
        if (offset < length) parts = dropBytes(parts, written); // rare short write
      }
    } catch (err) {
      throw new AttemptFailure(fileError(err, this.partPath), false);
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

/** The chunks without their first `count` bytes. */
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
