/**
 * A worker thread: one {@link Fetcher}, fed by the pool's messages.
 */
import { parentPort } from 'node:worker_threads';
import { Fetcher } from './fetcher.js';
import type { FromWorker, ToWorker } from './protocol.js';

const port = parentPort!;
const fetcher = new Fetcher(
  (message: FromWorker) => port.postMessage(message),
  () => port.close(),
);
port.on('message', (message: ToWorker) => fetcher.handle(message));
port.postMessage({ type: 'ready' } satisfies FromWorker);
