/**
 * Digests: the algorithms rangeget verifies with, and an expected digest.
 */

/** Digest algorithms accepted by `--checksum`. */
export type ChecksumAlgorithm = 'sha256' | 'sha1' | 'md5' | 'sha512';

/** An expected digest. */
export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** Lowercase hex. */
  hex: string;
}

/** Hex digits per digest. The names are also node:crypto's hash names. */
export const DIGEST_HEX_LENGTH: Record<ChecksumAlgorithm, number> = { sha256: 64, sha512: 128, sha1: 40, md5: 32 };

/** Digests of the consecutive pieces of a file (a metalink's `<pieces>`): piece i is `[i * length, (i + 1) * length)`, the last one shorter. */
export interface PieceHashes {
  /** Bytes per piece. */
  length: number;
  algorithm: ChecksumAlgorithm;
  /** Lowercase hex, one per piece, in file order. */
  hashes: readonly string[];
}
