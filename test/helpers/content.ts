/**
 * Deterministic generated test content.
 *
 * The byte at absolute offset `o` of file `seed` is a pure function of `(seed, o)`: every
 * aligned 4-byte word `w = floor(o / 4)` holds a 32-bit value from two rounds of an integer
 * mixer (a bijection on 32 bits keyed by the seed and the high bits of `w`), stored
 * little-endian. So any range can be produced without the rest of the file, the stream
 * never repeats within 16 GiB, and a range shifted by any number of bytes (or taken from
 * another seed) does not match.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

const SCRATCH_WORDS = 16 * 1024; // 64 KiB
const scratch = new Uint32Array(SCRATCH_WORDS);
const scratchBytes = new Uint8Array(scratch.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const TWO32 = 0x1_0000_0000;

/** lowbias32 (Chris Wellons): a cheap, well-distributed bijection on 32-bit integers. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
}

/** Fill `scratch[0..n)` with the words `hi * 2^32 + lo + i` of file `seed` (no 2^32 wrap inside). */
function generate(seed: number, hi: number, lo: number, n: number): void {
  const seedLo = seed >>> 0;
  const seedHi = Math.floor(seed / TWO32) >>> 0;
  const k1 = mix32(seedLo ^ mix32((seedHi + 0x632be5ab) >>> 0) ^ mix32((hi ^ 0x9e3779b9) >>> 0));
  const k2 = mix32((k1 + 0x85ebca6b) >>> 0);
  if (LITTLE_ENDIAN) {
    for (let i = 0; i < n; i++) {
      let x = (lo + i) ^ k1;
      x ^= x >>> 16;
      x = Math.imul(x, 0x7feb352d);
      x ^= x >>> 15;
      x = Math.imul(x, 0x846ca68b);
      x ^= x >>> 16;
      x ^= k2;
      x ^= x >>> 16;
      x = Math.imul(x, 0x7feb352d);
      x ^= x >>> 15;
      x = Math.imul(x, 0x846ca68b);
      x ^= x >>> 16;
      scratch[i] = x;
    }
  } else {
    const view = new DataView(scratch.buffer);
    for (let i = 0; i < n; i++) view.setUint32(i * 4, mix32(mix32(((lo + i) ^ k1) >>> 0) ^ k2), true);
  }
}

/** Write the bytes of file `seed` at `[offset, offset + buf.length)` into `buf`. */
export function fill(seed: number, offset: number, buf: Uint8Array): void {
  checkSeed(seed);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad offset ${offset}`);
  const len = buf.length;
  let pos = 0;
  while (pos < len) {
    const abs = offset + pos;
    const word = Math.floor(abs / 4);
    const skip = abs - word * 4;
    const hi = Math.floor(word / TWO32);
    const lo = word - hi * TWO32;
    const n = Math.min(SCRATCH_WORDS, Math.ceil((skip + len - pos) / 4), TWO32 - lo);
    generate(seed, hi, lo, n);
    const take = Math.min(n * 4 - skip, len - pos);
    buf.set(scratchBytes.subarray(skip, skip + take), pos);
    pos += take;
  }
}

/** The whole content of file `seed` of `size` bytes (for small files only). */
export function contentOf(seed: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  fill(seed, 0, buf);
  return buf;
}

const digestCache = new Map<string, string>();

/** Hex SHA-256 of file `seed` of `size` bytes, computed streaming in 1 MiB blocks (memoised). */
export function sha256Of(seed: number, size: number): string {
  const key = `${seed}:${size}`;
  const cached = digestCache.get(key);
  if (cached !== undefined) return cached;
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(Math.min(size, 1 << 20));
  for (let off = 0; off < size; off += block.length) {
    const part = size - off >= block.length ? block : block.subarray(0, size - off);
    fill(seed, off, part);
    hash.update(part);
  }
  const digest = hash.digest('hex');
  if (digestCache.size >= 1024) digestCache.clear();
  digestCache.set(key, digest);
  return digest;
}

/** Hex SHA-256 of a file on disk. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
