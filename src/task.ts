/**
 * A download as an event stream: `for await (const event of task.events)` alongside the
 * `onEvent` callback, for code that prefers to pull.
 */
import { download } from './download.js';
import type { DownloadEvent, DownloadResult } from './engine/events.js';
import type { DownloadOptions } from './options.js';

/** A running download: its events as an async iterable, and its result. */
export interface DownloadTask {
  /**
   * Every event of the download, in order; ends after `done`, or after the last event of
   * a failed download (the failure itself comes from `result`). Buffered until read.
   */
  events: AsyncIterable<DownloadEvent>;
  /** Resolves or rejects as {@link download} does. */
  result: Promise<DownloadResult>;
}

/**
 * Start a download and get its events as a stream.
 *
 * @example
 * const task = startDownload('https://example.com/big.iso', { connections: 16 });
 * for await (const event of task.events) if (event.type === 'progress') console.log(event.downloaded);
 * const result = await task.result;
 */
export function startDownload(url: string | URL, options: DownloadOptions = {}): DownloadTask {
  const queue: DownloadEvent[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const result = download(url, {
    ...options,
    onEvent: (event) => {
      options.onEvent?.(event);
      queue.push(event);
      notify();
    },
  }).finally(() => {
    ended = true;
    notify();
  });
  // The failure is for whoever awaits `result`; the stream only ends.
  result.catch(() => undefined);
  const events: AsyncIterable<DownloadEvent> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const event = queue.shift();
        if (event) {
          yield event;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
  return { events, result };
}
