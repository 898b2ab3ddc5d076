/**
 * The probe's answer kept as the download: a server without ranges answers the probe's
 * `GET bytes=0-0` with a `200` and the whole file (mini-httpd, busybox httpd). Reading that
 * body saves fetching every byte a second time. A batch's probe asks for a small file's every
 * byte, and a `206` holding them all is kept the same way.
 */
import type { FileHandle } from 'node:fs/promises';
import type { ResponseBody } from '../http/client.js';
import { AbortError, fileError, RangegetError, RemoteChangedError } from '../primitives/errors.js';

/** The body to write, where, and who hears of it. */
export interface FirstBody {
  body: ResponseBody;
  file: FileHandle;
  partPath: string;
  /** The file's size: the body's Content-Length. */
  size: number;
  /**
   * A 206 holding the whole file (a batch's probe): its Content-Range ends at `size`, and bytes
   * after it (a framing that runs on) are not the file's: never written, as a range's are not.
   */
  clip?: boolean;
  signal?: AbortSignal;
  /** Bytes written so far, after each write. */
  onWritten: (bytes: number) => void;
  warn: (message: string) => void;
}

/**
 * Write the body, the whole file, into the `.part` file from its first byte. Resolves true
 * when every byte is written, false (after a warning) when the answer broke off or ended
 * short: the caller fetches the file again. Rejects on an abort, a file error, or a body
 * longer than `size` (another file).
 */
export async function writeFirstBody(first: FirstBody): Promise<boolean> {
  const { body, file, partPath, size } = first;
  let position = 0;
  try {
    for await (const whole of body as AsyncIterable<Buffer>) {
      // Cut only the read that runs past the range's end: the others are written as they are.
      const chunk = first.clip && position + whole.length > size ? whole.subarray(0, size - position) : whole;
      if (position + chunk.length > size) throw new RemoteChangedError(`the server sends more than the ${size} bytes it announced`);
      await file.write(chunk, 0, chunk.length, position).catch((err: unknown) => {
        throw fileError(err, partPath);
      });
      position += chunk.length;
      first.onWritten(position);
      if (position === size && chunk.length < whole.length) break; // the rest is dropped, its connection closed
    }
  } catch (err) {
    if (first.signal?.aborted) throw new AbortError();
    if (err instanceof RangegetError) throw err;
    first.warn(`the answer broke off after ${position} of ${size} bytes (${(err as Error).message}); fetching the file again`);
    return false;
  }
  if (position === size) return true;
  first.warn(`the answer ended after ${position} of ${size} bytes; fetching the file again`);
  return false;
}
