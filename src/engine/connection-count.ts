/**
 * How many connections a download uses: a fixed `-c N`, or `-c auto`, which starts with a few,
 * adds more while the total speed keeps rising, stops at the plateau, and gives connections
 * back when the server pushes back. A pure state machine: the time and the byte counts are
 * passed in, so the scheduler simulation drives it in simulated time (test/scheduler-sim.test.ts).
 */

/** Bounds of the connection count. */
export interface CountSettings {
  /** False: `start` connections throughout (`-c N`). */
  auto: boolean;
  /** Connections at first. */
  start: number;
  /** Never more than this (`--max-connections`). */
  most: number;
}

/** A change of the count, and why (shown with `-v` and in the JSON events). */
export interface CountChange {
  connections: number;
  reason: string;
}

/**
 * Connections `-c auto` starts with, at most: aria2c's limit per server. Starting lower and
 * doubling costs a measuring period per step: in the scheduler simulation, starting at 8 made
 * 256 MiB at a 200 ms round trip 22 % slower than a fixed 16 (3.63 s against 2.97 s), at
 * 80 ms 23 %, while growing from 16 was as fast as fixed 16 everywhere and 2-4x faster than it
 * where each connection is limited (by the server, or by loss on a long path).
 */
export const AUTO_START = 16;
/**
 * A step up is kept going only when it raised the total speed by this fraction. Doubling the
 * connections on a path they already fill measures 0–10 % (noise); where each connection is
 * limited (by the server, or by loss on a long path), 60–100 %.
 */
export const AUTO_GAIN = 0.25;
/**
 * Round trips after a step before its speed is measured (the new connections' handshake,
 * request and first windows of slow start), and round trips it is measured over; each at
 * least AUTO_MIN_WAIT ms, so that a fast path's noise averages out.
 */
export const AUTO_WAITS = 4;
/**
 * Fewest ms a step settles, and is measured. Under the pool's tick (250 ms, STEAL_MIN_AGE), so
 * that a tick 249 ms after the last (timers drift by a few ms) does not make one period two.
 */
export const AUTO_MIN_WAIT = 200;

/**
 * Where AUTO_WAITS round trips take no longer than this (ms: loopback, a LAN), new connections
 * are at speed at once, so a step is measured from the moment it is taken: one pool tick per
 * step instead of two, and one period of work queued is enough for a step. Measured (loopback,
 * nginx at 8 MiB/s per connection, 256 MiB, `--max-connections 64`, 4 alternating runs): 64
 * connections reached and 0.88–0.94 s, against 32 and 1.23–1.37 s before (`-c 64`: 0.56 s).
 * Longer paths keep their settling time (slow start); at 20–200 ms both overlapped.
 */
export const AUTO_NO_SETTLE_MS = 10;

/** A step that did not pay off is tried again after this many measuring periods at the count before it. */
export const AUTO_RETRY_WAITS = 8;

/** The connection count of one job; see the module comment. */
export class ConnectionCount {
  private count: number;
  /** The count before the step being judged. */
  private previous: number;
  /** Grows no more: the cap reached, or the server pushed back. */
  private settled: boolean;
  /** When the current count took effect, or a hold ends (ms). */
  private since: number;
  /** Bytes fetched when the current measurement began, and when; undefined before. */
  private mark: { bytes: number; at: number } | undefined;
  /** The count's start (nothing fetched): where connections are at speed at once, the first period is measured from it. */
  private origin: { bytes: number; at: number } | undefined;
  /** The total speed measured at the count before this one (bytes/s); undefined when this count is the baseline. */
  private before: number | undefined;

  constructor(
    private readonly settings: CountSettings,
    now: number,
  ) {
    this.count = Math.max(1, Math.min(settings.start, settings.most));
    this.previous = this.count;
    this.settled = !settings.auto || this.count >= settings.most;
    this.since = now;
    this.origin = { bytes: 0, at: now };
  }

  /** Connections to use now. */
  current(): number {
    return this.count;
  }

  /** Connections to leave work for: the next step's count while more may still be added. */
  sharing(): number {
    return this.settled ? this.count : Math.min(this.settings.most, 2 * this.count);
  }

  /**
   * Called every tick with every byte fetched so far, the connections busy, the bytes queued
   * for another connection, and the path's round trip (ms). Under `-c auto` the count is
   * measured once settled, over a period while every connection was busy, then doubled (up to
   * the cap) if the queue holds two periods of work at that speed: new connections spend their
   * first round trips in handshakes and slow start, and taking the last pieces from connections
   * already at speed makes a short download slower (in the simulation, 256 MiB at 80 ms went
   * from 1.26 s to 1.51 s). The doubled count is measured the same way: when it raised the speed by
   * AUTO_GAIN it is doubled again; when not, the count goes back to where it was and a step is
   * tried again AUTO_RETRY_WAITS periods later (a speed measured during slow start can
   * mislead once; it cannot keep the count low for the whole download).
   */
  tick(fetched: number, active: number, queued: number, now: number, roundTripMs = 0): CountChange | undefined {
    if (this.settled) return undefined;
    // Measured only while every connection has work: an idle one says nothing about the path.
    if (active < this.count || queued <= 0) {
      this.mark = this.origin = undefined;
      return undefined;
    }
    const wait = Math.max(AUTO_MIN_WAIT, AUTO_WAITS * roundTripMs);
    const atOnce = AUTO_WAITS * roundTripMs <= AUTO_NO_SETTLE_MS;
    // Held after a step that did not pay; elsewhere the new count settles first.
    if (now < this.since || (!atOnce && now - this.since < wait)) {
      this.mark = undefined;
      return undefined;
    }
    const origin = atOnce ? this.origin : undefined;
    this.origin = undefined;
    if (!this.mark && origin) this.mark = origin;
    if (!this.mark) {
      this.mark = { bytes: fetched, at: now };
      return undefined;
    }
    if (now - this.mark.at < wait) return undefined;
    const speed = ((fetched - this.mark.bytes) * 1000) / (now - this.mark.at);
    const rate = `${Math.round(speed / 1024)} KiB/s`;
    if (this.before !== undefined && speed < this.before * (1 + AUTO_GAIN)) {
      this.before = undefined;
      const back = this.change(this.previous, now, `${this.count} connections were no faster (${rate})`);
      this.since = now + AUTO_RETRY_WAITS * wait;
      return back;
    }
    if (this.count >= this.settings.most) {
      this.settled = true;
      return undefined;
    }
    // Added connections that are at speed at once pay with one period of work queued.
    if (queued < (speed * (atOnce ? 1 : 2) * wait) / 1000) {
      // Too little left for more connections to pay: measured again next period.
      this.before = undefined;
      this.mark = { bytes: fetched, at: now };
      return undefined;
    }
    this.before = speed;
    this.previous = this.count;
    const step = this.change(Math.min(this.settings.most, this.count * 2), now, `${this.count} connections made ${rate}`);
    if (atOnce) this.mark = { bytes: fetched, at: now };
    return step;
  }

  /** The server pushed back (429, 503, a refused or reset connection): one connection fewer, and no more growth. */
  pushback(active: number, now: number): CountChange | undefined {
    if (!this.settings.auto) return undefined;
    this.settled = true;
    const fewer = Math.max(1, Math.min(this.count, active) - 1);
    if (fewer >= this.count) return undefined;
    return this.change(fewer, now, 'the server pushed back');
  }

  private change(count: number, now: number, reason: string): CountChange | undefined {
    this.mark = undefined;
    this.since = now;
    if (count === this.count) return undefined;
    this.count = count;
    return { connections: count, reason };
  }
}

/**
 * The connection count of a pool: `opts.connections` is the most (a fixed `-c N`, or
 * `--max-connections` under `-c auto`); one connection for a file fetched as one stream.
 */
export function countSettings(opts: { connections: number; autoConnections: boolean }, ranged: boolean): CountSettings {
  if (!ranged) return { auto: false, start: 1, most: 1 };
  const start = opts.autoConnections ? Math.min(AUTO_START, opts.connections) : opts.connections;
  return { auto: opts.autoConnections, start, most: opts.connections };
}
