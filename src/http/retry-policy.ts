/**
 * The retry policy, whole: which failures are worth another attempt, how long to wait
 * before it (backoff with jitter, or the server's Retry-After), and when to give up. The
 * probe and every range use it alike. Pure (the clock and the dice are parameters).
 */
import type { RangegetError } from '../primitives/errors.js';

/** How patient a download is: the same for the probe and for every range. */
export interface RetrySettings {
  /** Failed attempts in a row (without a byte written) before the range fails. */
  retries: number;
  /** First backoff delay in ms; doubled each attempt, with jitter. */
  retryWait: number;
  /** Longest wait in ms, for backoff and for a server's Retry-After. */
  maxRetryWait: number;
  /**
   * Retries of a first probe that found nobody there (connection refused, unknown host),
   * each after {@link QUICK_RETRY_WAIT}; `retries` when left out. Such a failure in the
   * middle of a download is a server restarting, worth the patience of `retries`; before
   * anything was fetched it is most often a typo, and waiting half a minute to say so helps
   * nobody.
   */
  unreachableRetries?: number;
}

/** The wait before a quick retry of an unreachable server at the first probe (ms). */
export const QUICK_RETRY_WAIT = 100;

/** Statuses that may clear up on their own: timeouts, rate limits, an overloaded or restarting server. */
const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/** True when another request may get a better answer than this status. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/**
 * One failed attempt: the error it ends the download with when no retry is left, whether
 * another attempt may cure it, and the server's Retry-After (ms) when it sent one.
 */
export class AttemptFailure extends Error {
  constructor(
    readonly error: RangegetError,
    readonly retryable: boolean,
    readonly retryAfter?: number,
    /** Nobody answered at all: the connection was refused or the host name is unknown. */
    readonly unreachable = false,
  ) {
    super(error.message, { cause: error });
  }
}

/**
 * The whole retry decision: milliseconds to wait before the next attempt, or undefined to
 * give up. `failures` counts the failed attempts in a row, this one included.
 */
export function retryDelay(
  failure: Pick<AttemptFailure, 'retryable' | 'retryAfter'>,
  failures: number,
  settings: RetrySettings,
  random: () => number = Math.random,
): number | undefined {
  if (!failure.retryable || failures > settings.retries) return undefined;
  return backoffDelay(failures, settings, failure.retryAfter, random);
}

/**
 * {@link retryDelay} for the first probe of a download: an unreachable server (see
 * {@link RetrySettings.unreachableRetries}) gets quick retries, anything else the usual ones.
 */
export function firstProbeDelay(
  failure: Pick<AttemptFailure, 'retryable' | 'retryAfter' | 'unreachable'>,
  failures: number,
  settings: RetrySettings,
  random: () => number = Math.random,
): number | undefined {
  if (!failure.unreachable || settings.unreachableRetries === undefined) return retryDelay(failure, failures, settings, random);
  return failure.retryable && failures <= settings.unreachableRetries ? QUICK_RETRY_WAIT : undefined;
}

/**
 * Milliseconds to wait before attempt `failures + 1`: `retryWait * 2^(failures-1)`, capped,
 * with "equal jitter" (half fixed, half random) so connections that failed together do
 * not come back together. A server's Retry-After wins, capped at `maxRetryWait`.
 */
export function backoffDelay(
  failures: number,
  settings: RetrySettings,
  retryAfter?: number,
  random: () => number = Math.random,
): number {
  if (retryAfter !== undefined) return Math.min(Math.max(0, retryAfter), settings.maxRetryWait);
  const exp = Math.min(settings.maxRetryWait, settings.retryWait * 2 ** Math.max(0, failures - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = new RegExp(`^[a-z]{3}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`, 'i');
/** Obsolete RFC 850 date: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850_DATE = new RegExp(`^[a-z]{6,9}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`, 'i');
/** Obsolete asctime date: `Sun Nov  6 08:49:37 1994` (GMT). */
const ASCTIME_DATE = new RegExp(`^[a-z]{3} ${MONTH} {1,2}(\\d{1,2}) ${TIME} (\\d{4})$`, 'i');

/** Milliseconds since the epoch of an HTTP-date (RFC 9110 section 5.6.7), or undefined. */
export function parseHttpDate(value: string, now = Date.now()): number | undefined {
  const text = value.trim();
  let fields: { day: string; month: string; year: number; time: [string, string, string] } | undefined;
  let m: RegExpExecArray | null;
  if ((m = IMF_FIXDATE.exec(text))) {
    fields = { day: m[1]!, month: m[2]!, year: Number(m[3]), time: [m[4]!, m[5]!, m[6]!] };
  } else if ((m = RFC850_DATE.exec(text))) {
    // A two-digit year more than 50 years ahead is in the past century (RFC 9110).
    const yy = Number(m[3]);
    const year = 2000 + yy > new Date(now).getUTCFullYear() + 50 ? 1900 + yy : 2000 + yy;
    fields = { day: m[1]!, month: m[2]!, year, time: [m[4]!, m[5]!, m[6]!] };
  } else if ((m = ASCTIME_DATE.exec(text))) {
    fields = { day: m[2]!, month: m[1]!, year: Number(m[6]), time: [m[3]!, m[4]!, m[5]!] };
  } else {
    return undefined;
  }
  const day = Number(fields.day);
  const [hours, minutes, seconds] = fields.time.map(Number) as [number, number, number];
  if (day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60) return undefined;
  const time = Date.UTC(fields.year, MONTHS.indexOf(fields.month.toLowerCase()), day, hours, minutes, Math.min(seconds, 59));
  // 31 Feb would roll over into March: not a date.
  return new Date(time).getUTCDate() === day ? time : undefined;
}

/**
 * `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP-date (a date in the
 * past means no wait). Undefined when absent or unreadable: anything else (`1.5`, `-1`,
 * `10s`, a loosely written date) is ignored rather than guessed at, and the usual backoff
 * applies.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, Number.MAX_SAFE_INTEGER);
  const date = parseHttpDate(text, now);
  if (date === undefined) return undefined;
  return Math.max(0, date - now);
}

/** Statuses by which a server says "fewer requests, please". */
const PUSHBACK_STATUSES = new Set([429, 503]);
/** Connection errors by which a server (or what is in front of it) turns connections away. */
const PUSHBACK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET']);

/**
 * Whether a failed attempt is the server pushing back on the number of connections: a 429 or
 * 503, or a refused or reset connection. `-c auto` answers with one connection fewer.
 */
export function isPushback(failure: Pick<AttemptFailure, 'error'>): boolean {
  const { error } = failure;
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number') return PUSHBACK_STATUSES.has(status);
  const cause = error.cause as { code?: unknown; cause?: { code?: unknown } } | undefined;
  return [cause?.code, cause?.cause?.code].some((c) => typeof c === 'string' && PUSHBACK_CODES.has(c));
}
