/**
 * Validation of user input before any request is sent. Every function throws a
 * {@link UsageError} whose one-line message names the flag and says what is accepted, so the
 * CLI can print it as is and exit with the usage code.
 */

import { DIGEST_HEX_LENGTH, type Checksum, type ChecksumAlgorithm, type PieceHashes } from './primitives/checksum.js';
import { UsageError } from './primitives/errors.js';

/**
 * Quote a user value for an error message: single-quoted, control and bidi characters
 * escaped so the message stays on one line and displays as typed, long values shortened.
 */
function show(value: string): string {
  const short = value.length > 80 ? `${Array.from(value).slice(0, 77).join('')}...` : value;
  const escaped = short.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return `'${escaped}'`;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Parse a size in bytes: `'2M'`, `'500K'`, `'1.5G'`, `'1024'`, `'10MiB'`, `'4mb'`. K/M/G/T
 * are powers of 1024, as curl and aria2c read them; a trailing `B` or `iB` is optional;
 * case-insensitive. 0 is accepted (the caller decides what it means, e.g. "no limit").
 * Fractions are rounded to whole bytes.
 *
 * @throws UsageError for negatives, empty input, junk, or more than Number.MAX_SAFE_INTEGER.
 */
export function parseSize(value: string, flag: string): number {
  const v = value.trim();
  const m = /^(\d+(?:\.\d+)?|\.\d+) ?(?:([kmgt])(i?b)?|(b))?$/i.exec(v);
  if (!m) {
    if (/^-\s*(\d|\.\d)/.test(v)) throw new UsageError(`${flag}: ${show(value)} must not be negative`);
    throw new UsageError(`${flag}: ${show(value)} is not a size (examples: 500K, 2M, 1G)`);
  }
  const bytes = Math.round(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) {
    throw new UsageError(`${flag}: ${show(value)} is too large (at most ${Number.MAX_SAFE_INTEGER} bytes)`);
  }
  return bytes;
}

/**
 * Parse an integer within [min, max] (inclusive), e.g. `-c 8`.
 *
 * @throws UsageError otherwise, e.g. "-c: '0' must be an integer from 1 to 64".
 */
export function parseIntInRange(value: string, flag: string, min: number, max: number): number {
  const v = value.trim();
  // A regex first: Number() would take '', '0x10', '1e3' and '1.0' as integers.
  const n = /^[+-]?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag}: ${show(value)} must be an integer from ${min} to ${max}`);
  }
  return n;
}

const DURATION_UNITS: Record<string, number> = { '': 1000, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const ONE_DAY_MS = 86_400_000;

/**
 * Parse a duration and return milliseconds: a bare number is seconds (`'30'`, `'1.5'`),
 * or a number with `ms`, `s`, `m` or `h` (`'500ms'`, `'2s'`, `'1m'`). Must be more than 0
 * and at most one day. Sub-millisecond values round up to 1 ms, so a positive input never
 * turns into 0 (which timers read as "no timeout").
 *
 * @throws UsageError otherwise.
 */
export function parseDuration(value: string, flag: string): number {
  const v = value.trim();
  const m = /^(\d+(?:\.\d+)?|\.\d+) ?(ms|s|m|h)?$/i.exec(v);
  if (!m) {
    throw new UsageError(`${flag}: ${show(value)} is not a duration (seconds, or a number with ms, s, m or h: 30, 1.5, 500ms, 2m)`);
  }
  const ms = Number(m[1]) * DURATION_UNITS[(m[2] ?? '').toLowerCase()]!;
  if (!(ms > 0) || ms > ONE_DAY_MS) {
    throw new UsageError(`${flag}: ${show(value)} must be more than 0 and at most 1 day (24h)`);
  }
  return Math.max(1, Math.round(ms));
}

const ALGORITHM_LIST = 'sha256, sha512, sha1, md5';

/** The algorithm whose digests have `length` hex digits (every accepted length names one). */
function algorithmOfLength(length: number): ChecksumAlgorithm | undefined {
  return (Object.keys(DIGEST_HEX_LENGTH) as ChecksumAlgorithm[]).find((a) => DIGEST_HEX_LENGTH[a] === length);
}

/**
 * Parse `--checksum`: `'sha256=HEX'`; `'sha-256=HEX'` (aria2's spelling) and `':'` as the
 * separator are accepted too, and so is a bare digest as `sha256sum` prints it, the
 * algorithm told by its length (32 md5, 40 sha1, 64 sha256, 128 sha512). The hex must have
 * exactly the digest length of the algorithm; it is returned lowercased.
 *
 * @throws UsageError for an unknown algorithm, a missing separator or a bad digest.
 */
export function parseChecksum(value: string): Checksum {
  const v = value.trim();
  const bare = /^[0-9a-f]+$/i.test(v) ? algorithmOfLength(v.length) : undefined;
  if (bare) return { algorithm: bare, hex: v.toLowerCase() };
  const sep = v.search(/[=:]/);
  if (sep <= 0) {
    throw new UsageError(
      `--checksum: ${show(value)} must look like sha256=HEX, or be a bare digest of 32, 40, 64 or 128 hex digits (algorithms: ${ALGORITHM_LIST})`,
    );
  }
  const name = v.slice(0, sep).trim().toLowerCase().replace(/-/g, '');
  if (!Object.hasOwn(DIGEST_HEX_LENGTH, name)) {
    throw new UsageError(`--checksum: unknown algorithm ${show(v.slice(0, sep))} (accepted: ${ALGORITHM_LIST})`);
  }
  const algorithm = name as ChecksumAlgorithm;
  const hex = v.slice(sep + 1).trim();
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (!/^[0-9a-f]*$/i.test(hex) || hex.length !== length) {
    const got = /^[0-9a-f]*$/i.test(hex) ? `${hex.length} digits` : 'characters that are not hex digits';
    throw new UsageError(`--checksum: a ${algorithm} digest is ${length} hex digits; got ${got}`);
  }
  return { algorithm, hex: hex.toLowerCase() };
}

// RFC 9110 section 5.6.2 tchar.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const MANAGED_HEADERS = new Map<string, string>([
  ['host', 'Host'],
  ['range', 'Range'],
  ['if-range', 'If-Range'],
  ['content-length', 'Content-Length'],
  ['transfer-encoding', 'Transfer-Encoding'],
  ['connection', 'Connection'],
]);
// undici refuses these on every request; refusing them here gives a clear message up front.
const UNSENDABLE_HEADERS = new Map<string, string>([
  ['keep-alive', 'Keep-Alive'],
  ['upgrade', 'Upgrade'],
  ['expect', 'Expect'],
]);

/**
 * Parse `--header 'Name: value'` into `[name, value]` (value trimmed). The name must be an
 * RFC 9110 token; the value must not contain CR, LF or NUL (header injection) nor other
 * control characters or characters above U+00FF (an HTTP header is bytes).
 *
 * @throws UsageError for a malformed header, and for Host, Range, If-Range, Content-Length,
 * Transfer-Encoding and Connection, which rangeget sets itself (and Keep-Alive, Upgrade and
 * Expect, which the HTTP client cannot send). The value is never echoed: it may be a secret.
 */
export function parseHeader(value: string): [string, string] {
  const colon = value.indexOf(':');
  if (colon === -1) throw new UsageError(`--header: ${show(value)} must look like 'Name: value'`);
  const name = value.slice(0, colon);
  if (!TOKEN.test(name)) {
    throw new UsageError(`--header: ${show(name)} is not a valid header name (letters, digits and !#$%&'*+-.^_\`|~, no spaces)`);
  }
  const lower = name.toLowerCase();
  const managed = MANAGED_HEADERS.get(lower);
  if (managed !== undefined) {
    throw new UsageError(`--header: rangeget sets the ${managed} header itself; remove --header '${name}: ...'`);
  }
  const unsendable = UNSENDABLE_HEADERS.get(lower);
  if (unsendable !== undefined) {
    throw new UsageError(`--header: the ${unsendable} header cannot be sent (the HTTP client manages connections itself)`);
  }
  const headerValue = value.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  if (/[\r\n\0]/.test(headerValue)) {
    throw new UsageError(`--header: the value of ${name} must not contain CR, LF or NUL`);
  }
  if (/[\u0001-\u0008\u000b-\u001f\u007f]/.test(headerValue)) {
    throw new UsageError(`--header: the value of ${name} must not contain control characters`);
  }
  if (/[^\u0000-\u00ff]/.test(headerValue)) {
    throw new UsageError(`--header: the value of ${name} has characters that cannot be sent in an HTTP header; percent-encode them`);
  }
  return [name, headerValue];
}

/** A URL for messages, with any password replaced so it does not land in a terminal or log. */
function showUrl(value: string): string {
  return show(value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#@]*@/i, '$1:***@'));
}

/**
 * Parse a download URL: it must parse, use `http:` or `https:`, and have a host.
 *
 * @throws UsageError otherwise, e.g. "ftp: is not supported; rangeget downloads http and https URLs".
 */
export function parseUrl(value: string): URL {
  const v = value.trim();
  let url: URL | undefined;
  try {
    url = new URL(v);
  } catch {
    url = undefined;
  }
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(v);
  if (url?.protocol === 'http:' || url?.protocol === 'https:') {
    if (url.hostname === '') throw new UsageError(`URL ${showUrl(value)} has no host`);
    return url;
  }
  // 'example.com/file' and 'localhost:8080/x' have no scheme (the second even parses, as
  // scheme 'localhost:'); point at the fix instead of calling them unsupported.
  if (!hasScheme && /^[^\s/:@]+(?::\d*)?(?:[/?#]|$)/.test(v) && v !== '') {
    throw new UsageError(`URL ${showUrl(value)} has no scheme; did you mean https://${v}?`);
  }
  if (url !== undefined) {
    throw new UsageError(`${url.protocol} is not supported; rangeget downloads http and https URLs (got ${showUrl(value)})`);
  }
  throw new UsageError(`URL ${showUrl(value)} is not a valid URL (expected http://... or https://...)`);
}

/**
 * Parse `--user`: `'user:pass'`, or `'user'` alone (password ''). The first `:` separates,
 * so the password may contain colons (RFC 7617 forbids them in the user name).
 *
 * @throws UsageError for an empty user name or control characters. The value is never echoed.
 */
export function parseUserPass(value: string): { user: string; password: string } {
  const colon = value.indexOf(':');
  const user = colon === -1 ? value : value.slice(0, colon);
  const password = colon === -1 ? '' : value.slice(colon + 1);
  if (user === '') throw new UsageError("--user: the user name must not be empty (expected 'user:password' or 'user')");
  // RFC 7617: neither part may contain control characters.
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new UsageError('--user: the user name and password must not contain control characters');
  }
  return { user, password };
}

/** Piece hashes, checked: a positive length, and digests of their algorithm's length. */
export function checkPieces(pieces: PieceHashes): PieceHashes {
  const digits = DIGEST_HEX_LENGTH[pieces.algorithm];
  if (digits === undefined) throw new UsageError(`pieces: unknown algorithm ${String(pieces.algorithm)} (accepted: ${Object.keys(DIGEST_HEX_LENGTH).join(', ')})`);
  if (!Number.isSafeInteger(pieces.length) || pieces.length < 1) throw new UsageError(`pieces: length ${pieces.length} must be a positive integer`);
  const hashes = pieces.hashes.map((h) => h.toLowerCase());
  const bad = hashes.findIndex((h) => h.length !== digits || !/^[0-9a-f]+$/.test(h));
  if (bad >= 0) throw new UsageError(`pieces: hash ${bad} is not ${digits} hex digits (${pieces.algorithm})`);
  return { length: pieces.length, algorithm: pieces.algorithm, hashes };
}
