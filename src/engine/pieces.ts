/**
 * Piece checks, the bookkeeping: which fixed-size pieces of the file (a metalink's
 * `<pieces>`) are fully written, and by which sources, so that each is verified as soon as
 * its last byte is written and a bad one is fetched again from another source. Pure.
 */
import type { PieceHashes } from '../primitives/checksum.js';
import { normalize, totalLength, type ByteRange } from '../primitives/ranges.js';

/** Bytes written before this run: no source to blame. */
export const KEPT = -1;

interface Piece {
  /** Written parts of the piece, merged. */
  written: ByteRange[];
  /** The sources that wrote them. */
  sources: Set<number>;
  /** 'open' until fully written, then 'checking', then 'good' (a bad one is open again). */
  state: 'open' | 'checking' | 'good';
  /** Times it failed its check. */
  failures: number;
}

/** The pieces of one file and what is known of each. */
export class PieceLedger {
  private readonly pieces: Piece[];

  constructor(
    private readonly size: number,
    readonly hashes: PieceHashes,
  ) {
    this.pieces = hashes.hashes.map(() => ({ written: [], sources: new Set<number>(), state: 'open', failures: 0 }));
  }

  /** Piece `index`'s bytes. */
  range(index: number): ByteRange {
    const start = index * this.hashes.length;
    return { start, end: Math.min(this.size, start + this.hashes.length) };
  }

  /**
   * `range` was written by `source` (or {@link KEPT}): the indexes of the pieces this
   * completes, now to be checked (each is returned once until it is {@link bad}).
   */
  written(range: ByteRange, source: number): number[] {
    const complete: number[] = [];
    const { length } = this.hashes;
    const first = Math.floor(range.start / length);
    const last = Math.min(this.pieces.length - 1, Math.floor((range.end - 1) / length));
    for (let i = first; i <= last && range.end > range.start; i++) {
      const piece = this.pieces[i]!;
      if (piece.state !== 'open') continue;
      const own = this.range(i);
      const part = { start: Math.max(own.start, range.start), end: Math.min(own.end, range.end) };
      piece.written = normalize([...piece.written, part], own.end);
      piece.sources.add(source);
      if (totalLength(piece.written) === own.end - own.start) {
        piece.state = 'checking';
        complete.push(i);
      }
    }
    return complete;
  }

  /** The digest piece `index` must have. */
  expected(index: number): string {
    return this.hashes.hashes[index]!;
  }

  /** Piece `index` passed its check. */
  good(index: number): void {
    this.pieces[index]!.state = 'good';
  }

  /** Times piece `index` failed its check. */
  failures(index: number): number {
    return this.pieces[index]!.failures;
  }

  /** Piece `index` failed its check: it is unwritten again; returns the sources that wrote it (not {@link KEPT}). */
  bad(index: number): number[] {
    const piece = this.pieces[index]!;
    piece.failures++;
    const sources = [...piece.sources].filter((s) => s !== KEPT);
    piece.written = [];
    piece.sources.clear();
    piece.state = 'open';
    return sources;
  }
}

/**
 * The sources a slot may not choose: the dead ones, and those that served a bad piece
 * (`demoted`) while a live source that did not is left; they are used last, not never.
 */
export function lastResort(dead: ReadonlySet<number>, demoted: ReadonlySet<number>, sources: number): ReadonlySet<number> {
  if (demoted.size === 0) return dead;
  const avoid = new Set([...dead, ...demoted]);
  return avoid.size < sources ? avoid : dead;
}
