/**
 * The digest of the `.part` file, computed while it is still being written.
 */
import type { Hash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { FileHandle } from 'node:fs/promises';
import type { ChecksumAlgorithm } from '../primitives/checksum.js';
import type { ByteRange } from '../primitives/ranges.js';

const READ_SIZE = 4 * 1024 * 1024;

// node:crypto is loaded by the first hasher (--checksum): a download without one need not load it.
const require = createRequire(import.meta.url);
/** node:crypto's `createHash`, loaded on first use. */
export const createHash = (algorithm: ChecksumAlgorithm): Hash => (require('node:crypto') as typeof import('node:crypto')).createHash(algorithm);

/**
 * Hashes a file front to back while it is still being written: whenever the written
 * prefix grows, the new bytes are read (from the page cache) and hashed, so the digest is
 * ready moments after the last byte instead of one whole pass later.
 */
export class FileHasher {
  private hash: Hash;
  private hashed = 0;
  private buffer = Buffer.allocUnsafe(READ_SIZE);
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: FileHandle,
    readonly algorithm: ChecksumAlgorithm,
  ) {
    this.hash = createHash(algorithm);
  }

  /** Bytes hashed so far. */
  get position(): number {
    return this.hashed;
  }

  /** Hash up to `end`, the end of the contiguous written prefix. Calls are serialized. */
  advance(end: number): Promise<void> {
    this.busy = this.busy.then(() => this.read(end));
    return this.busy;
  }

  /** Forget everything hashed (the prefix was rewritten, e.g. a plain stream restarted). */
  reset(): void {
    this.busy = this.busy.then(() => {
      this.hash = createHash(this.algorithm);
      this.hashed = 0;
    });
  }

  /**
   * Hash the written prefix of `written` (merged ranges) in the background; start over when the
   * prefix shrank (bytes were found bad, or a plain stream restarted). Errors are left to `digest`.
   */
  follow(written: readonly ByteRange[]): void {
    const prefix = written[0]?.start === 0 ? written[0].end : 0;
    if (prefix < this.hashed) this.reset();
    void this.advance(prefix).catch(() => undefined);
  }

  /** The digest of the first `size` bytes, hashing on afterwards as before. */
  async peek(size: number): Promise<string> {
    await this.advance(size);
    return this.hash.copy().digest('hex');
  }

  /** Hash the rest up to `size` and return the hex digest. */
  async digest(size: number): Promise<string> {
    await this.advance(size);
    return this.hash.digest('hex');
  }

  private async read(end: number): Promise<void> {
    while (this.hashed < end) {
      const length = Math.min(READ_SIZE, end - this.hashed);
      const { bytesRead } = await this.file.read(this.buffer, 0, length, this.hashed);
      if (bytesRead === 0) break;
      this.hash.update(this.buffer.subarray(0, bytesRead));
      this.hashed += bytesRead;
    }
  }
}

