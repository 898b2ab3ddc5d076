/**
 * Worker threads take a while to start (~0.1 s of CPU: loading their modules). A download
 * starts them while it probes, so that a big file's threads are ready when the probe
 * answers; a small file is fetched in the main thread and should not pay for one.
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { connectionsFor, preconnectPlan, threadShare, type PreconnectPlan } from './preconnect.js';
import type { ProbeResult } from '../http/probe.js';
import { plannedMinRange, probeRoundTrip } from './plan.js';
import type { FromWorker, ToWorker } from './protocol.js';
import type { DownloadSettings } from './settings.js';

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
 * True when a file of `size` bytes is fetched by worker threads: a big one (unknown: it may be
 * big), or any when the threads warmed while the probe ran are `ready` (running, with the
 * connections they opened meanwhile): a small file then starts a round trip sooner than on new
 * connections from the main thread. 1 MiB (netem.sh namespaces, 3 runs): at 80 ms 0.64 → 0.56
 * s, at 200 ms 1.42 → 1.22 s. At 20 ms the probe (~45 ms) answers before a thread is running,
 * and waiting for one took longer than the main thread (0.25 → 0.29 s).
 */
export function fetchedInThreads(size: number | undefined, ready = false): boolean {
  return size === undefined || size > INLINE_MAX_SIZE || (ready && size > 0);
}

/**
 * Whether the file the probe describes is fetched by threads, the warm ones being `ready` or
 * not. Ranges only: a small file that comes as one stream keeps the probe's connection.
 */
function threadedFor(answer: ProbeAnswer, ready: boolean): boolean {
  return fetchedInThreads(answer.size, answer.acceptsRanges !== false && ready);
}

/** Workers that said they are running (`ready`, worker.ts). */
const running = new WeakSet<Worker>();

/**
 * What the probe said, for {@link WarmUp.probed}: the size, whether ranges work (false: the
 * file comes as one stream, and connections opened for ranges are closed), how long it took
 * (the round trip that decides the smallest piece: plan.ts, `plannedMinRange`).
 */
export type ProbeAnswer = Pick<ProbeResult, 'size' | 'elapsed'> & { acceptsRanges?: boolean };

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
export function warmUp(count: number, delay = WARM_DELAY, start: (count: number) => void = keepWarm, ready = (): boolean => false): WarmUp {
  let threaded: boolean | undefined;
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    timer = undefined;
    start(count);
  }, delay);
  // A pending warm-up never keeps the process alive.
  timer.unref();
  const cancel = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  return {
    probed(answer) {
      threaded = threadedFor(answer, ready());
      if (!timer) return;
      cancel();
      if (threaded) start(count);
    },
    get threaded() {
      return threaded;
    },
    cancel,
  };
}

/**
 * {@link warmUp} for a download: its threads, which open the connections its first ranges
 * will take as soon as they start (preconnect.ts), and close them once the probe says they
 * are not needed (a small file, one without ranges, fewer ranges than connections) or the
 * download ends without taking them.
 */
export function warmUpFor(opts: DownloadSettings, delay: number = WARM_DELAY): WarmUp {
  const plan = preconnectPlan(opts);
  if (!plan) return warmUp(opts.threads, delay);
  let workers: Worker[] = [];
  let connections = plan.connections;
  const ready = (): boolean => workers.length > 0 && workers.every((worker) => running.has(worker));
  const warm = warmUp(
    opts.threads,
    delay,
    (count) => {
      workers = keepWarm(count);
      order(workers, plan, connections);
    },
    ready,
  );
  return {
    probed(answer) {
      const minRangeSize = plannedMinRange(opts, probeRoundTrip(answer), answer.size);
      // Before warm.probed: the threads it may start now take their share of `connections`.
      const ranged = answer.acceptsRanges !== false;
      connections = ranged && threadedFor(answer, ready()) ? connectionsFor({ ...plan, minRangeSize }, answer.size) : 0;
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

/** Tell each worker of a pool-to-be how many connections to keep open: its share of `connections`. */
function order(workers: readonly Worker[], plan: PreconnectPlan, connections: number): void {
  const threads = Math.min(workers.length, plan.threads);
  workers.forEach((worker, t) => {
    const count = t < threads ? threadShare(connections, threads, t) : 0;
    worker.postMessage({ type: 'preconnect', order: { origin: plan.origin, count, connection: plan.connection } } satisfies ToWorker);
  });
}
