/**
 * What a failed request means: undici's errors (and the causes inside them) turned into words
 * for the user and into the typed errors rangeget raises.
 */

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
