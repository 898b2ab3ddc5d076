/**
 * A small document fetched whole (a metalink a URL answered with), with a size limit: it is
 * read into memory, never written to the output path.
 */
import type { HttpClient } from './client.js';
import { ServerError } from '../primitives/errors.js';
import { statusFailure } from './failures.js';
import { header } from './headers.js';
import { discard, followRedirects, type RequestSettings } from './request.js';

/**
 * Thrown by a download when the URL answered with a metalink (and `metalink` is on): its
 * text, for the caller to download the files it lists instead.
 */
export class MetalinkAnswer extends Error {
  constructor(
    readonly url: string,
    readonly text: string,
  ) {
    super(`${url} is a metalink`);
  }
}

/** Metalink documents are small: a 4 GiB file in 256 KiB pieces has 16384 hashes, about 1.3 MB. */
export const DOCUMENT_LIMIT = 16 * 1024 * 1024;

/** True for the media type of Metalink 4 (RFC 5854 section 7), parameters aside. */
export function isMetalinkType(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/metalink4+xml';
}

/** GET `url` and return its body as UTF-8 text; a failure status or a body over `limit` bytes throws. */
export async function fetchDocument(client: HttpClient, url: URL, settings: RequestSettings, signal?: AbortSignal, limit = DOCUMENT_LIMIT): Promise<string> {
  const res = await followRedirects(client, url, { method: 'GET', ...(signal ? { signal } : {}) }, settings);
  if (res.statusCode !== 200) {
    discard(res);
    throw statusFailure(res.statusCode, res.url.href, res.headers).error;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      discard(res);
      throw new ServerError(`${res.url.href} (${header(res.headers, 'content-type')}) is over ${limit} bytes: too big for a metalink`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
