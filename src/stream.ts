/**
 * The public entry points of a streamed download (the CLI's `-o -`): the file's bytes in
 * order, fetched over several connections within a bounded window, as a Readable or written
 * to a Writable. Nothing is saved; resume does not apply.
 */
import { Readable } from 'node:stream';
import { Download } from './engine/download.js';
import type { DownloadResult } from './engine/events.js';
import type { StreamWrite } from './engine/stream.js';
import { resolveOptions, type DownloadOptions } from './options.js';
import { AbortError, fileError } from './primitives/errors.js';

/** Options of {@link downloadStream} and {@link downloadTo}: a download's, less those of an output file. */
export interface StreamOptions
  extends Omit<DownloadOptions, 'output' | 'dir' | 'overwrite' | 'continue' | 'skipExisting' | 'timestamping' | 'remoteTime' | 'fsync' | 'resume' | 'restart'> {
  /**
   * Bytes the connections may fetch ahead of the reader (`--stream-window`), at least
   * 64 KiB. They wait in a temporary ring file of this size in the OS's temporary directory
   * (`TMPDIR`), not in memory. Default 64 MiB.
   */
  streamWindow?: number;
}

/** The bytes of a download in file order. */
export interface DownloadStream extends Readable {
  /**
   * Settles when the download ends: the result once the last byte is pushed and verified;
   * the stream's error otherwise (an AbortError when the stream is destroyed first).
   */
  readonly result: Promise<DownloadResult>;
}

/** Milliseconds between looks at a failed stream's buffer, until its reader has taken every byte. */
const DRAIN_POLL = 5;

/** A Readable fed by a streamed download: each chunk waits until the reader wants more. */
class StreamOut extends Readable implements DownloadStream {
  result!: Promise<DownloadResult>;
  private wanted: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(private readonly controller: AbortController) {
    super();
    // Stopped by the caller's signal while waiting for a reader that does not come.
    controller.signal.addEventListener('abort', () => this.wanted?.reject(new AbortError()), { once: true });
  }

  override _read(): void {
    const wanted = this.wanted;
    this.wanted = undefined;
    wanted?.resolve();
  }

  /** Push a chunk; resolves when the reader may take more. */
  readonly write: StreamWrite = (chunk) => {
    if (this.destroyed) return Promise.reject(new AbortError());
    if (this.push(chunk)) return Promise.resolve();
    return new Promise((resolve, reject) => (this.wanted = { resolve, reject }));
  };

  /** Fail once the reader has every byte pushed before the failure (a checksum mismatch comes after the last). */
  failAfterDrain(err: Error): void {
    if (this.destroyed) return;
    if (this.readableLength === 0) this.destroy(err);
    else setTimeout(() => this.failAfterDrain(err), DRAIN_POLL);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.controller.abort();
    this.wanted?.reject(new AbortError());
    this.wanted = undefined;
    callback(err);
  }
}

/** An abort controller that also follows the caller's signal. */
function linkedController(signal: AbortSignal | undefined): AbortController {
  const controller = new AbortController();
  if (signal?.aborted) controller.abort();
  else signal?.addEventListener('abort', () => controller.abort(), { once: true });
  return controller;
}

/**
 * Download `url` as a Readable of its bytes in file order, over several connections. The
 * connections fetch at most `streamWindow` bytes ahead of the reader and wait while it is
 * slow; a server without ranges streams its one answer. With `checksum`, a mismatch destroys
 * the stream with a ChecksumError after its last byte: the reader has seen every byte by
 * then. Destroying the stream stops the download. Bad options throw a UsageError at once.
 *
 * @example
 * import { pipeline } from 'node:stream/promises';
 * await pipeline(downloadStream('https://example.com/big.tar', { connections: 16 }), createWriteStream('big.tar'));
 */
export function downloadStream(url: string | URL, options: StreamOptions = {}): DownloadStream {
  const controller = linkedController(options.signal);
  const out = new StreamOut(controller);
  const settings = resolveOptions(url, { ...options, signal: controller.signal });
  out.result = new Download(settings).stream(out.write).then(
    (result) => {
      out.push(null);
      return result;
    },
    (err: unknown) => {
      out.failAfterDrain(err as Error);
      throw err;
    },
  );
  // A caller reading only the stream hears of a failure there.
  out.result.catch(() => undefined);
  return out;
}

/**
 * Download `url` into `writable` in file order (as {@link downloadStream}), waiting for it
 * to drain. Resolves when the last byte is verified and the writable has taken it (its write
 * callback ran); the writable is not ended.
 * A writable that fails (a closed pipe: EPIPE) stops the download with a FileError whose
 * `cause` is the writable's error.
 */
export async function downloadTo(url: string | URL, writable: NodeJS.WritableStream, options: StreamOptions = {}): Promise<DownloadResult> {
  const controller = linkedController(options.signal);
  let failed: Error | undefined;
  const onError = (err: Error): void => {
    failed ??= err;
    controller.abort();
  };
  writable.on('error', onError);
  // The last chunk's write callback: it runs once the writable has taken every chunk before it.
  let flushed: Promise<void> = Promise.resolve();
  const write: StreamWrite = (chunk) =>
    new Promise<void>((resolve, reject) => {
      if (failed) return reject(failed);
      let ok = true;
      flushed = new Promise<void>((done) => {
        ok = writable.write(chunk, () => done());
      });
      if (ok) return resolve();
      const settle = (): void => {
        writable.off('drain', settle);
        writable.off('close', settle);
        controller.signal.removeEventListener('abort', settle);
        if (failed) reject(failed);
        else if (controller.signal.aborted) reject(new AbortError());
        else resolve();
      };
      writable.on('drain', settle);
      writable.on('close', settle);
      // An abort does not wait for a writable that no longer drains.
      controller.signal.addEventListener('abort', settle, { once: true });
    });
  try {
    const result = await new Download(resolveOptions(url, { ...options, signal: controller.signal })).stream(write);
    // A writable that takes its chunks slowly may still hold the last ones (under its
    // highWaterMark, so no drain was due): resolve once it has taken them.
    await flushed;
    if (failed) throw failed;
    return result;
  } catch (err) {
    if (failed) throw fileError(failed, 'the output stream');
    throw err;
  } finally {
    writable.off('error', onError);
  }
}
