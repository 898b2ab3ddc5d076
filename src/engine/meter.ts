/**
 * The meter: a download's progress report, its speed taken over the last few seconds from
 * samples of the bytes written. Pure given the times it is handed.
 */
import type { Progress } from './events.js';

/** Samples older than this (ms) are dropped, as long as two remain. */
const SPEED_WINDOW = 3000;

/** One reading: the time (ms, `performance.now()`), and the figures it reports. */
export interface Reading {
  now: number;
  /** Bytes written, resumed bytes included. */
  written: number;
  total: number | undefined;
  connections: number;
}

/** Turns readings into {@link Progress}, remembering the recent ones for the speed. */
export class Meter {
  private readonly samples: Array<{ t: number; bytes: number }> = [];

  /** `started`: when the download started (ms, `performance.now()`), for `elapsed`. */
  constructor(private readonly started: number) {}

  /** Record a reading and report it. */
  progress(reading: Reading): Progress {
    const { now, written } = reading;
    const samples = this.samples;
    samples.push({ t: now, bytes: written });
    while (samples.length > 2 && now - samples[0]!.t > SPEED_WINDOW) samples.shift();
    const first = samples[0]!;
    const speed = now > first.t ? ((written - first.bytes) * 1000) / (now - first.t) : 0;
    return { downloaded: written, total: reading.total, speed, connections: reading.connections, elapsed: now - this.started };
  }
}

/** A speed for a message: `512 KiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1024).toFixed(0)} KiB/s`;
}
