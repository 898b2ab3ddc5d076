/**
 * Validators: the ETag and Last-Modified that tie bytes to one version of a remote file.
 * Every "is this the same file?" question is answered here: by the range requests
 * (`If-Range`, and each response's own validators), by the control file on resume, and by
 * the mirrors' probes. Pure.
 */

/** The validators a server gave for a file; either may be missing. */
export interface Validators {
  etag?: string;
  lastModified?: string;
}

/** A strong ETag can vouch for byte ranges; a weak one (`W/"..."`) cannot. */
export function isStrongEtag(etag: string | undefined): etag is string {
  return etag !== undefined && !etag.startsWith('W/');
}

/** True when the validators can vouch for bytes fetched earlier (a strong ETag or a date). */
export function canVouch(v: Validators): boolean {
  return isStrongEtag(v.etag) || Boolean(v.lastModified);
}

/**
 * The `If-Range` header that ties a range request to the probed version: the strong ETag,
 * else the Last-Modified date (`avoidEtag`: a server that drops Range on an ETag If-Range
 * although the file did not change, as some CDNs do). None when neither can vouch.
 */
export function ifRangeHeader(v: Validators, avoidEtag = false): Record<string, string> {
  if (!avoidEtag && isStrongEtag(v.etag)) return { 'if-range': v.etag };
  if (v.lastModified) return { 'if-range': v.lastModified };
  return {};
}

/**
 * How `now` contradicts `before`, in words, or undefined when it does not. A validator
 * missing on either side contradicts nothing (`strict`: a validator `before` had and `now`
 * lacks counts as a change, as for bytes kept on disk, which nothing else vouches for).
 */
export function validatorChange(before: Validators, now: Validators, strict = false): string | undefined {
  if (before.etag && (now.etag !== undefined || strict) && now.etag !== before.etag) {
    return `ETag ${before.etag} → ${now.etag ?? 'none'}`;
  }
  if (before.lastModified && (now.lastModified !== undefined || strict) && now.lastModified !== before.lastModified) {
    return `Last-Modified ${before.lastModified} → ${now.lastModified ?? 'none'}`;
  }
  return undefined;
}

/** A Last-Modified date in ms since the epoch, or undefined when missing or not a date. */
export function lastModifiedTime(lastModified: string | undefined): number | undefined {
  const t = lastModified ? Date.parse(lastModified) : NaN;
  return Number.isNaN(t) ? undefined : t;
}
