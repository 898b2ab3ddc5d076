/**
 * Sources: the URLs that serve one file, the probed URL first, then the mirrors that serve
 * the same bytes. A mirror that does not is dropped before the first byte, with a warning.
 */
import type { ProbeResult } from '../http/probe.js';
import { validatorChange } from '../http/validators.js';
import type { Source } from './protocol.js';

/** The source a probe found: its final URL, with the validators range requests check. */
export function sourceOf(info: ProbeResult): Source {
  const source: Source = { url: info.finalUrl };
  if (info.etag) source.etag = info.etag;
  if (info.lastModified) source.lastModified = info.lastModified;
  return source;
}

/**
 * Why a probed mirror cannot serve ranges of the file `info` describes, or undefined when it
 * can. Only ETags are compared: each mirror has its own Last-Modified. Pure.
 */
export function mirrorProblem(info: ProbeResult, mirror: ProbeResult): string | undefined {
  if (mirror.size !== info.size) return `serves ${mirror.size ?? 'an unknown number of'} bytes, not ${info.size}`;
  if (!mirror.acceptsRanges) return 'does not support ranges';
  if (validatorChange({ etag: info.etag }, { etag: mirror.etag })) return `has ETag ${mirror.etag}, not ${info.etag}`;
  return undefined;
}

/**
 * The sources of the file `info` describes: its URL, then each of `mirrors` that serves the
 * same file (probed all at once); the others are dropped with a warning each, in order.
 */
export async function findSources(
  info: ProbeResult,
  mirrors: readonly URL[],
  probe: (url: URL) => Promise<ProbeResult>,
  warn: (message: string) => void,
): Promise<Source[]> {
  const probed = await Promise.all(
    mirrors.map(async (url) => {
      try {
        const mirror = await probe(url);
        return mirrorProblem(info, mirror) ?? sourceOf(mirror);
      } catch (err) {
        return (err as Error).message;
      }
    }),
  );
  const sources = [sourceOf(info)];
  probed.forEach((m, i) => {
    if (typeof m === 'string') warn(`mirror ${mirrors[i]!.href} dropped: ${m}`);
    else sources.push(m);
  });
  return sources;
}
