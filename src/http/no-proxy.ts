/**
 * NO_PROXY, as curl and undici read it: a comma- or space-separated list of host names
 * (each also matching its subdomains; a leading `.` or `*.` is ignored), IP addresses, and
 * `host:port` entries that match that port only; `*` alone bypasses every proxy. Pure.
 */

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** NO_PROXY from the environment (lower case first, as undici reads it). */
export function noProxyFromEnvironment(): string {
  return process.env.no_proxy ?? process.env.NO_PROXY ?? '';
}

/** True when `url` is to be reached directly, not through a proxy, under `noProxy`. */
export function bypassesProxy(url: URL, noProxy: string): boolean {
  const list = noProxy.trim();
  if (list === '') return false;
  if (list === '*') return true;
  // `host` keeps an IPv6 address's brackets, as NO_PROXY entries write it.
  const hostname = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[url.protocol] || 0;
  for (const raw of list.split(/[,\s]/)) {
    if (!raw) continue;
    const parsed = /^(.+):(\d+)$/.exec(raw);
    const entryPort = parsed ? Number.parseInt(parsed[2]!, 10) : 0;
    if (entryPort && entryPort !== port) continue;
    const entry = (parsed ? parsed[1]! : raw).replace(/^\*?\./, '').toLowerCase();
    if (hostname === entry || hostname.endsWith(`.${entry}`)) return true;
  }
  return false;
}
