/**
 * The parts of undici rangeget uses, loaded from their own modules.
 *
 * `import 'undici'` loads fetch, WebSocket, the cache and more: about 140 ms here, paid by
 * the main thread and again by every worker thread before its first byte. The modules
 * below (pool.js comes with agent.js anyway) load in about 45 ms. Should a future undici move them, the full package is loaded
 * instead, so this only ever changes start-up time, never behaviour.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

interface Parts {
  Agent: typeof Undici.Agent;
  Pool: typeof Undici.Pool;
  ProxyAgent: typeof Undici.ProxyAgent;
  EnvHttpProxyAgent: typeof Undici.EnvHttpProxyAgent;
  /** undici's `Dispatcher#request`, to be called with the dispatcher as `this`. */
  dispatcherRequest: (this: Undici.Dispatcher, options: Undici.Dispatcher.RequestOptions) => Promise<Undici.Dispatcher.ResponseData>;
}

function load(): Parts {
  try {
    return {
      Agent: require('undici/lib/dispatcher/agent.js'),
      Pool: require('undici/lib/dispatcher/pool.js'),
      ProxyAgent: require('undici/lib/dispatcher/proxy-agent.js'),
      EnvHttpProxyAgent: require('undici/lib/dispatcher/env-http-proxy-agent.js'),
      dispatcherRequest: require('undici/lib/api/api-request.js'),
    };
  } catch {
    const undici = require('undici') as typeof Undici;
    return {
      Agent: undici.Agent,
      Pool: undici.Pool,
      ProxyAgent: undici.ProxyAgent,
      EnvHttpProxyAgent: undici.EnvHttpProxyAgent,
      dispatcherRequest: undici.Dispatcher.prototype.request as Parts['dispatcherRequest'],
    };
  }
}

let parts: Parts | undefined;

/**
 * undici's parts, loaded on first use: a worker thread whose ranges all go through the lean
 * reader never loads undici (~100 ms of CPU per thread start, measured with --cpu-prof).
 */
export function undici(): Omit<Parts, 'dispatcherRequest'> {
  return (parts ??= load());
}
export type Dispatcher = Undici.Dispatcher;

/** Options of {@link request}: undici's request options without origin and path. */
export type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Undici.Dispatcher };

/** undici's `request(url, options)`, always through the given dispatcher. */
export function request(url: URL, options: RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = options;
  return (parts ??= load()).dispatcherRequest.call(dispatcher, {
    ...rest,
    origin: url.origin,
    path: url.search ? `${url.pathname}${url.search}` : url.pathname,
  });
}

/** undici's dispatch handler (the callback API under `request`). */
export type DispatchHandler = Undici.Dispatcher.DispatchHandler;
/** Pause, resume or abort a dispatched request. */
export type DispatchController = Undici.Dispatcher.DispatchController;
