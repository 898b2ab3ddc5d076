/**
 * What `--dry-run` reports: the plan of a probed download that is not started. Pure: the
 * probe's answer, what an earlier run left and what is at the path are handed in.
 */
import { totalLength, UNKNOWN_END, type ByteRange } from '../primitives/ranges.js';
import type { ProbeResult } from '../http/probe.js';
import type { Inspection } from './events.js';
import { fetchesRanges, planRanges, plannedMinRange, probeRoundTrip } from './plan.js';
import { canVouch } from '../http/validators.js';

/** The plan of a download of `info` to `path`, with `written` kept from an earlier run. */
export function inspection(info: ProbeResult, opts: { connections: number; minRangeSize: number; minRangeChosen: boolean }, path: string, written: readonly ByteRange[], exists: boolean): Inspection {
  const ranged = fetchesRanges(info);
  const ranges = ranged
    ? planRanges({ size: info.size!, connections: opts.connections, minRangeSize: plannedMinRange(opts, probeRoundTrip(info), info.size), done: written })
    : info.size === 0
      ? []
      : [{ start: 0, end: info.size ?? UNKNOWN_END }];
  const result: Inspection = {
    url: info.url,
    finalUrl: info.finalUrl,
    size: info.size,
    ranges,
    rangeSupport: info.acceptsRanges,
    resumable: ranged && canVouch(info),
    path,
    exists,
    have: totalLength(written),
  };
  if (info.etag) result.etag = info.etag;
  if (info.lastModified) result.lastModified = info.lastModified;
  if (info.noRangesReason) result.reason = info.noRangesReason;
  else if (ranged && !result.resumable) result.reason = 'the server gives no strong ETag or Last-Modified, so an interrupted download would start over';
  return result;
}
