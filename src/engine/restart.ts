/**
 * What a download does after a failed attempt: probe the original URL again, start over
 * from zero, or give up. Pure: the attempt loop (download.ts) acts on the answer.
 */
import { HttpError, RemoteChangedError } from '../primitives/errors.js';

/**
 * Answers to a range request that mean the final URL stopped working (an expired signed
 * URL, a moved file): the original URL is probed again, as often as each fresh URL works
 * for a while (long downloads outlive several signatures).
 */
const REPROBE_STATUSES = new Set([301, 302, 303, 307, 308, 403, 410]);
/** Times a download starts over because the remote file changed, before it gives up. */
export const MAX_RESTARTS = 3;

/**
 * `reprobe`: probe the original URL again and resume; `start-over`: probe again and fetch
 * every byte anew; `fail`: rethrow the error.
 */
export type RestartAction = 'reprobe' | 'start-over' | 'fail';

/** The attempts so far, and what the user allowed. */
export interface RestartContext {
  /** The URL asked for (`href`). */
  url: string;
  /** The original URL was probed again and no byte has been written since: the fresh URL failed at once. */
  reprobedWithoutProgress: boolean;
  /** Why the download last started over (the message of that change), if it did. */
  lastChange?: string;
  /** Attempts that failed before this one. */
  restarts: number;
  /** `--restart`: a changed remote file may start the download over. */
  restart: boolean;
}

/** What to do after an attempt failed with `error`. */
export function restartAction(error: unknown, context: RestartContext): RestartAction {
  // An expired signed URL: the original URL may redirect to a fresh one, unless the last fresh one failed at once.
  if (error instanceof HttpError && REPROBE_STATUSES.has(error.status) && !context.reprobedWithoutProgress && error.url !== context.url) {
    return 'reprobe';
  }
  // The same change twice is a server that contradicts itself (a Content-Range total that
  // disagrees with its own probe), not a file that changed: starting over again cannot help.
  if (error instanceof RemoteChangedError && context.restart && context.restarts < MAX_RESTARTS && error.message !== context.lastChange) {
    return 'start-over';
  }
  return 'fail';
}
