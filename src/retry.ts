/**
 * Retry timing: exponential backoff with jitter, and the server's `Retry-After`.
 */
import type { RetrySettings } from './messages.js';

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

/**
 * `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP-date.
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
