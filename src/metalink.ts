/**
 * Metalink 4 (RFC 5854, `.meta4`): the files of a document, each with its name, size, URLs
 * (by priority), whole-file hash and piece hashes. Parsed with saxes (see ARCHITECTURE.md for
 * why): no DTD, no entities beyond XML's five, nothing fetched. Pure: text in, files out; a
 * document rangeget cannot use is a {@link UsageError} naming `file:line`.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { DIGEST_HEX_LENGTH, type Checksum, type ChecksumAlgorithm, type PieceHashes } from './primitives/checksum.js';
import { UsageError } from './primitives/errors.js';

const NS = 'urn:ietf:params:xml:ns:metalink';
/** RFC 5854's hash names (IANA "Hash Function Textual Names") that rangeget can check, best first. */
const HASHES: ReadonlyArray<readonly [string, ChecksumAlgorithm]> = [
  ['sha-256', 'sha256'],
  ['sha-512', 'sha512'],
  ['sha-1', 'sha1'],
  ['md5', 'md5'],
];
/** A `<url>` without `priority` comes after every one with it (RFC 5854 4.2.16: 1 is first, 999999 last). */
const NO_PRIORITY = 1_000_000;

/** One URL of a metalink file. */
export interface MetalinkUrl {
  url: string;
  /** 1 first; URLs without one come last. */
  priority: number;
  /** ISO 3166-1 country code, when given. */
  location?: string;
}

/** One `<file>` of a metalink. */
export interface MetalinkFile {
  /** The `name` attribute: a relative path, never absolute and without `..`. */
  name: string;
  /** The line of its `<file>` element. */
  line: number;
  size?: number;
  /** The http and https URLs, by priority (document order among equals); others are left out. */
  urls: MetalinkUrl[];
  /** The best whole-file hash rangeget can check (sha-256 first). */
  hash?: Checksum;
  /** The piece hashes, when given in an algorithm rangeget can check (sha-256 first). */
  pieces?: PieceHashes;
}

interface Building {
  name: string;
  line: number;
  size?: number;
  urls: Array<MetalinkUrl & { order: number }>;
  hashes: Map<string, string>;
  pieces: Map<string, { length: number; hashes: string[]; line: number }>;
  skipped: number;
}

function algorithmOf(type: string | undefined): ChecksumAlgorithm | undefined {
  return HASHES.find(([name]) => name === type?.toLowerCase())?.[1];
}

/** The best of several `type → value` entries, in HASHES order. */
function best<T>(found: ReadonlyMap<string, T>): [ChecksumAlgorithm, T] | undefined {
  for (const [name, algorithm] of HASHES) {
    const value = found.get(name);
    if (value !== undefined) return [algorithm, value];
  }
  return undefined;
}

/** A `name` that stays inside the download directory (RFC 5854 4.1.2.1). */
function safeName(name: string): boolean {
  return name !== '' && !name.startsWith('/') && !/^[a-z]:/i.test(name) && !name.split(/[\\/]/).some((part) => part === '..' || part === '') && !/[\u0000-\u001f]/.test(name);
}

/**
 * The files of a Metalink 4 document. `source` names it in messages (`file.meta4:12: ...`).
 *
 * @throws UsageError for XML that is not well-formed, a document that is not Metalink 4, and a
 * file without a safe name, an http(s) URL, or with a size, hash or piece list that is wrong.
 */
export function parseMetalink(text: string, source: string): MetalinkFile[] {
  const parser = new SaxesParser({ xmlns: true, position: true, fileName: source });
  const files: MetalinkFile[] = [];
  const stack: string[] = [];
  let file: Building | undefined;
  let pieces: { type: string; length: number; hashes: string[]; line: number } | undefined;
  let attrs: Record<string, string> = {};
  let textValue = '';
  let root = false;
  const fail = (reason: string, line = parser.line): never => {
    throw new UsageError(`${source}:${line}: ${reason}`);
  };
  // The first problem of use is kept while parsing goes on: XML that is not well-formed
  // (saxes closes an element before it reports a wrong end tag) is the one to report.
  let problem: UsageError | undefined;
  const guard =
    <A extends unknown[]>(handle: (...args: A) => void) =>
    (...args: A): void => {
      if (problem) return;
      try {
        handle(...args);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        problem = err;
      }
    };
  // saxes says `source:line:column: what`.
  parser.on('error', (err) => {
    throw new UsageError(`${err.message} (not well-formed XML)`);
  });

  parser.on('doctype', guard(() => fail('a DOCTYPE is not allowed in a metalink')));
  parser.on('opentag', guard((tag: SaxesTagNS) => {
    const local = tag.local;
    if (stack.length === 0) {
      if (tag.uri === 'http://www.metalinker.org/') fail('this is a Metalink 3 document; only Metalink 4 (RFC 5854, .meta4) is supported');
      if (local !== 'metalink' || tag.uri !== NS) fail(`the root element must be <metalink xmlns="${NS}">, not <${tag.name}>`);
      root = true;
    }
    stack.push(tag.uri === NS ? local : `{${tag.uri}}${local}`);
    attrs = Object.fromEntries(Object.values(tag.attributes).filter((a) => a.uri === '').map((a) => [a.local, a.value]));
    textValue = '';
    const path = stack.join('/');
    if (path === 'metalink/file') {
      const name = attrs.name ?? fail('<file> has no name attribute');
      if (!safeName(name)) fail(`<file name="${name}">: the name must be a relative path without '..'`);
      file = { name, line: parser.line, urls: [], hashes: new Map(), pieces: new Map(), skipped: 0 };
    } else if (path === 'metalink/file/pieces') {
      const length = Number(attrs.length);
      if (!Number.isSafeInteger(length) || length < 1) fail(`<pieces length="${attrs.length ?? ''}">: the length must be a positive integer`);
      pieces = { type: (attrs.type ?? '').toLowerCase(), length, hashes: [], line: parser.line };
    }
  }));
  parser.on('text', (t) => (textValue += t));
  parser.on('closetag', guard(() => {
    const path = stack.join('/');
    const value = textValue.trim();
    stack.pop();
    if (!file) return;
    if (path === 'metalink/file/size') {
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) fail(`<size>${value}</size> is not a number of bytes`);
      file.size = Number(value);
    } else if (path === 'metalink/file/url') {
      urlEntry(file, value, attrs, fail);
    } else if (path === 'metalink/file/hash') {
      hashEntry(attrs.type, value, fail, (type, hex) => file!.hashes.set(type, hex));
    } else if (path === 'metalink/file/pieces/hash' && pieces) {
      const { type, hashes } = pieces;
      hashEntry(type, value, fail, (_, hex) => hashes.push(hex));
    } else if (path === 'metalink/file/pieces' && pieces) {
      file.pieces.set(pieces.type, pieces);
      pieces = undefined;
    } else if (path === 'metalink/file') {
      files.push(finish(file, fail));
      file = undefined;
    }
    textValue = '';
  }));
  parser.write(text).close();
  if (problem) throw problem;
  if (!root) fail('empty document', 1);
  if (files.length === 0) fail('no <file> in the metalink');
  return files;
}

function urlEntry(file: Building, value: string, attrs: Record<string, string>, fail: (reason: string) => never): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(`<url>${value}</url> is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    file.skipped++;
    return;
  }
  const priority = attrs.priority === undefined ? NO_PRIORITY : Number(attrs.priority);
  if (!Number.isInteger(priority) || priority < 1 || priority > 999_999) fail(`<url priority="${attrs.priority}">: the priority must be 1 to 999999`);
  file.urls.push({ url: url.href, priority, ...(attrs.location ? { location: attrs.location.toLowerCase() } : {}), order: file.urls.length });
}

function hashEntry(type: string | undefined, value: string, fail: (reason: string) => never, add: (type: string, hex: string) => void): void {
  const algorithm = algorithmOf(type);
  if (!algorithm) return; // a hash rangeget cannot compute (sha-384, ...) is not an error
  const hex = value.toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex) || hex.length !== DIGEST_HEX_LENGTH[algorithm]) fail(`<hash type="${type}">: a ${type} digest is ${DIGEST_HEX_LENGTH[algorithm]} hex digits`);
  add(type!.toLowerCase(), hex);
}

function finish(file: Building, fail: (reason: string, line?: number) => never): MetalinkFile {
  if (file.urls.length === 0) {
    fail(`<file name="${file.name}"> has no http or https URL${file.skipped ? ` (${file.skipped} of other kinds are not supported)` : ''}`, file.line);
  }
  const urls = file.urls.sort((a, b) => a.priority - b.priority || a.order - b.order).map(({ order: _, ...u }) => u);
  const out: MetalinkFile = { name: file.name, line: file.line, urls };
  if (file.size !== undefined) out.size = file.size;
  const hash = best(file.hashes);
  if (hash) out.hash = { algorithm: hash[0], hex: hash[1] };
  const pieces = best(file.pieces);
  if (pieces) {
    const [algorithm, { length, hashes, line }] = pieces;
    if (file.size !== undefined && hashes.length !== Math.ceil(file.size / length)) {
      fail(`<pieces>: ${hashes.length} hashes of ${length} bytes, but a file of ${file.size} bytes has ${Math.ceil(file.size / length)} pieces`, line);
    }
    out.pieces = { length, algorithm, hashes };
  }
  return out;
}
