/**
 * The chunked transfer coding (RFC 9112 §7.1) decoded as bytes arrive: for the main thread's
 * lean requests (lean-answer.ts), where a whole-file answer or a document may come chunked.
 * Strict: a malformed size line or a missing CRLF after a chunk is an error, never guessed at.
 */

/** The chunked framing is broken: the connection's bytes cannot be trusted any further. */
export class ChunkedError extends Error {}

/** Longest size or trailer line accepted (extensions included). */
const MAX_LINE = 4096;
const HEX = /^[0-9A-Fa-f]{1,13}$/;

type State = 'size' | 'data' | 'data-end' | 'trailer' | 'done';

export class ChunkedDecoder {
  private state: State = 'size';
  /** A line not yet ended by LF (size, chunk end or trailer). */
  private line = '';
  /** Bytes of the current chunk still to come. */
  private left = 0;

  /** True once the last chunk and the trailer section are read. */
  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * Decode `bytes`, handing each piece of body to `out` (views into `bytes`). Returns how many
   * bytes were taken: fewer than given only once {@link done} (the rest is not this body's).
   */
  feed(bytes: Buffer, out: (data: Buffer) => void): number {
    let at = 0;
    while (at < bytes.length && this.state !== 'done') {
      if (this.state === 'data') {
        const take = Math.min(this.left, bytes.length - at);
        out(bytes.subarray(at, at + take));
        at += take;
        this.left -= take;
        if (this.left === 0) this.state = 'data-end';
        continue;
      }
      const lf = bytes.indexOf(10, at);
      const stop = lf < 0 ? bytes.length : lf;
      this.line += bytes.toString('latin1', at, stop);
      if (this.line.length > MAX_LINE) throw new ChunkedError(`a chunked line longer than ${MAX_LINE} bytes`);
      at = stop;
      if (lf < 0) break;
      at++;
      this.endLine(this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line);
      this.line = '';
    }
    return at;
  }

  private endLine(line: string): void {
    switch (this.state) {
      case 'size': {
        const size = line.split(';', 1)[0]!.trim();
        if (!HEX.test(size)) throw new ChunkedError(`not a chunk size: ${JSON.stringify(line.slice(0, 40))}`);
        this.left = parseInt(size, 16);
        this.state = this.left === 0 ? 'trailer' : 'data';
        return;
      }
      case 'data-end':
        if (line !== '') throw new ChunkedError('a chunk longer than its size');
        this.state = 'size';
        return;
      case 'trailer':
        if (line === '') this.state = 'done';
        return;
      default:
        return;
    }
  }
}
