/**
 * A stand-in for a worker thread that runs its {@link Fetcher} in the main thread. For
 * small files, where starting a thread costs more than the whole fetch, and for batches
 * of them. Messages stay asynchronous and in order, as with a real worker.
 */
import { EventEmitter } from 'node:events';
import { Fetcher } from './fetcher.js';
import type { FromWorker, ToWorker } from './protocol.js';
import type { HttpClient } from '../http/client.js';

export class InlineWorker extends EventEmitter {
  private exited = false;
  private readonly fetcher: Fetcher;

  /** `client`: the connections to use (the download's, kept open after the fetch). */
  constructor(client: HttpClient) {
    super();
    this.fetcher = new Fetcher(
      (message: FromWorker) => queueMicrotask(() => this.emit('message', message)),
      () => this.exit(),
      client,
    );
  }

  postMessage(message: ToWorker): void {
    queueMicrotask(() => this.fetcher.handle(message));
  }

  /** Stop at once: the fetcher still writes what it holds, then "exits". */
  terminate(): Promise<number> {
    if (this.exited) return Promise.resolve(0);
    return new Promise((resolve) => {
      this.once('exit', () => resolve(0));
      this.postMessage({ type: 'stop' });
    });
  }

  private exit(): void {
    if (this.exited) return;
    this.exited = true;
    queueMicrotask(() => this.emit('exit', 0));
  }
}
