/**
 * SOCKS5 proxies (`--proxy socks5://host:port`, `socks5h://`, `ALL_PROXY`): an undici
 * connector that opens every connection of a download through the proxy (the handshake is
 * the `socks` package's), then TLS over it for https. `socks5://` resolves names here (with
 * `-4` / `-6`), `socks5h://` lets the proxy resolve them, as curl does.
 */
import { createRequire } from 'node:module';
import { isIP, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type * as Undici from 'undici';

// `require`, not `import()`: the CLI's bundle runs from V8's code cache in a vm.Script
// (src/cli/compile-cache.ts), where a dynamic import has no loader to go to.
const require = createRequire(import.meta.url);

/** An undici connector: `(target, callback)`. */
export type SocksConnector = Undici.buildConnector.connector;
type ConnectTarget = Undici.buildConnector.Options;

/** True for the proxy URLs this module serves. */
export function isSocksProxy(proxy: string): boolean {
  return /^socks5h?:/i.test(proxy);
}

/** Connect through the SOCKS5 proxy at `proxyUrl`; `tls` applies to https targets. */
export function socksConnector(
  proxyUrl: string,
  settings: { connectTimeout: number; family?: 4 | 6; localAddress?: string },
  tls: ConnectionOptions,
): SocksConnector {
  const proxy = new URL(proxyUrl);
  const remoteDns = proxy.protocol.toLowerCase() === 'socks5h:';
  const open = async (target: ConnectTarget): Promise<Socket> => {
    const name = target.hostname.replace(/^\[|\]$/g, '');
    const resolve = async (): Promise<string> =>
      (await (require('node:dns/promises') as typeof import('node:dns/promises')).lookup(name, { family: settings.family ?? 0 })).address;
    const host = remoteDns || isIP(name) !== 0 ? name : await resolve();
    const proxyHost = proxy.hostname.replace(/^\[|\]$/g, '');
    const proxyPort = Number(proxy.port) || 1080;
    // Loaded on first use (node:dns and node:tls too): the package costs ~40 ms of start-up to every download without a SOCKS proxy.
    const { SocksClient } = require('socks') as typeof import('socks');
    const { connect: tlsConnect } = require('node:tls') as typeof import('node:tls');
    const { socket } = await SocksClient.createConnection({
      proxy: {
        host: proxyHost,
        port: proxyPort,
        type: 5,
        ...(proxy.username ? { userId: decodeURIComponent(proxy.username), password: decodeURIComponent(proxy.password) } : {}),
      },
      command: 'connect',
      destination: { host, port: Number(target.port) || (target.protocol === 'https:' ? 443 : 80) },
      timeout: settings.connectTimeout,
      ...(settings.localAddress ? { socket_options: { host: proxyHost, port: proxyPort, localAddress: settings.localAddress } } : {}),
    });
    if (target.protocol !== 'https:') return socket;
    const servername = target.servername || (isIP(name) === 0 ? name : undefined);
    const secure = tlsConnect({ ...tls, socket, ...(servername ? { servername } : {}) });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => secure.destroy(new Error(`TLS handshake through the SOCKS proxy took more than ${settings.connectTimeout} ms`)), settings.connectTimeout);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        resolve();
      });
      secure.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    return secure;
  };
  return (target, callback) => {
    open(target).then(
      (socket) => callback(null, socket),
      // The code stays: the retry policy and the messages read it.
      (err: unknown) => callback(Object.assign(new Error(`SOCKS proxy ${proxy.host}: ${(err as Error).message}`), { code: (err as NodeJS.ErrnoException).code }), null),
    );
  };
}
