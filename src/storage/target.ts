/**
 * Where the output goes: a safe file name, and the paths of the file, its `.part` data file
 * and its `.part.json` control file. Pure functions, no I/O.
 *
 * Every name that comes from the server (Content-Disposition, URL path) is hostile until
 * {@link sanitizeFileName} has made it a single plain file name: a remote party must never
 * be able to pick the directory, overwrite a dotfile or a device, or hide the extension.
 */

import path from 'node:path';
import { RangegetError, UsageError } from '../primitives/errors.js';

/** Fallback name when neither the server nor the URL gives one, like wget. */
export const DEFAULT_FILE_NAME = 'index.html';

/** Suffixes of the working files, next to the final file. */
const PART_SUFFIX = '.part';
const CONTROL_SUFFIX = '.part.json';

/**
 * Most file systems (ext4, APFS, NTFS in UTF-16 units, ...) cap a name at 255, and UTF-8
 * bytes is the strictest reading. The control file `<name>.part.json` must fit too, or a
 * long remote name would fail with ENAMETOOLONG only once the download starts.
 */
const MAX_NAME_BYTES = 255 - CONTROL_SUFFIX.length;

/** Made on first use: building a Segmenter loads ICU data, ~25 ms that most runs never need. */
let graphemeSegmenter: Intl.Segmenter | undefined;
const graphemes = {
  segment: (text: string) => (graphemeSegmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })).segment(text),
};

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
