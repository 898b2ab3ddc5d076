/**
 * The pure policies of the http layer: the retry decision, the validators, and the checks every
 * response to a range request passes before a byte of it is written. No server: each case is
 * built by hand and the exact answer asserted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError, NetworkError, RemoteChangedError, ServerError, TimeoutError } from '../src/index.js';
import { connectionFailure, statusFailure } from '../src/http/failures.js';
import { asksWhole, WHOLE_PROBE_MAX } from '../src/http/probe.js';
import { checkResponse, type RangeAsked } from '../src/http/response-checks.js';
import { AttemptFailure, firstProbeDelay, isRetryableStatus, QUICK_RETRY_WAIT, retryDelay, type RetrySettings } from '../src/http/retry-policy.js';
import { canVouch, ifRangeHeader, isStrongEtag, validatorChange } from '../src/http/validators.js';

const SETTINGS: RetrySettings = { retries: 3, retryWait: 1000, maxRetryWait: 60_000 };
const half = () => 0.5;

describe('retry policy', () => {
  it('retries only what may clear up: 408, 425, 429 and 5xx gateways, not 4xx refusals', () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504]) assert.equal(isRetryableStatus(status), true, String(status));
    for (const status of [400, 401, 403, 404, 410, 416, 501]) assert.equal(isRetryableStatus(status), false, String(status));
  });

  it('waits with backoff and jitter while retries are left, then gives up', () => {
    const failure = { retryable: true };
    // Equal jitter at 0.5: three quarters of retryWait × 2^(n-1).
    assert.deepEqual([1, 2, 3].map((n) => retryDelay(failure, n, SETTINGS, half)), [750, 1500, 3000]);
    assert.equal(retryDelay(failure, 4, SETTINGS, half), undefined, 'a fourth failure with three retries');
  });

  it('never retries what cannot clear up, however many retries are left', () => {
    assert.equal(retryDelay({ retryable: false }, 1, SETTINGS, half), undefined);
  });

  it("takes the server's Retry-After over the backoff, capped at maxRetryWait", () => {
    assert.equal(retryDelay({ retryable: true, retryAfter: 5000 }, 1, SETTINGS, half), 5000);
    assert.equal(retryDelay({ retryable: true, retryAfter: 0 }, 2, SETTINGS, half), 0);
    assert.equal(retryDelay({ retryable: true, retryAfter: 10 ** 9 }, 1, SETTINGS, half), 60_000);
  });

  it('first probe: an unreachable server gets its quick retries only; anything else the usual backoff', () => {
    const quick = { ...SETTINGS, unreachableRetries: 1 };
    const refused = { retryable: true, unreachable: true };
    assert.equal(firstProbeDelay(refused, 1, quick, half), QUICK_RETRY_WAIT);
    assert.equal(firstProbeDelay(refused, 2, quick, half), undefined);
    assert.equal(firstProbeDelay({ retryable: true, unreachable: false }, 2, quick, half), 1500, 'a reset is no typo');
    // Without unreachableRetries (the user gave --retries), refused is patient as ever.
    assert.deepEqual([1, 2, 3, 4].map((n) => firstProbeDelay(refused, n, SETTINGS, half)), [750, 1500, 3000, undefined]);
  });

  it('a refused connection or an unknown host is unreachable; a reset is not', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const unknown = Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error('getaddrinfo ENOTFOUND x.invalid'), { code: 'ENOTFOUND' }) });
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    assert.deepEqual([refused, unknown, reset].map((e) => connectionFailure(e, 1000).unreachable), [true, true, false]);
  });

  it('zero retries: the first failure is final', () => {
    assert.equal(retryDelay({ retryable: true }, 1, { ...SETTINGS, retries: 0 }, half), undefined);
  });
});

describe('failures', () => {
  const undiciError = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

  it('a stalled body is a retryable timeout that says how long it waited', () => {
    const f = connectionFailure(undiciError('UND_ERR_BODY_TIMEOUT'), 30_000);
    assert.ok(f.error instanceof TimeoutError);
    assert.equal(f.retryable, true);
    assert.equal(f.message, 'no data for 30 s (stalled connection)');
  });

  it('connect and header timeouts are retryable timeouts; other faults retryable network errors', () => {
    for (const code of ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']) {
      const f = connectionFailure(undiciError(code), 1000);
      assert.ok(f.error instanceof TimeoutError, code);
      assert.equal(f.retryable, true);
    }
    const reset = connectionFailure(undiciError('ECONNRESET', 'socket hang up'), 1000, 'cannot reach http://h/: ');
    assert.ok(reset.error instanceof NetworkError);
    assert.equal(reset.retryable, true);
    assert.equal(reset.message, 'cannot reach http://h/: socket hang up (ECONNRESET)');
  });

  it('a certificate that fails verification is not retried: it would fail the same way', () => {
    const err = Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }) });
    const f = connectionFailure(err, 1000);
    assert.equal(f.retryable, false);
    assert.match(f.error.cliMessage, /trust its CA with --ca-cert FILE, or skip the check with --insecure$/);
    assert.match(f.message, /trust its CA with `caCert`, or skip the check with `insecure: true`$/);
  });

  it('a status failure carries the HttpError, retryability and Retry-After', () => {
    const now = Date.UTC(2026, 0, 1);
    const busy = statusFailure(503, 'http://h/f', { 'retry-after': '7' }, undefined, now);
    assert.ok(busy.error instanceof HttpError);
    assert.equal(busy.error.status, 503);
    assert.equal(busy.retryable, true);
    assert.equal(busy.retryAfter, 7000);
    const gone = statusFailure(404, 'http://h/f', { 'retry-after': '7' }, 'custom', now);
    assert.equal(gone.retryable, false);
    assert.equal(gone.retryAfter, undefined, 'Retry-After only matters for what is retried');
    assert.equal(gone.message, 'custom');
  });
});

describe('validators', () => {
  it('strong ETags and dates vouch for bytes; weak ETags do not', () => {
    assert.equal(isStrongEtag('"a"'), true);
    assert.equal(isStrongEtag('W/"a"'), false);
    assert.equal(isStrongEtag(undefined), false);
    assert.equal(canVouch({ etag: 'W/"a"' }), false);
    assert.equal(canVouch({ etag: 'W/"a"', lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT' }), true);
    assert.equal(canVouch({ etag: '"a"' }), true);
  });

  it('If-Range: the strong ETag, else the date, else nothing; the date when the ETag is avoided', () => {
    const date = 'Mon, 01 Jan 2024 00:00:00 GMT';
    assert.deepEqual(ifRangeHeader({ etag: '"a"', lastModified: date }), { 'if-range': '"a"' });
    assert.deepEqual(ifRangeHeader({ etag: '"a"', lastModified: date }, true), { 'if-range': date });
    assert.deepEqual(ifRangeHeader({ etag: 'W/"a"', lastModified: date }), { 'if-range': date });
    assert.deepEqual(ifRangeHeader({ etag: 'W/"a"' }), {});
  });

  it('a change is a validator that differs; a missing one contradicts nothing unless strict', () => {
    assert.equal(validatorChange({ etag: '"a"' }, { etag: '"b"' }), 'ETag "a" → "b"');
    assert.equal(validatorChange({ etag: '"a"' }, {}), undefined);
    assert.equal(validatorChange({ etag: '"a"' }, {}, true), 'ETag "a" → none');
    assert.equal(validatorChange({ lastModified: 'x' }, { lastModified: 'y', etag: '"n"' }), 'Last-Modified x → y');
    assert.equal(validatorChange({}, { etag: '"new"' }, true), undefined);
  });
});

describe('response checks', () => {
  const asked = (extra: Partial<RangeAsked> = {}): RangeAsked => ({
    mode: 'ranges',
    position: 100,
    end: 200,
    size: 1000,
    url: 'http://h/f',
    validators: { etag: '"v1"', lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT' },
    ifRangeEtag: true,
    ifRange: true,
    ...extra,
  });
  const failure = (verdict: ReturnType<typeof checkResponse>): AttemptFailure => {
    assert.equal(verdict.kind, 'failure');
    return (verdict as { failure: AttemptFailure }).failure;
  };

  it('a 206 for what was asked (or less) is written up to its Content-Range end', () => {
    assert.deepEqual(checkResponse(206, { 'content-range': 'bytes 100-199/1000', etag: '"v1"' }, asked()), { kind: 'accept', writeEnd: 200 });
    assert.deepEqual(checkResponse(206, { 'content-range': 'bytes 100-149/1000' }, asked()), { kind: 'accept', writeEnd: 150 });
  });

  it('a 206 that starts elsewhere, runs past the end or has no valid Content-Range is retried', () => {
    for (const range of ['bytes 101-199/1000', 'bytes 100-200/1000', 'bytes */1000', undefined]) {
      const f = failure(checkResponse(206, range ? { 'content-range': range } : {}, asked()));
      assert.ok(f.error instanceof ServerError, String(range));
      assert.equal(f.retryable, true);
    }
  });

  it('another total size or another ETag is another file: not retried', () => {
    const size = failure(checkResponse(206, { 'content-range': 'bytes 100-199/1001' }, asked()));
    assert.ok(size.error instanceof RemoteChangedError);
    assert.equal(size.retryable, false);
    const etag = failure(checkResponse(206, { 'content-range': 'bytes 100-199/1000', etag: '"v2"' }, asked()));
    assert.ok(etag.error instanceof RemoteChangedError);
    assert.match(etag.message, /ETag "v1" → "v2"/);
  });

  it('a 416 that gives another total is a changed file, as a 206 with another total; otherwise an HTTP error', () => {
    const shrunk = failure(checkResponse(416, { 'content-range': 'bytes */150' }, asked()));
    assert.ok(shrunk.error instanceof RemoteChangedError);
    assert.equal(shrunk.retryable, false);
    assert.match(shrunk.message, /changed size from 1000 to 150 bytes/);
    for (const headers of [{ 'content-range': 'bytes */1000' }, {}]) {
      const plain = failure(checkResponse(416, headers, asked()));
      assert.ok(!(plain.error instanceof RemoteChangedError), JSON.stringify(headers));
      assert.match(plain.message, /HTTP 416/);
    }
  });

  it('a 200 to a range: the whole file means no ranges; from 0 with the right length it is accepted', () => {
    assert.deepEqual(checkResponse(200, { 'content-length': '1000' }, asked({ ifRangeEtag: false })), {
      kind: 'noRanges',
      reason: 'the server answered a range request with the whole file (200)',
    });
    assert.deepEqual(checkResponse(200, { 'content-length': '1000' }, asked({ position: 0 })), { kind: 'accept', writeEnd: 1000 });
  });

  it('a 200 with the same validators to an ETag If-Range: asked again with the date, at once', () => {
    const verdict = checkResponse(200, { 'content-length': '1000', etag: '"v1"' }, asked());
    assert.equal(verdict.kind, 'failure');
    assert.equal((verdict as { avoidEtag?: true }).avoidEtag, true);
    assert.equal(failure(verdict).retryAfter, 0);
  });

  it('412 to an If-Range is asked again without it, at once; without If-Range it is a refusal', () => {
    const verdict = checkResponse(412, {}, asked());
    assert.equal(verdict.kind === 'failure' && verdict.dropIfRange, true);
    assert.equal(failure(verdict).retryAfter, 0);
    const refused = failure(checkResponse(412, {}, asked({ ifRange: false, ifRangeEtag: false })));
    assert.equal(refused.retryable, false);
  });

  it('multipart/byteranges to a single range means no ranges: it would come back the same way', () => {
    assert.deepEqual(checkResponse(206, { 'content-type': 'multipart/byteranges; boundary=B' }, asked()), {
      kind: 'noRanges',
      reason: 'the server answered a single range with multipart/byteranges',
    });
  });

  it('a 200 of another length is another file', () => {
    const f = failure(checkResponse(200, { 'content-length': '999' }, asked({ mode: 'stream', position: 0 })));
    assert.ok(f.error instanceof RemoteChangedError);
    assert.equal(f.message, 'the server sends 999 bytes, not the 1000 it announced');
  });

  it('other statuses end the attempt: retried when they may clear up, named with the bytes asked', () => {
    const busy = failure(checkResponse(503, { 'retry-after': '2' }, asked()));
    assert.equal(busy.retryable, true);
    assert.equal(busy.retryAfter, 2000);
    assert.equal(busy.message, 'server answered HTTP 503 for bytes 100-199 of http://h/f');
    const gone = failure(checkResponse(410, {}, asked({ mode: 'stream' })));
    assert.equal(gone.retryable, false);
    assert.ok(gone.error instanceof HttpError && gone.error.status === 410);
    assert.equal(gone.message, 'server answered HTTP 410 for http://h/f');
  });
});

describe('asksWhole (a batch probe\'s guess)', () => {
  it('asks for a small file\'s every byte first and after a small file, one byte after a bigger one', () => {
    assert.equal(asksWhole(undefined), true);
    assert.equal(asksWhole(0), true);
    assert.equal(asksWhole(WHOLE_PROBE_MAX), true);
    assert.equal(asksWhole(WHOLE_PROBE_MAX + 1), false);
    assert.equal(asksWhole(4 * 1024 ** 3), false);
  });
});
