/**
 * An abort signal as a rejection to race against: what stops a running transfer at once.
 */
import { AbortError } from './errors.js';

/** A rejection when `signal` aborts, and the function that stops listening. */
export function whenAborted(signal: AbortSignal | undefined): { aborted: Promise<never>; dispose: () => void } {
  let listener: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    listener = () => reject(new AbortError());
    if (signal?.aborted) listener();
    else signal?.addEventListener('abort', listener, { once: true });
  });
  return { aborted, dispose: () => listener && signal?.removeEventListener('abort', listener) };
}
