/**
 * Where the output goes: the file name a download is saved as and the paths of the file,
 * its `.part` data file and its `.part.json` control file. Pure functions, no I/O.
 *
 * Every name that comes from the server (Content-Disposition, URL path) is hostile until
 * {@link sanitizeFileName} has made it a single plain file name: a remote party must never
 * be able to pick the directory, overwrite a dotfile or a device, or hide the extension.
 */

import path from 'node:path';
import { RangegetError, UsageError } from './errors.js';

/** Fallback name when neither the server nor the URL gives one, like wget. */
const DEFAULT_FILE_NAME = 'index.html';

/** Suffixes of the working files, next to the final file. */
const PART_SUFFIX = '.part';
const CONTROL_SUFFIX = '.part.json';

/**
 * Most file systems (ext4, APFS, NTFS in UTF-16 units, ...) cap a name at 255, and UTF-8
 * bytes is the strictest reading. The control file `<name>.part.json` must fit too, or a
 * long remote name would fail with ENAMETOOLONG only once the download starts.
 */
const MAX_NAME_BYTES = 255 - CONTROL_SUFFIX.length;

// `fatal` so invalid UTF-8 is detected instead of silently turned into U+FFFD;
// `ignoreBOM` so a leading EF BB BF is decoded like any other character, not swallowed.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

/** Made on first use: building a Segmenter loads ICU data, ~25 ms that most runs never need. */
let graphemeSegmenter: Intl.Segmenter | undefined;
const graphemes = {
  segment: (text: string) => (graphemeSegmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })).segment(text),
};

/**
 * Header parameters of Content-Disposition, names lowercased; the first occurrence wins.
 * A parameter present but malformed maps to undefined.
 */
function parseDispositionParams(header: string): Map<string, string | undefined> {
  const params = new Map<string, string | undefined>();
  const n = header.length;
  let i = 0;
  while (i < n) {
    while (i < n && (header[i] === ';' || header[i] === ' ' || header[i] === '\t')) i++;
    if (i >= n) break;
    let j = i;
    while (j < n && header[j] !== '=' && header[j] !== ';') j++;
    const name = header.slice(i, j).trim().toLowerCase();
    if (j >= n || header[j] === ';') {
      // A bare token: the disposition type ("attachment"), or junk. Neither names the file.
      i = j;
      continue;
    }
    j++; // '='
    while (j < n && (header[j] === ' ' || header[j] === '\t')) j++;
    let value: string | undefined;
    if (header[j] === '"') {
      let out = '';
      let k = j + 1;
      let closed = false;
      while (k < n) {
        const c = header[k]!;
        if (c === '\\' && k + 1 < n) {
          out += header[k + 1]!;
          k += 2;
        } else if (c === '"') {
          closed = true;
          k++;
          break;
        } else {
          out += c;
          k++;
        }
      }
      // An unterminated quoted-string is malformed: better fall back than guess where it ends.
      value = closed ? out : undefined;
      while (k < n && header[k] !== ';') k++;
      i = k;
    } else {
      let k = j;
      while (k < n && header[k] !== ';') k++;
      value = header.slice(j, k).trim();
      i = k;
    }
    // RFC 6266 calls repeated parameters invalid; taking the first is what browsers do.
    if (name !== '' && !params.has(name)) params.set(name, value);
  }
  return params;
}

function isHexPair(s: string, at: number): boolean {
  return /^[0-9A-Fa-f]{2}$/.test(s.slice(at, at + 2));
}

/** Decode an RFC 8187 ext-value (`charset'lang'pct-encoded`); undefined if malformed. */
function decodeExtValue(value: string): string | undefined {
  const m = /^([^']*)'[^']*'(.*)$/s.exec(value);
  if (!m) return undefined;
  const charset = m[1]!.trim().toLowerCase();
  const encoded = m[2]!;
  const latin1 = charset === 'iso-8859-1' || charset === 'latin1';
  if (!latin1 && charset !== 'utf-8') return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; ) {
    const c = encoded[i]!;
    if (c === '%') {
      if (!isHexPair(encoded, i + 1)) return undefined;
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    const cp = encoded.codePointAt(i)!;
    // Raw non-ASCII is not allowed by RFC 8187 but servers send it. A header read through
    // fetch is a ByteString (one char per byte), so chars up to 0xFF are taken as bytes.
    if (cp <= 0xff) bytes.push(cp);
    else if (latin1) return undefined;
    else bytes.push(...utf8.encode(String.fromCodePoint(cp)));
    i += cp > 0xffff ? 2 : 1;
  }
  if (latin1) return String.fromCharCode(...bytes);
  try {
    return strictUtf8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

/**
 * A plain `filename` is ISO-8859-1 by the RFC, but many servers put raw UTF-8 in it, and
 * fetch hands the header over as one char per byte. Browsers read such bytes as UTF-8 when
 * they are valid UTF-8; so do we, otherwise the text is kept as it is.
 */
function utf8FromByteString(s: string): string {
  if (!/[\u0080-\u00ff]/.test(s) || /[^\u0000-\u00ff]/.test(s)) return s;
  try {
    return strictUtf8.decode(Uint8Array.from(s, (c) => c.charCodeAt(0)));
  } catch {
    return s;
  }
}

/**
 * File name from a Content-Disposition header. `filename*` (RFC 5987/8187, `UTF-8''` or
 * `ISO-8859-1''`, percent-decoded) wins over `filename` (quoted-string with backslash
 * escapes, or token). Returns undefined if absent, empty or unparseable. Not sanitised.
 */
export function fileNameFromContentDisposition(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const params = parseDispositionParams(header);
  const extended = params.get('filename*');
  if (extended !== undefined) {
    const decoded = decodeExtValue(extended);
    if (decoded) return decoded;
  }
  const plain = params.get('filename');
  if (plain === undefined || plain === '') return undefined;
  return utf8FromByteString(plain);
}

/**
 * Percent-decode as UTF-8, leniently: a `%XX` that is not part of a valid UTF-8 sequence
 * (or a `%` without two hex digits) is kept as written, where decodeURIComponent would throw.
 */
function percentDecodeLenient(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (s[i] !== '%' || !isHexPair(s, i + 1)) {
      out += s[i]!;
      i++;
      continue;
    }
    const start = i;
    const bytes: number[] = [];
    while (i < s.length && s[i] === '%' && isHexPair(s, i + 1)) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 3;
    }
    const run = s.slice(start, i);
    for (let k = 0; k < bytes.length; ) {
      const b = bytes[k]!;
      const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
      if (len > 0 && k + len <= bytes.length) {
        try {
          // The strict decoder also rejects overlong forms and surrogates inside the sequence.
          out += strictUtf8.decode(Uint8Array.from(bytes.slice(k, k + len)));
          k += len;
          continue;
        } catch {
          // fall through: keep this byte's escape as written
        }
      }
      out += run.slice(k * 3, k * 3 + 3);
      k++;
    }
  }
  return out;
}

/**
 * Last non-empty path segment of the URL, percent-decoded (invalid escapes kept as is);
 * undefined for `/` or an empty path. Query and fragment are ignored. Not sanitised.
 */
export function fileNameFromUrl(url: URL): string | undefined {
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const last = segments[segments.length - 1];
  if (last === undefined) return undefined;
  const decoded = percentDecodeLenient(last);
  return decoded === '' ? undefined : decoded;
}

// C0, DEL, C1; and the bidi controls (embeddings, overrides, isolates, marks) that let a
// name like "\u202Eexe.txt" display as "txt.exe".
const CONTROL_AND_BIDI = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// A lone surrogate cannot be written as UTF-8; Node would store U+FFFD anyway.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const WINDOWS_INVALID = /[<>:"|?*]/g;
// Windows reserves these names whatever the extension ("CON.txt", "nul.tar.gz") and
// whatever the case; COM0/LPT0, the superscript digits and CONIN$/CONOUT$ are reserved too.
const WINDOWS_RESERVED = /^(?:con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3]|conin\$|conout\$)$/i;
// Spaces (any Unicode white space, BOM included) and dots: Windows drops them at the end,
// a leading dot hides the file on Unix.
const EDGE_SPACES_AND_DOTS = /^[\s.]+|[\s.]+$/g;
// What counts as an extension worth keeping when a name is shortened: short, no spaces.
const EXTENSION = /\.[^.\s]{1,20}$/;

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** The longest prefix of `s` within `budget` UTF-8 bytes, cut between graphemes when possible. */
function truncateBytes(s: string, budget: number): string {
  let out = '';
  let used = 0;
  for (const { segment } of graphemes.segment(s)) {
    const b = byteLength(segment);
    if (used + b > budget) break;
    out += segment;
    used += b;
  }
  if (out !== '' || s === '') return out;
  // A single grapheme longer than the budget (a pile of combining marks): cut by code point.
  for (const ch of s) {
    const b = byteLength(ch);
    if (used + b > budget) break;
    out += ch;
    used += b;
  }
  return out;
}

/**
 * Make a remote-supplied name safe as a single file name inside the output directory:
 * keep the part after the last `/` or `\`, drop control characters (C0, DEL, C1) and bidi
 * controls, trim spaces and dots at both ends (so `.bashrc` becomes `bashrc`, `.` and `..`
 * become empty), prefix Windows device names (`CON`, `NUL.txt`, `COM1`, ...) with `_`,
 * replace `<>:"|?*` with `_`, and cap the name at 245 UTF-8 bytes keeping the extension (255,
 * the usual file-system limit, less the 10 of the `.part.json` suffix).
 * Returns undefined if nothing usable is left.
 */
export function sanitizeFileName(name: string): string | undefined {
  let s = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  s = s.replace(CONTROL_AND_BIDI, '').replace(LONE_SURROGATE, '\ufffd');
  s = s.replace(WINDOWS_INVALID, '_');
  s = s.replace(EDGE_SPACES_AND_DOTS, '');
  if (s === '') return undefined;
  const dot = s.indexOf('.');
  const stem = (dot === -1 ? s : s.slice(0, dot)).trimEnd();
  if (WINDOWS_RESERVED.test(stem)) s = `_${s}`;
  if (byteLength(s) > MAX_NAME_BYTES) {
    const ext = EXTENSION.exec(s)?.[0] ?? '';
    const base = s.slice(0, s.length - ext.length);
    // Trim again so the cut does not leave "name .pdf" or "name..pdf".
    const cut = truncateBytes(base, MAX_NAME_BYTES - byteLength(ext)).replace(/[\s.]+$/, '');
    s = cut === '' ? truncateBytes(s, MAX_NAME_BYTES).replace(/[\s.]+$/, '') : cut + ext;
  }
  return s === '' ? undefined : s;
}

/**
 * The name to save as when `-o` is not given: the sanitised Content-Disposition name, else
 * the sanitised name from the (final, after redirects) URL, else `index.html`.
 */
export function chooseFileName(finalUrl: URL, contentDisposition?: string): string {
  const fromHeader = fileNameFromContentDisposition(contentDisposition);
  const fromUrl = fileNameFromUrl(finalUrl);
  return (
    (fromHeader !== undefined ? sanitizeFileName(fromHeader) : undefined) ??
    (fromUrl !== undefined ? sanitizeFileName(fromUrl) : undefined) ??
    DEFAULT_FILE_NAME
  );
}

/** Absolute paths of a download. */
export interface Target {
  /** The finished file. */
  path: string;
  /** The data being downloaded: `path + '.part'`, renamed to `path` when verified. */
  partPath: string;
  /** The resume state: `path + '.part.json'`. */
  controlPath: string;
}

/**
 * Resolve the output paths. `output` (`-o`) is used as given, since the user chose it (it may
 * contain directories), and is joined to `dir` (`-d`) when relative, like aria2c `-d`/`-o`
 * and curl `--output-dir`. Without `output`, `fileName` (already sanitised) is placed in
 * `dir` (default `process.cwd()`). Returns absolute paths.
 *
 * @throws UsageError if `output` is empty or names a directory (`''`, `dir/`, `.`, `..`).
 */
export function resolveTarget(opts: { output?: string; dir?: string; fileName: string }): Target {
  const dir = path.resolve(opts.dir ?? process.cwd());
  let file: string;
  if (opts.output !== undefined) {
    const output = opts.output;
    if (output === '') throw new UsageError('-o: the output file name must not be empty');
    const last = output.split(path.sep === '\\' ? /[\\/]/ : '/').pop();
    // path.resolve would quietly turn 'out/' into a file named 'out'; say what happened instead.
    if (last === '' || last === '.' || last === '..') {
      throw new UsageError(`-o: '${output}' is a directory, not a file name; give the directory with -d and the file name with -o`);
    }
    file = path.resolve(dir, output);
  } else {
    const name = opts.fileName;
    // Defence in depth: a name that is not one plain segment would escape `dir`.
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\u0000')) {
      throw new RangegetError('EINTERNAL', `resolveTarget: '${name}' is not a sanitised file name`);
    }
    file = path.join(dir, name);
  }
  return { path: file, partPath: file + PART_SUFFIX, controlPath: file + CONTROL_SUFFIX };
}
