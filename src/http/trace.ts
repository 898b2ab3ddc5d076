/**
 * `-v`: the requests and responses of a download, with credentials masked.
 *
 * Workers subscribe to undici's diagnostics channels: each worker belongs to one download,
 * so what a worker sees is that download's traffic and nothing else.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** One traced HTTP exchange step. */
export interface HttpTrace {
  kind: 'request' | 'response' | 'error';
  method: string;
  url: string;
  /** Response status (kind 'response'). */
  status?: number;
  /** Request or response headers, credentials masked. */
  headers?: Record<string, string>;
  /** Error text (kind 'error'). */
  message?: string;
}

const secret = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

/** Headers from undici's flat `[name, value, ...]` arrays (strings or buffers), secrets masked. */
export function maskHeaders(flat: ReadonlyArray<string | Buffer> | Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    out[key] = secret.has(key) ? '***' : value;
  };
  if (Array.isArray(flat)) {
    for (let i = 0; i + 1 < flat.length; i += 2) add(String(flat[i]), String(flat[i + 1]));
  } else if (flat) {
    for (const [name, value] of Object.entries(flat)) add(name, String(value));
  }
  return out;
}

interface ChannelRequest {
  method: string;
  origin: string;
  path: string;
  headers?: Array<string | Buffer>;
}

/** Report every undici request of this thread; returns the function that stops it. */
export function traceThread(report: (trace: HttpTrace) => void): () => void {
  const url = (r: ChannelRequest) => `${r.origin}${r.path}`;
  const onCreate = (message: unknown) => {
    const { request } = message as { request: ChannelRequest };
    report({ kind: 'request', method: request.method, url: url(request), headers: maskHeaders(request.headers) });
  };
  const onHeaders = (message: unknown) => {
    const { request, response } = message as { request: ChannelRequest; response: { statusCode: number; headers: Buffer[] } };
    report({ kind: 'response', method: request.method, url: url(request), status: response.statusCode, headers: maskHeaders(response.headers) });
  };
  const onError = (message: unknown) => {
    const { request, error } = message as { request: ChannelRequest; error: Error };
    report({ kind: 'error', method: request.method, url: url(request), message: error.message });
  };
  diagnosticsChannel.subscribe('undici:request:create', onCreate);
  diagnosticsChannel.subscribe('undici:request:headers', onHeaders);
  diagnosticsChannel.subscribe('undici:request:error', onError);
  return () => {
    diagnosticsChannel.unsubscribe('undici:request:create', onCreate);
    diagnosticsChannel.unsubscribe('undici:request:headers', onHeaders);
    diagnosticsChannel.unsubscribe('undici:request:error', onError);
  };
}
