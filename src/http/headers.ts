/**
 * Reading response headers: the few rangeget relies on, parsed strictly.
 */

/** Response headers as undici gives them: lower-case names, repeated ones as arrays. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** The Content-Length header as a number, or undefined when absent or malformed. */
export function contentLength(headers: ResponseHeaders): number | undefined {
  const raw = header(headers, 'content-length');
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** First value of a header that may be repeated. */
export function header(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Parse `Content-Range: bytes a-b/total` (total may be `*`). */
export function parseContentRange(
  value: string | undefined,
): { start: number; end: number; total: number | undefined } | { unsatisfied: true; total: number } | undefined {
  if (!value) return undefined;
  const m = /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(value);
  if (!m) return undefined;
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (m[1] === undefined || m[2] === undefined) {
    return total === undefined ? undefined : { unsatisfied: true, total };
  }
  const start = Number(m[1]);
  const end = Number(m[2]) + 1;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) return undefined;
  if (total !== undefined && (!Number.isSafeInteger(total) || end > total)) return undefined;
  return { start, end, total };
}

