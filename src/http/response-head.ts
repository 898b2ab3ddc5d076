/**
 * A strict reader of HTTP/1.1 response heads, for the lean range reader: status line and
 * header fields, parsed from the bytes of the reader's own buffer without copying the body.
 * Informational answers (1xx) are skipped, as RFC 9110 §15.2 asks of a client.
 */
import { createRequire } from 'node:module';
import type { ResponseHeaders } from './headers.js';

/**
 * Most bytes a head may take: Node's limit, as undici applies it (16 KiB unless Node is told
 * otherwise with --max-http-header-size). node:http, which knows the flag's value, is read only
 * when the flag is given (it brings ~80 of Node's modules, ~4 ms), and with `require`: an
 * `import` of it builds its ES module facade, which on Node 22+ loads Node's own copy of undici
 * (~0.06 s of CPU per thread on Node 24).
 */
export const MAX_HEAD_BYTES: number = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((arg) =>
  arg.startsWith('--max-http-header-size'),
)
  ? (createRequire(import.meta.url)('node:http') as typeof import('node:http')).maxHeaderSize
  : 16 * 1024;

/** A parsed head: the status, its headers, and where the body starts in the buffer. */
export interface ResponseHead {
  status: number;
  headers: ResponseHeaders;
  /** Offset in the buffer of the first body byte. */
  bodyStart: number;
}

/**
 * The bytes are not an HTTP/1.x response head, or one too large (`code` then says so as
 * undici does, so that both paths fail alike); the connection is unusable.
 */
export class HeadError extends Error {
  constructor(
    message: string,
    readonly code?: 'UND_ERR_HEADERS_OVERFLOW',
  ) {
    super(message);
  }
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/;
const FIELD = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/;

/**
 * Parse the head that starts at `start` in `buf[start, end)`. Returns undefined while the head
 * is incomplete (read more), the final (non-1xx) head once complete, and throws a
 * {@link HeadError} for anything that is not a valid head or exceeds {@link MAX_HEAD_BYTES}.
 */
export function parseHead(buf: Buffer, start: number, end: number): ResponseHead | undefined {
  let at = start;
  for (;;) {
    const stop = buf.indexOf(CRLFCRLF, at);
    if (stop < 0 || stop + 4 > end) {
      if (end - at > MAX_HEAD_BYTES) throw new HeadError(`response head larger than ${MAX_HEAD_BYTES} bytes`, 'UND_ERR_HEADERS_OVERFLOW');
      return undefined;
    }
    if (stop - at > MAX_HEAD_BYTES) throw new HeadError(`response head larger than ${MAX_HEAD_BYTES} bytes`, 'UND_ERR_HEADERS_OVERFLOW');
    const lines = buf.toString('latin1', at, stop).split('\r\n');
    const status = STATUS_LINE.exec(lines[0] ?? '');
    if (!status) throw new HeadError(`not an HTTP/1.1 status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
    const code = Number(status[1]);
    const headers: ResponseHeaders = {};
    for (let i = 1; i < lines.length; i++) {
      const field = FIELD.exec(lines[i]!);
      if (!field) throw new HeadError(`malformed header line: ${JSON.stringify(lines[i]!.slice(0, 80))}`);
      const name = field[1]!.toLowerCase();
      const value = field[2]!;
      const before = headers[name];
      headers[name] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
    }
    at = stop + 4;
    // 1xx (103 Early Hints, 100 Continue): another head follows. 101 would switch protocols: not asked for.
    if (code >= 100 && code < 200 && code !== 101) continue;
    return { status: code, headers, bodyStart: at };
  }
}
