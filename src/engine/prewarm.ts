/**
 * Who fetches a download's ranges, and what is warmed while its probe runs. Worker threads
 * fetch a big file whose bytes cost more than a copy ({@link worthThreads}); they take a while
 * to start (~0.1 s of CPU: loading their modules), so a download starts them while it probes.
 * Everything else is fetched in the main thread, whose warm-up opens the first ranges'
 * connections instead ({@link warmUpFor}).
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { connectionsFor, preconnectPlan, threadShare, type PreconnectPlan } from './preconnect.js';
import type { ProbeResult } from '../http/probe.js';
import { plannedMinRange, probeRoundTrip } from './plan.js';
import type { FromWorker, ToWorker } from './protocol.js';
import type { DownloadSettings } from './settings.js';
import { LeanClient } from '../http/lean-client.js';
import type { HttpClient } from '../http/client.js';

// node:worker_threads is loaded by the first thread started: a small download starts none.
const require = createRequire(import.meta.url);

/** Files up to this size are fetched in the main thread: a worker would take longer to start. */
export const INLINE_MAX_SIZE = 4 * 1024 * 1024;

/**
 * How long a probe may take before the threads are started anyway. A server this far away
 * hides most of a thread's start behind the probe's round trip; one this close answers
 * first, and a small file then starts no thread at all.
 */
export const WARM_DELAY = 25;

/**
 * Files whose bytes are hashed as they arrive are fetched in the main thread up to this size
 * (the hasher then shares its thread) when the probe answers before threads were warmed (a
 * near server). Over loopback, `--no-fsync`, 5–7 alternating runs with `--checksum`, main
 * thread against a worker: 8 MiB 0.14 against 0.24 s, 32 MiB 0.24 against 0.28 s, 256 MiB 0.55
 * against 0.63 s, 1 GiB 1.73 against 1.37 s: a line through them crosses near 390 MiB. Again
 * with this rule against the build before: 8 MiB 0.21 against 0.29 s, 32 MiB 0.26 against 0.37
 * s, 256 MiB 0.73 against 0.72 s (0.72 s of CPU against 0.93), 10 MiB less peak RSS.
 */
export const HASHED_INLINE_MAX = 384 * 1024 * 1024;

/**
 * Whether a download's bytes cost more than a copy each, which is what a worker thread is
 * for: ranges through undici (a proxy, `-v`: a fresh buffer per read), threads asked for
 * (`--threads`), or a digest hashed as the bytes arrive (`--checksum`, a metalink's pieces, the
 * server's digest: the hashing runs in the main thread) for a file over HASHED_INLINE_MAX, of
 * no known size, or whose threads the warm-up had `started` before the probe answered (a far
 * server, where the network is the limit: their start is hidden, and closing the connections
 * they opened to start over in the main thread cost more: 1 GiB at 80 ms, 3.54 against 3.28 s).
 * A plain HTTP download is a copy from socket to page cache that one thread carries at curl's
 * pace, and the main thread then carries it: 1 GiB over loopback at -c 16, `--no-fsync`, 5
 * alternating runs, 0.85 s, 0.91 s of CPU and 58 MiB peak RSS in the main thread against
 * 0.93 s, 1.05 s and 68 MiB in a worker (curl 0.83 s, 0.84 s); a worker is a second V8 isolate
 * (~10 MiB, ~0.1 s of CPU to start). TLS is no reason either: decrypting (AES-GCM, one record
 * per read) is per-byte work, but the worker's start cost more than moving it off the main
 * thread saved. `--no-fsync`, 5–9 alternating runs, medians, main thread against worker: over
 * loopback 32 MiB 0.28 against 0.46 s, 256 MiB 0.59 against 0.77 s, 1 GiB 1.72 against 1.77 s
 * (1.16 s of user CPU against 1.23; curl 1.43 s); in netem.sh namespaces at 80 ms 1 MiB 0.73
 * against 0.86 s and 256 MiB 1.55 against 1.65 s, at 20 ms with 0.5 % loss 8 MiB 0.47 against
 * 0.55 s and 256 MiB 1.03 against 1.07 s, at 200 ms with 0.5 % loss ~3 % slower within the
 * spread (4.68 against 4.54 s, 9 runs; aria2c 6.11 s); 8–12 MiB less peak RSS everywhere.
 */
export function worthThreads(opts: DownloadSettings, answer?: Partial<Pick<ProbeResult, 'digest' | 'size'>>, started = false): boolean {
  if (opts.threadsChosen || preconnectPlan(opts) === undefined) return true;
  const hashed = opts.checksum !== undefined || opts.pieces !== undefined || answer?.digest !== undefined;
  // Before the probe (no size yet) a download to hash warms threads: the file may be big.
  return hashed && (answer?.size === undefined || answer.size > HASHED_INLINE_MAX || started);
}

/**
 * True when a file of `size` bytes is fetched by worker threads: one `worth` them
 * ({@link worthThreads}) that is big (unknown: it may be big), or any size when the threads
 * warmed while the probe ran are `ready` (running, with the connections they opened
 * meanwhile): a small file then starts a round trip sooner than on new connections from the
 * main thread. 1 MiB (netem.sh namespaces, 3 runs): at 80 ms 0.64 → 0.56 s, at 200 ms 1.42 →
 * 1.22 s. At 20 ms the probe (~45 ms) answers before a thread is running, and waiting for one
 * took longer than the main thread (0.25 → 0.29 s).
 */
export function fetchedInThreads(size: number | undefined, ready = false, worth = true): boolean {
  return worth && (size === undefined || size > INLINE_MAX_SIZE || (ready && size > 0));
}

/**
 * Whether the file the probe describes is fetched by threads, the warm ones being `ready` or
 * not. Ranges only: a small file that comes as one stream keeps the probe's connection.
 */
function threadedFor(answer: ProbeAnswer, ready: boolean, worth = true): boolean {
  return fetchedInThreads(answer.size, answer.acceptsRanges !== false && ready, worth);
}

/** Workers that said they are running (`ready`, worker.ts). */
const running = new WeakSet<Worker>();

/**
 * What the probe said, for {@link WarmUp.probed}: the size, whether ranges work (false: the
 * file comes as one stream, and connections opened for ranges are closed), how long it took
 * (the round trip that decides the smallest piece: plan.ts, `plannedMinRange`).
 */
export type ProbeAnswer = Pick<ProbeResult, 'size' | 'elapsed'> & Partial<Pick<ProbeResult, 'finalUrl' | 'digest'>> & { acceptsRanges?: boolean };

/**
 * A worker's young generation as small as V8 makes it (two 1 MiB semi-spaces; 1 or 2 give the
 * same). The data path allocates per request, not per read, so a small nursery is scavenged
 * more often (16 times for 1 GiB, was 8) but each time quicker: the worker's scavenges took
 * 12-18 ms in all against 21-23 ms, and the process 3.5 MiB less peak RSS and ~1,000 fewer
 * minor faults (1 GiB over loopback at -c 16, medians of 4-8 alternating runs). Where undici
 * fetches the ranges instead (proxies, -v: a 64 KiB buffer per read), the same CPU and 2.3 MiB
 * less RSS, but ~4,000 more faults (35,200 against 31,000, five runs each).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 3 };

const parked: Worker[] = [];
let started = 0;

function spawn(): Worker {
  started++;
  const threads = require('node:worker_threads') as typeof import('node:worker_threads');
  return new threads.Worker(new URL('./worker.js', import.meta.url), { resourceLimits: WORKER_LIMITS });
}

/** Worker threads started by this process so far (tests: a small download starts none). */
export function threadsStarted(): number {
  return started;
}

/** Start `count` workers now, for the next pool to take. They do not keep the process alive. */
export function prewarm(count: number): void {
  for (let i = 0; i < count; i++) {
    const worker = spawn();
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') running.add(worker);
    });
    // After the listener, which refs the worker's port again.
    worker.unref();
    // A parked worker that dies is simply not taken.
    worker.once('exit', () => {
      const at = parked.indexOf(worker);
      if (at >= 0) parked.splice(at, 1);
    });
    parked.push(worker);
  }
}

/** A started worker: a parked one if any, otherwise a new one. */
export function takeWorker(): Worker {
  const worker = parked.shift();
  if (!worker) return spawn();
  worker.removeAllListeners('exit');
  worker.ref();
  return worker;
}

/** Park workers until `count` are parked; the `count` the next pool takes first. */
export function keepWarm(count: number): Worker[] {
  if (parked.length < count) prewarm(count - parked.length);
  return parked.slice(0, count);
}

/** One download's warm-up: {@link warmUp}. */
export interface WarmUp {
  /** The probe answered: start the threads now if the file needs them, else never. */
  probed(answer: ProbeAnswer): void;
  /** Once probed: whether the file is fetched by threads ({@link fetchedInThreads}). */
  readonly threaded: boolean | undefined;
  /** The download ends (or failed before its probe answered): start nothing more. */
  cancel(): void;
}

/**
 * Threads for a download about to probe: started when the probe says the file is big (or
 * does not say), or once the probe has taken `delay` ms, whichever comes first. `start`
 * parks them ({@link keepWarm} by default); `ready`: whether they are running now.
 */
export function warmUp(
  count: number,
  delay = WARM_DELAY,
  start: (count: number) => void = keepWarm,
  ready = (): boolean => false,
  worth = (_answer: ProbeAnswer): boolean => true,
): WarmUp {
  let threaded: boolean | undefined;
  const timer = later(delay, () => start(count));
  return {
    probed(answer) {
      threaded = threadedFor(answer, ready(), worth(answer));
      if (!timer.pending) return;
      timer.cancel();
      if (threaded) start(count);
    },
    get threaded() {
      return threaded;
    },
    cancel: () => timer.cancel(),
  };
}

/** `run` called once `delay` ms have passed, unless cancelled before; a pending one never keeps the process alive. */
function later(delay: number, run: () => void): { readonly pending: boolean; cancel(): void } {
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    timer = undefined;
    run();
  }, delay);
  timer.unref();
  return {
    get pending() {
      return timer !== undefined;
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** Whether threads fetch the file the probe describes, no warm thread being ready: the main thread's warm-up, and a download without one (a batch's). */
export function threadsFor(opts: DownloadSettings, answer: ProbeAnswer): boolean {
  return threadedFor(answer, false, worthThreads(opts, answer));
}

/**
 * {@link warmUp} for a download: its threads, which open the connections its first ranges
 * will take as soon as they start (preconnect.ts), and close them once the probe says they
 * are not needed (a small file, one without ranges, fewer ranges than connections) or the
 * download ends without taking them. A download not {@link worthThreads} opens them in the
 * main thread's `client` instead ({@link warmMainThread}).
 */
export function warmUpFor(opts: DownloadSettings, delay: number = WARM_DELAY, client?: HttpClient): WarmUp {
  const plan = preconnectPlan(opts);
  if (!plan) return warmUp(opts.threads, delay);
  if (client instanceof LeanClient && !worthThreads(opts)) return warmMainThread(opts, plan, client, delay);
  let workers: Worker[] = [];
  let connections = plan.connections;
  const ready = (): boolean => workers.length > 0 && workers.every((worker) => running.has(worker));
  const worth = (answer: ProbeAnswer): boolean => worthThreads(opts, answer, workers.length > 0);
  const warm = warmUp(
    opts.threads,
    delay,
    (count) => {
      workers = keepWarm(count);
      order(workers, plan, connections);
    },
    ready,
    worth,
  );
  return {
    probed(answer) {
      // Before warm.probed: the threads it may start now take their share of `connections`.
      connections = threadedFor(answer, ready(), worth(answer)) ? rangeConnections(opts, plan, answer) : 0;
      warm.probed(answer);
      order(workers, plan, connections);
    },
    get threaded() {
      return warm.threaded;
    },
    cancel() {
      warm.cancel();
      order(workers, plan, 0);
      workers = [];
    },
  };
}

/** Connections the file the probe describes starts with (0: it comes as one stream). */
function rangeConnections(opts: DownloadSettings, plan: PreconnectPlan, answer: ProbeAnswer): number {
  if (answer.acceptsRanges === false) return 0;
  return connectionsFor({ ...plan, minRangeSize: plannedMinRange(opts, probeRoundTrip(answer), answer.size) }, answer.size);
}

/**
 * The warm-up of a download the main thread fetches: no thread, but its first ranges'
 * connections, opened in the main thread's client once the probe has taken `delay` ms (a
 * near server answers first, and a small file opens none), one fewer than the download
 * starts with (the probe's own connection takes the first range), and closed down to what
 * the file takes when the probe answers (at least the probe's: a file without ranges comes
 * on one connection).
 */
function warmMainThread(opts: DownloadSettings, plan: PreconnectPlan, client: LeanClient, delay: number): WarmUp {
  let threaded: boolean | undefined;
  let opened = false;
  const timer = later(delay, () => {
    opened = true;
    client.preconnect(opts.url, plan.connections - 1);
  });
  return {
    probed(answer) {
      timer.cancel();
      threaded = threadsFor(opts, answer);
      if (!opened) return;
      // Sent elsewhere (a redirect to another origin): none of these is of use.
      const moved = answer.finalUrl !== undefined && new URL(answer.finalUrl).origin !== plan.origin;
      client.trim(plan.origin, moved ? 0 : Math.max(1, threaded ? 0 : rangeConnections(opts, plan, answer)));
    },
    get threaded() {
      return threaded;
    },
    cancel: () => timer.cancel(),
  };
}

/** Tell each worker of a pool-to-be how many connections to keep open: its share of `connections`. */
function order(workers: readonly Worker[], plan: PreconnectPlan, connections: number): void {
  const threads = Math.min(workers.length, plan.threads);
  workers.forEach((worker, t) => {
    const count = t < threads ? threadShare(connections, threads, t) : 0;
    worker.postMessage({ type: 'preconnect', order: { origin: plan.origin, count, connection: plan.connection } } satisfies ToWorker);
  });
}
