/**
 * Cookies from a Netscape `cookies.txt` file (curl `-b FILE`, wget `--load-cookies`, aria2c
 * `--load-cookies`): parsed once, then matched to each request's URL by domain, path, secure
 * flag and expiry, as a browser would send them. Pure.
 */

/** One cookie of the file, plain data for worker threads. */
export interface StoredCookie {
  /** Without a leading dot, lower case. */
  domain: string;
  /** Sent to subdomains too (the file's second field, or a leading dot). */
  subdomains: boolean;
  path: string;
  /** Sent over https only. */
  secure: boolean;
  /** Seconds since the epoch; 0: a session cookie, always sent. */
  expires: number;
  name: string;
  value: string;
}

/**
 * The cookies of a `cookies.txt` text; `#` lines are comments (but `#HttpOnly_` marks a
 * cookie, as curl writes them). Returns the cookies, or the 1-based number of the first
 * line that is not one with why.
 */
export function parseCookiesFile(text: string): StoredCookie[] | { line: number; reason: string } {
  const cookies: StoredCookie[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.startsWith('#HttpOnly_')) line = line.slice('#HttpOnly_'.length);
    else if (line.startsWith('#') || line.trim() === '') continue;
    const fields = line.split('\t');
    if (fields.length < 6) return { line: i + 1, reason: 'expected 7 tab-separated fields: domain, subdomains, path, secure, expires, name, value' };
    const [domain, flag, path, secure, expires, name, value = ''] = fields as [string, string, string, string, string, string, string?];
    const seconds = Number(expires);
    if (!Number.isFinite(seconds)) return { line: i + 1, reason: `expiry '${expires}' is not a number of seconds` };
    cookies.push({
      domain: domain.replace(/^\./, '').toLowerCase(),
      subdomains: flag.toUpperCase() === 'TRUE' || domain.startsWith('.'),
      path: path || '/',
      secure: secure.toUpperCase() === 'TRUE',
      expires: seconds,
      name,
      value,
    });
  }
  return cookies;
}

/** RFC 6265 §5.1.4: the request path is the cookie's path or below it. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** The `Cookie` header value for a request to `url` at `now` (ms), or undefined when none fits. */
export function cookieHeader(cookies: readonly StoredCookie[], url: URL, now = Date.now()): string | undefined {
  const host = url.hostname.toLowerCase();
  const fits = cookies.filter(
    (c) =>
      (host === c.domain || (c.subdomains && host.endsWith(`.${c.domain}`))) &&
      pathMatches(url.pathname || '/', c.path) &&
      (!c.secure || url.protocol === 'https:') &&
      (c.expires === 0 || c.expires * 1000 > now),
  );
  // Longer paths first, as browsers send them.
  fits.sort((a, b) => b.path.length - a.path.length);
  return fits.length > 0 ? fits.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
}
