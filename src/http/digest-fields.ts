/**
 * Digests a server publishes for the whole file: `Repr-Digest` (RFC 9530, a structured-field
 * dictionary of byte sequences) and the older `Digest` (RFC 3230, `SHA-256=<base64>`). Pure.
 *
 * Which answers count: a digest is only used when it is about the whole representation.
 * - `Content-Digest` never: it is the digest of one message's content (one 206 body).
 * - `Repr-Digest` from a HEAD, a 200, and also a 206: RFC 9530 section 3 defines it over the
 *   selected representation, "not the content" of the message, so a 206 carries the digest
 *   of the whole file (its appendix B.3 shows exactly that).
 * - `Digest` from a HEAD or a 200 only: RFC 3230's "instance" was read both ways for partial
 *   answers (RFC 9530 section 1.3 obsoletes it for that reason), so from a 206 it may be the
 *   digest of the part and is not trusted.
 */
import { DIGEST_HEX_LENGTH, type Checksum, type ChecksumAlgorithm } from '../primitives/checksum.js';
import type { ResponseHeaders } from './headers.js';

/** Sent on the probe: sha-256 wanted most, sha-512 accepted (RFC 9530 section 4). */
export const WANT_REPR_DIGEST = 'sha-256=10, sha-512=3';

/** Which header a server digest came from. */
export type DigestField = 'Repr-Digest' | 'Digest';

/** A digest of the whole file that a server published. */
export interface ServerDigest extends Checksum {
  field: DigestField;
}

/** Algorithm names of both fields, lower-cased, and the strength order (best first). */
const ALGORITHMS: Record<string, ChecksumAlgorithm> = { 'sha-512': 'sha512', 'sha-256': 'sha256', sha: 'sha1', md5: 'md5' };
const PREFERENCE: readonly ChecksumAlgorithm[] = ['sha256', 'sha512', 'sha1', 'md5'];

function all(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Base64 → lowercase hex, when it decodes to a digest of `algorithm`'s length. */
function hexOf(base64: string, algorithm: ChecksumAlgorithm): string | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) return undefined;
  const hex = Buffer.from(base64, 'base64').toString('hex');
  return hex.length === DIGEST_HEX_LENGTH[algorithm] ? hex : undefined;
}

/** The members of a comma-separated list, each as a lower-cased name and its raw value. */
function members(value: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const member of value.split(',')) {
    const eq = member.indexOf('=');
    if (eq <= 0) continue;
    out.push([member.slice(0, eq).trim().toLowerCase(), member.slice(eq + 1).trim()]);
  }
  return out;
}

function best(found: Map<ChecksumAlgorithm, string>, field: DigestField): ServerDigest | undefined {
  const algorithm = PREFERENCE.find((a) => found.has(a));
  return algorithm ? { algorithm, hex: found.get(algorithm)!, field } : undefined;
}

/** `Repr-Digest: sha-256=:BASE64:, sha-512=:BASE64:` (parameters after `;` ignored). */
export function parseReprDigest(value: string): ServerDigest | undefined {
  const found = new Map<ChecksumAlgorithm, string>();
  for (const [name, raw] of members(value)) {
    const algorithm = ALGORITHMS[name];
    const bytes = /^:([^:]*):(?:;.*)?$/.exec(raw);
    const hex = algorithm && bytes ? hexOf(bytes[1]!, algorithm) : undefined;
    if (algorithm && hex) found.set(algorithm, hex);
  }
  return best(found, 'Repr-Digest');
}

/** `Digest: SHA-256=BASE64, MD5=BASE64` (RFC 3230; names in any case). */
export function parseLegacyDigest(value: string): ServerDigest | undefined {
  const found = new Map<ChecksumAlgorithm, string>();
  for (const [name, raw] of members(value)) {
    const algorithm = ALGORITHMS[name];
    const hex = algorithm ? hexOf(raw.replace(/^"|"$/g, ''), algorithm) : undefined;
    if (algorithm && hex) found.set(algorithm, hex);
  }
  return best(found, 'Digest');
}

/**
 * The whole-file digest in an answer to the probe (`status` 200, 206 or a HEAD's 2xx, as
 * `head`), Repr-Digest before Digest; undefined when there is none that counts (see the
 * module's header).
 */
export function serverDigest(headers: ResponseHeaders, status: number, head: boolean): ServerDigest | undefined {
  const repr = all(headers, 'repr-digest');
  const fromRepr = repr === undefined ? undefined : parseReprDigest(repr);
  if (fromRepr) return fromRepr;
  const legacy = all(headers, 'digest');
  if (legacy === undefined || (!head && status !== 200)) return undefined;
  return parseLegacyDigest(legacy);
}
