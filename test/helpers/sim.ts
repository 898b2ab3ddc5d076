/**
 * A simulation of the scheduler on a network, in simulated time: the real assigner
 * (src/engine/assigner.ts, with the scheduler's pure decisions and `-c auto`) on a real slot
 * table, driven by simulated connections instead of worker threads. Each connection has a
 * round trip, TCP's slow start and congestion window (halved by a loss, reset after an idle
 * spell, as Linux does), an optional per-connection rate limit (a server's limit_rate), and a
 * share of the path's capacity. A new connection costs a handshake; a range cut short (split,
 * handed back) costs its connection, as on the real path (the server was still sending).
 * A 200 ms download of 256 MiB takes a few hundred milliseconds of test time.
 */
import { Assigner } from '../../src/engine/assigner.js';
import type { CountSettings } from '../../src/engine/connection-count.js';
import { planRanges, plannedMinRange } from '../../src/engine/plan.js';
import { STEAL_MIN_AGE } from '../../src/engine/scheduler.js';
import { SlotTable } from '../../src/engine/slots.js';
import { mulberry32 } from './random.js';

/** The path and server a simulation runs on. */
export interface SimNetwork {
  /** Round trip, ms. */
  rtt: number;
  /** Fraction of packets lost (0.005 = 0.5 %). */
  loss?: number;
  /** Bytes/s the server sends on one connection at most (nginx limit_rate); default unlimited. */
  perConnection?: number;
  /** Bytes/s of the whole path, shared by all connections; default 1 GiB/s. */
  capacity?: number;
  /** Connections the server accepts at once; more are answered 503 (pushback). Default unlimited. */
  serverLimit?: number;
  seed?: number;
}

/** What the download asks for. */
export interface SimDownload {
  size: number;
  /** Slots (the most connections). */
  slots: number;
  connections: CountSettings;
  /** `--min-range` (default 1 MiB); planned as the download plans it (`plannedMinRange`), unless `minRangeChosen`. */
  minRangeSize?: number;
  minRangeChosen?: boolean;
}

/** What happened. */
export interface SimResult {
  /** Simulated ms from the first request to the last byte. */
  ms: number;
  /** Range requests sent (answered 503 included). */
  requests: number;
  /** Connections opened. */
  handshakes: number;
  /** Most connections fetching at once. */
  peak: number;
  /** Every byte written exactly once. */
  exact: boolean;
  /** What `-c auto` did, when (simulated ms). */
  changes: Array<{ at: number; connections: number; reason: string }>;
}

const MSS = 1448;
const INITIAL_WINDOW = 10 * MSS;
/** Linux's default largest receive window (tcp_rmem max, 6 MiB): one connection's ceiling is this per round trip. */
const MAX_WINDOW = 6 * 1024 * 1024;
/** Simulated step, ms. */
const STEP = 1;
/** Ms a slot waits after a 503 before its next attempt (the fetcher's first retry wait). */
const RETRY_WAIT = 1000;

interface Conn {
  open: boolean;
  cwnd: number;
  ssthresh: number;
  /** When its last byte arrived (ms), for the idle restart. */
  lastActive: number;
  /** When its window was last cut (ms): losses within a round trip of it are one congestion event (SACK). */
  lastCut: number;
}

interface Fetch {
  /** First byte arrives at this time (ms). */
  firstByte: number;
  /** The end asked for in the request (the table's end may shrink below it). */
  asked: number;
  /** Answered 503: no bytes, retried at firstByte. */
  refused: boolean;
}

/** Run one download; throws when it does not finish within `limitMs` of simulated time. */
export function simulate(net: SimNetwork, job: SimDownload, limitMs = 600_000): SimResult {
  const random = mulberry32(net.seed ?? 1);
  const table = new SlotTable(job.slots);
  const conns: Conn[] = Array.from({ length: job.slots }, () => ({ open: false, cwnd: INITIAL_WINDOW, ssthresh: Infinity, lastActive: 0, lastCut: -Infinity }));
  const fetches = new Map<number, Fetch>();
  /** Every range's written bytes, as it ends. */
  const written: Array<[number, number]> = [];
  let now = 0;
  let requests = 0;
  let handshakes = 0;
  let peak = 0;
  /** Requests the server is answering (it counts busy connections, not idle keep-alive ones). */
  const serving = (): number => [...fetches.values()].filter((f) => !f.refused).length;
  const request = (slot: number): void => {
    const conn = conns[slot]!;
    requests++;
    let wait = net.rtt;
    if (!conn.open) {
      conn.open = true;
      conn.cwnd = INITIAL_WINDOW;
      conn.ssthresh = Infinity;
      handshakes++;
      wait += net.rtt;
    } else if (now - conn.lastActive > Math.max(200, 2 * net.rtt)) {
      conn.cwnd = Math.min(conn.cwnd, INITIAL_WINDOW); // slow start after idle (tcp_slow_start_after_idle)
    }
    const refused = net.serverLimit !== undefined && serving() >= net.serverLimit;
    fetches.set(slot, { firstByte: now + wait, asked: table.end(slot), refused });
    if (!refused) table.setWait(slot, net.rtt);
  };
  const changes: Array<{ at: number; connections: number; reason: string }> = [];
  const assigner = new Assigner(table, { run: (slot) => request(slot), onConnections: (connections, reason) => changes.push({ at: now, connections, reason }) });
  const minRange = { minRangeSize: job.minRangeSize ?? 1024 * 1024, minRangeChosen: job.minRangeChosen ?? false, connections: job.slots };
  const ranges = planRanges({ size: job.size, connections: job.slots, minRangeSize: plannedMinRange(minRange, net.rtt, job.size) });
  // The probe's round trip is known before the first range (as the download times its probe).
  assigner.load({ mode: 'ranges', sources: 1, minRangeSize: minRange.minRangeSize, connections: job.connections, roundTrip: net.rtt }, ranges, [], now);
  let finished = assigner.schedule(now);
  while (!finished) {
    if (now > limitMs) throw new Error(`simulation did not finish in ${limitMs} ms: ${JSON.stringify(assigner.written().slice(0, 4))}`);
    now += STEP;
    // Rates wanted by the receiving connections, then scaled to the path's capacity.
    const receiving = [...fetches].filter(([, f]) => !f.refused && f.firstByte <= now);
    peak = Math.max(peak, receiving.length);
    const wants = receiving.map(([slot]) => Math.min(conns[slot]!.cwnd, MAX_WINDOW) * (1000 / net.rtt));
    const capped = wants.map((w) => Math.min(w, net.perConnection ?? Infinity));
    const total = capped.reduce((a, b) => a + b, 0);
    const scale = Math.min(1, (net.capacity ?? 1024 ** 3) / Math.max(1, total));
    const done: number[] = [];
    receiving.forEach(([slot, fetch], i) => {
      const conn = conns[slot]!;
      const position = table.position(slot);
      const end = table.end(slot);
      const bytes = Math.min(end - position, Math.floor((capped[i]! * scale * STEP) / 1000));
      table.setReceived(slot, position + bytes);
      table.setPosition(slot, position + bytes);
      conn.lastActive = now;
      // Loss: each packet lost with probability `loss`; one loss halves the window (fast recovery, CUBIC's 0.7).
      const packets = bytes / MSS;
      if (net.loss && random() < 1 - (1 - net.loss) ** packets && now - conn.lastCut > net.rtt) {
        conn.lastCut = now;
        conn.ssthresh = Math.max(2 * MSS, conn.cwnd * 0.7);
        conn.cwnd = conn.ssthresh;
      } else if (conn.cwnd < conn.ssthresh) {
        conn.cwnd += bytes; // slow start: the window grows by what is acknowledged
      } else {
        conn.cwnd += (MSS * bytes) / conn.cwnd;
      }
      if (position + bytes >= end) {
        // Cut short: the server is still sending the rest; the connection cannot be reused.
        if (end < fetch.asked) conn.open = false;
        done.push(slot);
      }
    });
    for (const [slot, fetch] of fetches) {
      if (!fetch.refused || fetch.firstByte > now) continue;
      fetches.delete(slot);
      conns[slot]!.open = false;
      assigner.pushback(now);
      // The retry: a new connection after the wait, if the server has room then (this fetch,
      // deleted above, is not counted as served while it decides).
      const retry = { firstByte: now + RETRY_WAIT, asked: fetch.asked, refused: net.serverLimit !== undefined && serving() >= net.serverLimit };
      fetches.set(slot, retry);
      if (!retry.refused) {
        conns[slot]!.open = true;
        conns[slot]!.cwnd = INITIAL_WINDOW;
        handshakes++;
        requests++;
        retry.firstByte += 2 * net.rtt;
      }
    }
    for (const slot of done) {
      fetches.delete(slot);
      written.push([table.start(slot), table.position(slot)]);
      finished = assigner.done(slot, now);
    }
    if (now % STEAL_MIN_AGE === 0 && !finished) finished = assigner.tick(now);
  }
  return { ms: now, requests, handshakes, peak, exact: coversOnce(written, job.size), changes };
}

/** The intervals cover [0, size) with no byte twice. */
function coversOnce(intervals: Array<[number, number]>, size: number): boolean {
  let at = 0;
  for (const [start, end] of [...intervals].filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0])) {
    if (start !== at) return false;
    at = end;
  }
  return at === size;
}
