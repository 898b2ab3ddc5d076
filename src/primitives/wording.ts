/**
 * One source for the words of both audiences: messages are written once in the command
 * line's words (flags, "run the same command"), and {@link forLibrary} gives the library's
 * (options, "download again"). Pure.
 */

/** Each CLI phrase and flag a message may use, and the library's words for it (longest first where one starts another). */
const LIBRARY_WORDS: ReadonlyArray<readonly [cli: string, library: string]> = [
  ['run the same command again', 'download again with the same options'],
  ['run the same command', 'download again with the same options'],
  ['run again', 'download again'],
  ['run with --no-resume', 'download with `resume: false`'],
  ['--overwrite', '`overwrite: true`'],
  ['--continue', '`continue: true`'],
  ['--skip-existing', '`skipExisting: true`'],
  ['--timestamping', '`timestamping: true`'],
  ['--no-remote-time', '`remoteTime: false`'],
  ['--no-fsync', '`fsync: false`'],
  ['--load-cookies', '`cookieFile`'],
  ['--netrc-file', '`netrc`'],
  ['--max-speed', '`maxSpeed`'],
  ['--stream-window', '`streamWindow`'],
  ['--limit-rate', '`maxSpeed`'],
  ['--connect-timeout', '`connectTimeout`'],
  ['--bind', '`localAddress`'],
  ['--no-restart', '`restart: false`'],
  ['--no-resume', '`resume: false`'],
  ['--ca-cert FILE', '`caCert`'],
  ['--ca-cert', '`caCert`'],
  ['--insecure', '`insecure: true`'],
  ['--max-redirects', '`maxRedirects`'],
  ['--checksum', '`checksum`'],
  ['--no-server-digest', '`serverDigest: false`'],
  ['--no-metalink', '`metalink: false`'],
  ['--metalink', '`downloadMetalink()`'],
  ['--header', '`headers`'],
  ['-H', '`headers`'],
  ['--user', '`user`'],
  ['--proxy', '`proxy`'],
  ['--mirror', '`mirrors`'],
  ['-o', '`output`'],
  ['-d', '`dir`'],
];

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The CLI's words, each only where it stands as a word (not `-o` inside `my-output`). */
const CLI_WORDS = new RegExp(`(?<=^|[\\s(])(${LIBRARY_WORDS.map(([cli]) => escapeRegExp(cli)).join('|')})(?=$|[\\s:;,.)])`, 'g');
const LIBRARY_OF = new Map(LIBRARY_WORDS);

/** A message as the library says it: options (`overwrite: true`) where the CLI names flags (`--overwrite`). */
export function forLibrary(cliMessage: string): string {
  return cliMessage.replace(CLI_WORDS, (word) => LIBRARY_OF.get(word) ?? word);
}

/** The library's words back to the CLI's: the first flag of the table that says each. */
const CLI_OF = new Map<string, string>();
for (const [cli, library] of LIBRARY_WORDS) if (!CLI_OF.has(library)) CLI_OF.set(library, cli);
const LIBRARY_PHRASES = new RegExp(
  [...CLI_OF.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'),
  'g',
);

/**
 * A library message (a warning, a retry's reason) as the CLI prints it: flags where the library
 * names options. The inverse of {@link forLibrary}, from the same table.
 */
export function forCli(libraryMessage: string): string {
  return libraryMessage.replace(LIBRARY_PHRASES, (phrase) => CLI_OF.get(phrase) ?? phrase);
}
