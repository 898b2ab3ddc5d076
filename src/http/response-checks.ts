/**
 * Every response to a range request is checked here before a byte of it is written: its
 * status, its Content-Range against what was asked, its size and validators against the
 * probe's. Pure: the answer says what to do, the fetcher does it.
 */
import { RemoteChangedError, ServerError } from '../primitives/errors.js';
import { UNKNOWN_END } from '../primitives/ranges.js';
import { statusFailure } from './failures.js';
import { contentLength, header, parseContentRange, type ResponseHeaders } from './headers.js';
import { AttemptFailure } from './retry-policy.js';
import { isStrongEtag, validatorChange, type Validators } from './validators.js';

/** What was asked, and of which file. */
export interface RangeAsked {
  /** Byte ranges (206 expected), or one plain stream from the start (200). */
  mode: 'ranges' | 'stream';
  /** First byte asked for. */
  position: number;
  /** Exclusive end of the bytes asked for. */
  end: number;
  /** The file's size as probed, when known. */
  size: number | undefined;
  url: string;
  /** The validators the probe saw. */
  validators: Validators;
  /** The request carried an `If-Range` with the strong ETag. */
  ifRangeEtag: boolean;
  /** The request carried an `If-Range` (ETag or date). */
  ifRange: boolean;
}

/**
 * The verdict on a response: write its bytes up to `writeEnd` (exclusive), or stop: fail
 * the attempt (`failure`), or fall back to one connection (`noRanges`: the server ignores ranges).
 */
export type ResponseVerdict =
  | { kind: 'accept'; writeEnd: number }
  | { kind: 'failure'; failure: AttemptFailure; avoidEtag?: true; dropIfRange?: true }
  | { kind: 'noRanges'; reason: string };

const fail = (failure: AttemptFailure): ResponseVerdict => ({ kind: 'failure', failure });
/** Another total than the probe's, in a 206's Content-Range or a 416's `bytes *\/N`: another file. */
const sizeChanged = (from: number, to: number): ResponseVerdict =>
  fail(new AttemptFailure(new RemoteChangedError(`the remote file changed size from ${from} to ${to} bytes`), false));

/** Check a response's head against what was asked. */
export function checkResponse(status: number, headers: ResponseHeaders, asked: RangeAsked): ResponseVerdict {
  const ranged = asked.mode === 'ranges';
  const changed = validatorChange(asked.validators, { etag: header(headers, 'etag'), lastModified: header(headers, 'last-modified') });
  if (ranged && status === 206) {
    // One range asked, several parts sent: it would come back the same way; one connection instead.
    if (/^multipart\/byteranges\b/i.test(header(headers, 'content-type') ?? '')) {
      return { kind: 'noRanges', reason: 'the server answered a single range with multipart/byteranges' };
    }
    const range = parseContentRange(header(headers, 'content-range'));
    if (!range || 'unsatisfied' in range) {
      return fail(new AttemptFailure(new ServerError(`invalid Content-Range ${JSON.stringify(header(headers, 'content-range'))}`), true));
    }
    if (range.total !== undefined && asked.size !== undefined && range.total !== asked.size) {
      return sizeChanged(asked.size, range.total);
    }
    if (range.start !== asked.position || range.end > asked.end) {
      const what = `server sent bytes ${range.start}-${range.end - 1} for a request of ${asked.position}-${asked.end - 1}`;
      return fail(new AttemptFailure(new ServerError(what), true));
    }
    if (changed) return fail(new AttemptFailure(new RemoteChangedError(`the remote file changed: ${changed}`), false));
    return { kind: 'accept', writeEnd: range.end };
  }
  if (status === 200) {
    if (changed) return fail(new AttemptFailure(new RemoteChangedError(`the remote file changed: ${changed}`), false));
    const length = contentLength(headers);
    // A 200 must have the size the probe announced: a longer or shorter file is not this one.
    if (length !== undefined && asked.size !== undefined && length !== asked.size) {
      return fail(new AttemptFailure(new RemoteChangedError(`the server sends ${length} bytes, not the ${asked.size} it announced`), false));
    }
    // A 200 to a range request is the same bytes only when the range starts at 0.
    if (ranged && !(asked.position === 0 && length === asked.size)) {
      if (asked.ifRangeEtag && asked.validators.lastModified && isStrongEtag(asked.validators.etag)) {
        // Same validators, Range dropped (some CDNs on an ETag If-Range): ask again with the date.
        const failure = new AttemptFailure(new ServerError('server ignored Range with If-Range; retrying with the Last-Modified date'), true, 0);
        return { kind: 'failure', failure, avoidEtag: true };
      }
      return { kind: 'noRanges', reason: 'the server answered a range request with the whole file (200)' };
    }
    return { kind: 'accept', writeEnd: asked.size ?? UNKNOWN_END };
  }
  if (ranged && status === 412 && asked.ifRange) {
    // 412 is no answer to If-Range (RFC 9110 §13.1.5), yet some servers send it: ask again
    // without it; every 206 is still compared with the probe's validators above.
    const failure = new AttemptFailure(new ServerError('server refused If-Range with 412; asking without it'), true, 0);
    return { kind: 'failure', failure, dropIfRange: true };
  }
  if (ranged && status === 416) {
    // `bytes */N` with another N: the file shrank below this range since the probe. The same
    // verdict as a 206 with another total, which another range may or may not see first.
    const range = parseContentRange(header(headers, 'content-range'));
    if (range && 'unsatisfied' in range && asked.size !== undefined && range.total !== asked.size) {
      return sizeChanged(asked.size, range.total);
    }
  }
  const what = `server answered HTTP ${status} for ${ranged ? `bytes ${asked.position}-${asked.end - 1} of ` : ''}${asked.url}`;
  return fail(statusFailure(status, asked.url, headers, what));
}
