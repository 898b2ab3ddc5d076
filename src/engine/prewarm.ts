/**
 * Worker threads take a while to start (loading undici is most of it). Starting them
 * before the main thread loads its own modules and probes lets both happen at once.
 */
import { Worker } from 'node:worker_threads';

const parked: Worker[] = [];

function spawn(): Worker {
  return new Worker(new URL('./worker.js', import.meta.url));
}

/** Start `count` workers now, for the next pool to take. They do not keep the process alive. */
export function prewarm(count: number): void {
  for (let i = 0; i < count; i++) {
    const worker = spawn();
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

/** Park workers until `count` are parked (a download calls this before its probe). */
export function keepWarm(count: number): void {
  if (parked.length < count) prewarm(count - parked.length);
}
