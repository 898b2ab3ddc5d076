/**
 * Piece checks, the I/O: each piece is read back and hashed as soon as its last byte is
 * written (one at a time, in the main thread); a bad one is reported with the sources that
 * wrote it, and they are demoted: used only when no other source is alive.
 */
import type { FileHandle } from 'node:fs/promises';
import type { PieceHashes } from '../primitives/checksum.js';
import { ChecksumError, ServerError } from '../primitives/errors.js';
import type { ByteRange } from '../primitives/ranges.js';
import { KEPT, PieceLedger } from './pieces.js';
import type { Source } from './protocol.js';
// node:crypto loads with the first piece checked: a download without piece hashes never needs it.
import { createHash } from '../storage/hasher.js';

/** What a {@link PieceChecker} checks, and whom it tells. */
export interface PieceCheckInput {
  file: FileHandle;
  size: number;
  hashes: PieceHashes;
  /** The sources, by the index the pool reports. */
  sources: readonly Source[];
  kept: readonly ByteRange[];
  /** A piece failed: its bytes are to be fetched again; `message` says which and from where. */
  onBad: (range: ByteRange, message: string) => void;
}

/** Reads and hashes the pieces of one file as they complete. */
export class PieceChecker {
  private readonly ledger: PieceLedger;
  private busy: Promise<void> = Promise.resolve();
  /** Sources that served a bad piece (the pool's `demoted`). */
  readonly demoted = new Set<number>();
  /** Set when a piece failed as often as it may: the download fails with it. */
  private error: ChecksumError | undefined;

  private readonly file: FileHandle;
  private readonly sources: readonly Source[];
  private readonly onBad: PieceCheckInput['onBad'];

  /** The `kept` ranges (an earlier run's) are checked from the start. */
  constructor(input: PieceCheckInput) {
    ({ file: this.file, sources: this.sources, onBad: this.onBad } = input);
    const { size, hashes } = input;
    if (Math.ceil(size / hashes.length) !== hashes.hashes.length) {
      throw new ServerError(`the server's file has ${size} bytes, which is not the ${hashes.hashes.length} pieces of ${hashes.length} bytes the piece hashes describe: it is another file`);
    }
    this.ledger = new PieceLedger(input.size, input.hashes);
    for (const range of input.kept) this.written(range, KEPT);
  }

  /** `range` was written by `source` (`KEPT`: an earlier run): check the pieces it completes. */
  written(range: ByteRange, source: number): void {
    for (const index of this.ledger.written(range, source)) {
      this.busy = this.busy.then(() => this.check(index)).catch(() => undefined);
    }
  }

  /** Resolves when every check asked for so far is done; rejects when a piece failed for good. */
  drain(): Promise<void> {
    return this.busy.then(() => {
      if (this.error) throw this.error;
    });
  }

  private async check(index: number): Promise<void> {
    const range = this.ledger.range(index);
    const buffer = Buffer.allocUnsafe(range.end - range.start);
    const { bytesRead } = await this.file.read(buffer, 0, buffer.length, range.start);
    const { algorithm } = this.ledger.hashes;
    const digest = createHash(algorithm).update(buffer.subarray(0, bytesRead)).digest('hex');
    if (digest === this.ledger.expected(index)) {
      this.ledger.good(index);
      return;
    }
    // As many tries as there are sources, and two from one source (a corruption on the way may pass).
    if (this.ledger.failures(index) + 1 >= Math.max(2, this.sources.length)) {
      this.error ??= new ChecksumError(`piece ${index} (bytes ${range.start}-${range.end - 1}) ${algorithm}`, this.ledger.expected(index), digest);
      return;
    }
    const blamed = this.ledger.bad(index);
    for (const s of blamed) this.demoted.add(s);
    const urls = blamed.map((s) => this.sources[s]?.url ?? `source ${s}`);
    const from = urls.length > 0 ? ` from ${urls.join(' and ')}` : ' kept from an earlier run';
    const demoted = urls.length > 0 ? `; ${urls.length > 1 ? 'those sources are' : 'that source is'} used last from now on` : '';
    this.onBad(range, `piece ${index} (bytes ${range.start}-${range.end - 1})${from} failed its ${algorithm} check; fetching it again${demoted}`);
  }
}
