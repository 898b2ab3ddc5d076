/**
 * Flags users bring from wget, curl, aria2c and axel that rangeget spells otherwise: an
 * unknown option's error names rangeget's own. Pure; loaded with the flags (no engine).
 */

/** A peer's flag → what rangeget calls it (where two peers share a letter, both). */
export const PEER_FLAGS: Readonly<Record<string, string>> = {
  '-O': "wget's -O FILE is rangeget's -o FILE (curl's -O, the name from the URL, is what rangeget does by default)",
  '--output-document': "wget's --output-document FILE is rangeget's -o FILE",
  '-P': "wget's -P DIR is rangeget's -d DIR",
  '--directory-prefix': "wget's --directory-prefix DIR is rangeget's -d DIR",
  '-nc': "wget's -nc is rangeget's --skip-existing",
  '--no-clobber': "wget's --no-clobber is rangeget's --skip-existing",
  '-t': "wget's -t N is rangeget's --retries N",
  '--tries': "wget's --tries N is rangeget's --retries N",
  '-T': "wget's -T SECONDS is rangeget's --timeout SECONDS",
  '-U': "wget's -U is rangeget's --user-agent",
  '--no-check-certificate': "wget's --no-check-certificate is rangeget's --insecure",
  '-L': "curl's -L is not needed: rangeget follows redirects (at most --max-redirects)",
  '--location': "curl's --location is not needed: rangeget follows redirects (at most --max-redirects)",
  '-C': "curl's -C - is rangeget's --continue",
  '--continue-at': "curl's --continue-at - is rangeget's --continue",
  '-A': "curl's -A is rangeget's --user-agent",
  '-e': "curl's -e is rangeget's --referer",
  '-b': "curl's -b is rangeget's --cookie (or --load-cookies FILE)",
  '-u': "curl's -u is rangeget's --user",
  '--silent': "curl's --silent is rangeget's -q",
  '-x': "aria2c's -x N (connections per server) is rangeget's -c N; curl's -x is --proxy URL",
  '--max-connection-per-server': "aria2c's --max-connection-per-server N is rangeget's -c N (or --max-connections N with -c auto)",
  '-s': "aria2c's -s N is rangeget's -c N; curl's -s (silent) is -q",
  '--split': "aria2c's --split N is rangeget's -c N",
  '-k': "aria2c's -k SIZE is rangeget's --min-range SIZE; curl's -k is --insecure",
  '--min-split-size': "aria2c's --min-split-size SIZE is rangeget's --min-range SIZE",
  '--max-overall-download-limit': "aria2c's --max-overall-download-limit is rangeget's --max-speed",
  '--max-download-limit': "aria2c's --max-download-limit is rangeget's --max-speed",
  '-n': "axel's -n N is rangeget's -c N",
  '--num-connections': "axel's --num-connections N is rangeget's -c N",
};

/**
 * What rangeget calls the flag of a commander error such as "error: unknown option '-O'"
 * (a value after `=` ignored); undefined for any other error or a flag no peer has.
 */
export function peerFlagHint(error: string): string | undefined {
  const flag = /unknown option '([^'=]+)/.exec(error)?.[1];
  return flag === undefined ? undefined : PEER_FLAGS[flag];
}

/** `-c URL` (or a host, `-c example.com/a.iso`): wget's and aria2c's -c (continue) took the URL as rangeget's connection count. */
export function continueHint(connections: string): string | undefined {
  const urlLike = connections.includes('/') || /^[\w-]+(\.[\w-]+)+(:\d+)?$/.test(connections);
  return urlLike && /[a-z]/i.test(connections)
    ? `-c takes a number of connections (rangeget's -c is --connections), not '${connections}'; wget's and aria2c's -c, which finishes a partial file, is rangeget's --continue`
    : undefined;
}
