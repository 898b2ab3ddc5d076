/** Picking events of one kind out of what `onEvent` recorded. */
import type { DownloadEvent } from '../../src/index.js';

export type RetryEvent = Extract<DownloadEvent, { type: 'retry' }>;

/** The `retry` events, in order. */
export const retries = (events: readonly DownloadEvent[]): RetryEvent[] => events.flatMap((e) => (e.type === 'retry' ? [e] : []));

/** The messages of the `warning` events, in order. */
export const warnings = (events: readonly DownloadEvent[]): string[] => events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
