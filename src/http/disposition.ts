/**
 * The file name a server suggests: the Content-Disposition header (RFC 6266, RFC 8187
 * `filename*`), else the last segment of the URL path. Decoded, not sanitised: the storage
 * layer makes a safe name of it.
 */

// `fatal` so invalid UTF-8 is detected instead of silently turned into U+FFFD;
// `ignoreBOM` so a leading EF BB BF is decoded like any other character, not swallowed.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

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

