/**
 * `--max-speed`: one rate limit shared by every thread and connection of the process.
 *
 * A virtual-clock token bucket (GCRA): one shared 64-bit "theoretical arrival time" in
 * microseconds, advanced with compare-and-swap by whoever takes bytes. Lock-free, one
 * number, no messages.
 */

/** Wall clock in microseconds, comparable across threads (performance.now() is not). */
function nowMicros(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
}

/**
 * A rate limit in bytes per second. Pass one as `maxSpeed` to several downloads to cap
 * them together; `downloadMany` does so for `maxSpeed`.
 */
export class RateLimiter {
  readonly buffer: SharedArrayBuffer;
  private readonly cells: BigInt64Array;

  /** Create a limiter of `bytesPerSecond`, or join one from another thread. */
  constructor(bytesPerSecondOrBuffer: number | SharedArrayBuffer) {
    if (typeof bytesPerSecondOrBuffer === 'number') {
      this.buffer = new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT);
      this.cells = new BigInt64Array(this.buffer);
      this.cells[0] = 0n;
      this.cells[1] = BigInt(Math.max(1, Math.round(bytesPerSecondOrBuffer)));
    } else {
      this.buffer = bytesPerSecondOrBuffer;
      this.cells = new BigInt64Array(this.buffer);
    }
  }

  get bytesPerSecond(): number {
    return Number(this.cells[1]);
  }

  /**
   * Account for `bytes`; returns the milliseconds to wait before taking more (0: go on).
   * A burst of a tenth of a second passes at once, so a steady stream is not chopped into
   * tiny pauses.
   */
  reserve(bytes: number): number {
    const rate = this.cells[1]!;
    const cost = (BigInt(bytes) * 1_000_000n) / rate;
    const burst = 100_000n;
    const now = nowMicros();
    let tat: bigint;
    for (;;) {
      const old = Atomics.load(this.cells, 0);
      tat = (old > now ? old : now) + cost;
      if (Atomics.compareExchange(this.cells, 0, old, tat) === old) break;
    }
    const wait = tat - now - burst;
    return wait > 0n ? Number(wait / 1000n) : 0;
  }
}
