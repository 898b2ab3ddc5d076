/**
 * What a failed request means: undici's errors (and the causes inside them) turned into words
 * for the user and into the typed errors rangeget raises, marked retryable or not.
 */
import { HttpError, NetworkError, ServerError, TimeoutError } from '../primitives/errors.js';
import { header, type ResponseHeaders } from './headers.js';
import { MAX_HEAD_BYTES } from './response-head.js';
import { AttemptFailure, isRetryableStatus, parseRetryAfter } from './retry-policy.js';

/** OpenSSL / Node codes of a TLS certificate that could not be verified. */
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True when `err` (from undici) is a failed TLS certificate check. */
export function isCertificateError(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | undefined;
  return CERTIFICATE_ERRORS.has(e?.cause?.code ?? '') || CERTIFICATE_ERRORS.has(e?.code ?? '');
}

/** Human text for an error thrown by undici, for messages and retry logs. */
export function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  const text = code && !message.includes(code) ? `${message} (${code})` : message;
  if (isCertificateError(err)) {
    return `TLS certificate verification failed: ${text}; trust its CA with --ca-cert FILE, or skip the check with --insecure`;
  }
  return text;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
/** Nobody there: refused, or no such host (a name lookup that failed for good, not EAI_AGAIN). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_NONAME']);

/**
 * A request that got no answer (undici threw): a timeout or a network fault. Worth another
 * attempt, unless the certificate failed: it would fail the same way again. `prefix` goes
 * before the description (the probe's `cannot reach URL: `).
 */
export function connectionFailure(err: unknown, stallTimeout: number, prefix = ''): AttemptFailure {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return new AttemptFailure(new TimeoutError(`${prefix}no data for ${stallTimeout / 1000} s (stalled connection)`), true);
  }
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return new AttemptFailure(new TimeoutError(prefix + describeNetworkError(err)), true);
  if (code === 'UND_ERR_HEADERS_OVERFLOW') {
    // The same answer would be refused again: no retry.
    return new AttemptFailure(new ServerError(`${prefix}the server's response headers are larger than the ${MAX_HEAD_BYTES / 1024} KiB accepted`), false);
  }
  // A bad certificate would fail the same way again.
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const unreachable = [e?.code, e?.cause?.code].some((c) => typeof c === 'string' && UNREACHABLE_CODES.has(c));
  return new AttemptFailure(new NetworkError(prefix + describeNetworkError(err), { cause: err }), !isCertificateError(err), undefined, unreachable);
}

/**
 * An answer whose status ends this attempt: retried when the status may clear up, after the
 * server's Retry-After when it gives one.
 */
export function statusFailure(status: number, url: string, headers: ResponseHeaders, message?: string, now = Date.now()): AttemptFailure {
  const retryable = isRetryableStatus(status);
  const retryAfter = retryable ? parseRetryAfter(header(headers, 'retry-after'), now) : undefined;
  return new AttemptFailure(new HttpError(status, url, message), retryable, retryAfter);
}
