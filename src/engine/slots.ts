/**
 * The slot table: shared memory through which the main thread and the workers agree on
 * the range each connection is fetching, without a message per chunk.
 *
 * One slot per connection, 64-bit fields: the range start, its end (exclusive), the position
 * (next byte to write; every byte before it is written to the `.part` file), the bytes
 * received, and the shortest time a response took to start. The main thread may shrink `end` at any time (work stealing); a worker reads it
 * before every write and only ever advances `position`.
 *
 * After the slots, one cell of flags for the whole file, which any thread may set and every
 * thread reads before each request: what one connection learnt about the server holds for all.
 */

const FIELDS = 5;
const START = 0;
const END = 1;
const POSITION = 2;
/** Bytes received by the connection (written or still in its buffer): where a split may start. */
const RECEIVED = 3;
/**
 * Fewest microseconds from sending a request to its response headers: about a round trip.
 * The shortest, because a busy thread sees the headers late (up to 100+ ms here).
 */
const WAIT = 4;
/** Cells after the slots: the file's flags. */
const FILE_CELLS = 1;
/** Flag: the server answered `If-Range` with 412; no request carries it any more. */
const NO_IF_RANGE = 1n;

export class SlotTable {
  readonly buffer: SharedArrayBuffer;
  readonly count: number;
  private readonly cells: BigInt64Array;

  /** Allocate a table for `count` slots, or wrap one received from another thread. */
  constructor(countOrBuffer: number | SharedArrayBuffer) {
    this.buffer =
      typeof countOrBuffer === 'number'
        ? new SharedArrayBuffer((countOrBuffer * FIELDS + FILE_CELLS) * BigInt64Array.BYTES_PER_ELEMENT)
        : countOrBuffer;
    this.cells = new BigInt64Array(this.buffer);
    this.count = (this.cells.length - FILE_CELLS) / FIELDS;
  }

  /** True once any connection found that the server refuses `If-Range` (412). */
  noIfRange(): boolean {
    return (Atomics.load(this.cells, this.count * FIELDS) & NO_IF_RANGE) !== 0n;
  }

  /** Record, for every thread, that the server refuses `If-Range`. */
  setNoIfRange(): void {
    Atomics.or(this.cells, this.count * FIELDS, NO_IF_RANGE);
  }

  start(slot: number): number {
    return Number(Atomics.load(this.cells, slot * FIELDS + START));
  }

  end(slot: number): number {
    return Number(Atomics.load(this.cells, slot * FIELDS + END));
  }

  position(slot: number): number {
    return Number(Atomics.load(this.cells, slot * FIELDS + POSITION));
  }

  /** End of the bytes the connection has received (written or buffered). */
  received(slot: number): number {
    return Number(Atomics.load(this.cells, slot * FIELDS + RECEIVED));
  }

  /** Fewest milliseconds a response of this slot took to start; 0 before its first. */
  wait(slot: number): number {
    return Number(Atomics.load(this.cells, slot * FIELDS + WAIT)) / 1000;
  }

  /** Record how long a response took to start (worker); only a shorter time than before counts. */
  setWait(slot: number, milliseconds: number): void {
    const micros = BigInt(Math.max(1, Math.round(milliseconds * 1000)));
    const before = Atomics.load(this.cells, slot * FIELDS + WAIT);
    if (before === 0n || micros < before) Atomics.store(this.cells, slot * FIELDS + WAIT, micros);
  }

  /** Give a slot a new range (main thread, before telling the worker). */
  assign(slot: number, start: number, end: number): void {
    Atomics.store(this.cells, slot * FIELDS + START, BigInt(start));
    Atomics.store(this.cells, slot * FIELDS + POSITION, BigInt(start));
    Atomics.store(this.cells, slot * FIELDS + RECEIVED, BigInt(start));
    Atomics.store(this.cells, slot * FIELDS + END, BigInt(end));
  }

  /** Shrink a slot's range (work stealing, main thread). */
  setEnd(slot: number, end: number): void {
    Atomics.store(this.cells, slot * FIELDS + END, BigInt(end));
  }

  /** Record that bytes up to `received` have arrived (worker, per chunk). */
  setReceived(slot: number, received: number): void {
    Atomics.store(this.cells, slot * FIELDS + RECEIVED, BigInt(received));
  }

  /** Record that every byte before `position` is written (worker). */
  setPosition(slot: number, position: number): void {
    Atomics.store(this.cells, slot * FIELDS + POSITION, BigInt(position));
  }
}
