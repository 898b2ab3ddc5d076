/**
 * The flags: commander's program (options, help, exit codes) and their translation into
 * library options. Every bad value is a {@link UsageError} before anything is sent.
 */
import { Argument, Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { DEFAULT_JOBS, DEFAULT_MAX_CONNECTIONS, MAX_CONNECTIONS, VERSION } from '../constants.js';
import { defaultNetrcPath } from '../netrc.js';
import type { DownloadOptions } from '../options.js';
import { parseDuration, parseHeader, parseIntInRange, parseSize } from '../parse.js';
import { UsageError } from '../primitives/errors.js';
import type { DisplayStreams } from './display.js';
import { continueHint, peerFlagHint } from './habits.js';

/** Raw option values as commander gives them. */
export interface RawOptions {
  output?: string;
  streamWindow?: string;
  dir?: string;
  connections?: string;
  maxConnections?: string;
  threads?: string;
  minRange?: string;
  checksum?: string;
  /** `-M FILE`; false with --no-metalink. */
  metalink?: string | false;
  /** False with --no-server-digest. */
  serverDigest?: boolean;
  header?: string[];
  userAgent?: string;
  user?: string;
  overwrite?: boolean;
  continue?: boolean;
  skipExisting?: boolean;
  timestamping?: boolean;
  /** False with --no-remote-time. */
  remoteTime?: boolean;
  /** False with --no-fsync. */
  fsync?: boolean;
  resume: boolean;
  /** False with --no-netrc. */
  netrc?: boolean;
  netrcFile?: string;
  restart: boolean;
  retries?: string;
  retryWait?: string;
  timeout?: string;
  connectTimeout?: string;
  ipv4?: boolean;
  ipv6?: boolean;
  bind?: string;
  limitRate?: string;
  maxRedirects?: string;
  maxSpeed?: string;
  insecure?: boolean;
  caCert?: string;
  proxy?: string;
  quiet?: boolean;
  json?: boolean;
  inputFile?: string;
  jobs?: string;
  dryRun?: boolean;
  verbose?: boolean;
  referer?: string;
  cookie?: string;
  loadCookies?: string;
  mirror?: string[];
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A header value from a dedicated flag (`--referer`, `--cookie`): one line of bytes. */
function headerValue(value: string, flag: string): string {
  const v = value.trim();
  if (v === '') throw new UsageError(`${flag}: the value is empty`);
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(v)) throw new UsageError(`${flag}: the value must not contain CR, LF or other control characters`);
  if (/[^\u0000-\u00ff]/.test(v)) throw new UsageError(`${flag}: the value has characters that cannot be sent in an HTTP header; percent-encode them`);
  return v;
}

/** Turn flags into library options; every bad value is a {@link UsageError}. */
export function toDownloadOptions(raw: RawOptions, env: NodeJS.ProcessEnv = process.env): DownloadOptions {
  const headers: Array<[string, string]> = (raw.header ?? []).map(parseHeader);
  // After -H, so that the dedicated flags win over a -H of the same header.
  if (raw.referer !== undefined) headers.push(['Referer', headerValue(raw.referer, '--referer')]);
  if (raw.cookie !== undefined) {
    const cookie = headerValue(raw.cookie, '--cookie');
    if (!cookie.includes('=')) {
      throw new UsageError("--cookie: expected 'name=value' or 'a=b; c=d' (for a cookies.txt file, use --load-cookies FILE)");
    }
    headers.push(['Cookie', cookie]);
  }
  const options: DownloadOptions = {
    headers,
    overwrite: raw.overwrite ?? false,
    resume: raw.resume,
    restart: raw.restart,
  };
  if (raw.netrcFile !== undefined) {
    if (raw.netrc === false) throw new UsageError('--netrc-file and --no-netrc exclude each other; give one');
    options.netrc = raw.netrcFile;
  } else if (raw.netrc !== false) {
    // Read by default, as wget and aria2c do; a missing file is no credentials.
    const path = defaultNetrcPath(env);
    if (existsSync(path)) options.netrc = path;
  }
  if (raw.remoteTime === false) options.remoteTime = false;
  if (raw.fsync === false) options.fsync = false;
  if (raw.continue) options.continue = true;
  if (raw.skipExisting) options.skipExisting = true;
  if (raw.timestamping) options.timestamping = true;
  if (raw.output !== undefined) options.output = raw.output;
  if (raw.dir !== undefined) options.dir = raw.dir;
  if (raw.connections !== undefined) {
    const hint = continueHint(raw.connections);
    if (hint) throw new UsageError(hint);
    options.connections = raw.connections === 'auto' ? 'auto' : parseIntInRange(raw.connections, '-c', 1, MAX_CONNECTIONS);
  }
  if (raw.maxConnections !== undefined) options.maxConnections = parseIntInRange(raw.maxConnections, '--max-connections', 1, MAX_CONNECTIONS);
  if (raw.threads !== undefined) options.threads = parseIntInRange(raw.threads, '--threads', 1, MAX_CONNECTIONS);
  if (raw.minRange !== undefined) {
    options.minRangeSize = parseSize(raw.minRange, '--min-range');
    if (options.minRangeSize < 1) throw new UsageError('--min-range: must be at least 1 byte');
  }
  if (raw.loadCookies !== undefined) options.cookieFile = raw.loadCookies;
  if (raw.checksum !== undefined) options.checksum = raw.checksum;
  if (raw.serverDigest === false) options.serverDigest = false;
  if (raw.metalink === false) options.metalink = false;
  if (raw.userAgent !== undefined) options.userAgent = raw.userAgent;
  const user = raw.user ?? env.RANGEGET_USER;
  if (user !== undefined) options.user = user;
  if (raw.retries !== undefined) options.retries = parseIntInRange(raw.retries, '--retries', 0, 1000);
  if (raw.retryWait !== undefined) options.retryWait = parseDuration(raw.retryWait, '--retry-wait');
  if (raw.timeout !== undefined) options.timeout = parseDuration(raw.timeout, '--timeout');
  if (raw.maxRedirects !== undefined) options.maxRedirects = parseIntInRange(raw.maxRedirects, '--max-redirects', 0, 100);
  if (raw.connectTimeout !== undefined) options.connectTimeout = parseDuration(raw.connectTimeout, '--connect-timeout');
  if (raw.ipv4 && raw.ipv6) throw new UsageError('-4 and -6 exclude each other; give one');
  if (raw.ipv4) options.family = 4;
  if (raw.ipv6) options.family = 6;
  if (raw.bind !== undefined) options.localAddress = raw.bind;
  if (raw.maxSpeed !== undefined && raw.limitRate !== undefined) throw new UsageError('--limit-rate is --max-speed: give one');
  const speed = raw.maxSpeed ?? raw.limitRate;
  if (speed !== undefined) {
    const flag = raw.maxSpeed !== undefined ? '--max-speed' : '--limit-rate';
    options.maxSpeed = parseSize(speed, flag);
    if (options.maxSpeed < 1) throw new UsageError(`${flag}: must be more than 0 (examples: 500K, 2M)`);
  }
  if (raw.insecure) options.insecure = true;
  if (raw.caCert !== undefined) options.caCert = raw.caCert;
  if (raw.proxy !== undefined) options.proxy = raw.proxy;
  if (raw.mirror?.length) options.mirrors = raw.mirror;
  if (raw.verbose) options.trace = true;
  return options;
}

/** Streams and terminal facts the CLI runs with. */
export interface CliStreams extends DisplayStreams {
  /** Bars only when both stdout and stderr are terminals and TERM=dumb does not say otherwise. */
  isTTY: boolean;
  /** The environment ($RANGEGET_USER, $NETRC, $HOME ...); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Where `-i -` reads the URL list; default `process.stdin`. */
  stdin?: NodeJS.ReadableStream;
}

/** The end of `--help` (and the man page's EXAMPLES): what people type most. */
const EXAMPLES = `
Examples:
  rangeget https://example.com/big.iso      connections chosen by speed, name from the server
  rangeget -c 16 -o debian.iso URL          16 connections, saved as debian.iso
  rangeget --checksum sha256=9f86d0... URL  verified before it is saved
  rangeget URL                              run again after Ctrl-C: it resumes
  rangeget -i urls.txt -j 4 -d downloads    a list, 4 at a time, into downloads/
  rangeget --mirror URL2 URL                ranges spread over URL and URL2
  rangeget -c 16 -o - URL | tar x           16 connections, in order, into tar
  rangeget -M files.meta4 -d downloads      the files of a metalink, pieces checked
  rangeget --dry-run URL                    size, ranges, path; no download`;

/** The program: `run` is called with the URLs and raw flags; `demo` is its subcommand. */
export function buildProgram(streams: CliStreams, run: (urls: string[], raw: RawOptions) => Promise<number>): Command {
  const program = new Command();
  let result = 0;
  program
    .name('rangeget')
    .description('Download files over several HTTP connections each; resumable and verified.')
    .usage('[options] <url...>')
    .argument('[url...]', 'http or https URLs to download')
    .option('-o, --output <file>', "save as this file (one URL only; default: name from the server or the URL); '-' streams to stdout; a FIFO or a device such as /dev/null is streamed into, not replaced")
    .option('--stream-window <size>', 'with -o -: how far connections fetch ahead of the reader, held in a temporary file (default: 64M)')
    .option('-d, --dir <dir>', 'save into this directory, created if missing (default: current directory)')
    .option('-i, --input-file <file>', "download the URLs listed in this file, '-' for stdin (format below)")
    .option('-j, --jobs <n>', `files downloaded at once, each with its own connections (default: ${DEFAULT_JOBS})`)
    .option('-c, --connections <n|auto>', `connections at once per file, 1-${MAX_CONNECTIONS}, or auto: start with 16 (at most --max-connections), add more while the speed rises (default: auto)`)
    .option('--max-connections <n>', `the most connections -c auto uses per file, 1-${MAX_CONNECTIONS} (default: ${DEFAULT_MAX_CONNECTIONS})`)
    .option('--threads <n>', 'worker threads that drive the connections (default: 1, at most the connections)')
    .option('--min-range <size>', 'smallest byte range per connection, e.g. 512K, 4M (default: 1M; a small file on a path of 5 ms or more: down to 64K)')
    .option('--checksum <algo=hex>', 'verify the file: sha256, sha1, md5 or sha512, e.g. sha256=9f86d0...')
    .option('--no-server-digest', "do not ask for or verify the server's digest of the file (Repr-Digest, Digest)")
    .option('-M, --metalink <file|url>', 'download the files a Metalink 4 document (.meta4, a file or an http(s) URL) lists, from its URLs, checked against its hashes and piece hashes')
    .option('--no-metalink', 'save a URL that answers with a metalink as it is, instead of the file it lists')
    .option('--mirror <url>', 'another URL of the same file (repeatable): ranges are spread over all; one that fails is dropped', collect)
    .option('--dry-run', 'probe and print the plan (size, ranges, resumable, output path) without downloading')
    .option('-H, --header <header>', "extra request header 'Name: value' (repeatable)", collect)
    .option('--user-agent <ua>', 'User-Agent header (default: rangeget/VERSION)')
    .option('--referer <url>', 'Referer header')
    .option('--cookie <cookies>', "Cookie header, e.g. 'a=b; c=d' (sent only to the URL's origin)")
    .option('--load-cookies <file>', 'send the cookies of this Netscape cookies.txt file where their domain, path, secure flag and expiry allow')
    .option('--user <user[:password]>', "basic-auth credentials, sent only to the URL's origin (default: $RANGEGET_USER)")
    .option('--netrc-file <file>', 'read credentials from this .netrc file (default: $NETRC or ~/.netrc)')
    .option('--no-netrc', 'do not read credentials from ~/.netrc')
    .option('--overwrite', 'replace an existing file at the output path')
    .option('--continue', "finish a file already at the output path; a complete one is left as it is (wget -c, aria2c -c; rangeget's -c is --connections)")
    .option('--skip-existing', 'leave any file already at the output path alone and succeed (wget -nc)')
    .option('-N, --timestamping', 'fetch only when the remote file is newer than the local one (If-Modified-Since; wget -N, curl -z)')
    .option('--no-remote-time', "do not give the saved file the remote Last-Modified as its time")
    .option('--no-fsync', 'do not wait for the disk: the control file claims what the kernel has taken (safe from a kill, not from a power cut), as with aria2c, curl and wget')
    .option('--no-resume', 'ignore an earlier partial download and start over')
    .option('--no-restart', 'fail instead of starting over when the remote file changed')
    .option('--retries <n>', 'failed attempts in a row before a range gives up (default: 5)')
    .option('--retry-wait <seconds>', 'first retry delay, doubled each time, e.g. 1, 500ms (default: 1)')
    .option('--timeout <seconds>', 'connect, response and stall timeout (default: 30)')
    .option('--connect-timeout <seconds>', 'time to establish a connection, TLS included (default: --timeout)')
    .option('-4, --ipv4', 'connect over IPv4 only')
    .option('-6, --ipv6', 'connect over IPv6 only')
    .option('--bind <address>', 'local IP address to connect from')
    .option('--max-redirects <n>', 'redirects to follow at most (default: 10)')
    .option('--max-speed <rate>', 'limit the total download rate, shared by all connections and files, e.g. 500K, 2M (K = 1024)')
    .option('--limit-rate <rate>', 'the same as --max-speed (curl, wget)')
    .option('--insecure', 'do not verify TLS certificates')
    .option('--ca-cert <file>', 'trust the CA certificates in this PEM file')
    .option('--proxy <url>', 'HTTP proxy (default: $HTTPS_PROXY / $HTTP_PROXY, minus $NO_PROXY)')
    .option('--no-config', 'do not read the configuration file ($RANGEGET_CONFIG or ~/.config/rangeget/config)')
    .addOption(new Option('-q, --quiet', 'print nothing but errors and warnings').conflicts(['json', 'verbose']))
    .option('-v, --verbose', 'print every request and response with its headers (credentials masked) on stderr')
    .option('--json', 'print newline-delimited JSON events on stdout instead of bars')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show this help')
    .addHelpText(
      'after',
      `
Input file (-i), aria2's format: one URL a line; lines that start with a space or
a tab hold options of the URL above them; blank lines and # comments are skipped.
  https://example.com/a.iso
    out=a-renamed.iso        save as this name (relative to -d or dir=)
    dir=isos                 save into this directory instead of -d
    checksum=sha256=9f86...  verify this file
  https://example.com/b.iso

Credentials: --user, user:password@ in the URL, or $RANGEGET_USER (keeps the
secret off the command line). Authorization and Cookie never follow a redirect to
another origin. -v shows them as ***.

Exit codes: 0 ok, 2 usage, 3 HTTP error, 4 network, 5 verification failed,
6 local file error, 7 remote file changed, 8 some downloads of a batch (several
URLs or -i) failed (the summary names each), 130 interrupted (SIGINT), 143 (SIGTERM),
141 the reader of -o - closed the pipe.`,
    )
    .addHelpText('after', EXAMPLES)
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => streams.stdout.write(s),
      writeErr: (s) => streams.stderr.write(s),
      outputError: (s, write) => {
        const peer = peerFlagHint(s);
        write(`rangeget: ${s.trim()}${peer ? `: ${peer}` : ''} (see rangeget --help)\n`);
      },
    })
    .action(async (urls: string[], raw: RawOptions) => {
      result = await run(urls, raw);
    });
  program
    .command('demo')
    .description('download from a built-in throttled server on 127.0.0.1 and compare one connection with many (no internet needed)')
    .option('-c, --connections <n>', 'connections for the multi-connection run (default: 8)')
    .action(async (raw: { connections?: string }) => {
      const connections = raw.connections ? parseIntInRange(raw.connections, '-c', 1, MAX_CONNECTIONS) : 8;
      // Loaded here: the demo loads the engine, which --help and --version never need.
      const { runDemo } = await import('./demo.js');
      result = await runDemo({ connections, stdout: streams.stdout });
    });
  program
    .command('completion')
    .description('print the shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText('after', '\nbash: source <(rangeget completion bash)   zsh: source <(rangeget completion zsh)\nfish: rangeget completion fish | source   (or save the script where your shell looks)\n')
    .action(async (shell: 'bash' | 'zsh' | 'fish') => {
      const { completionScript } = await import('./completion.js');
      streams.stdout.write(completionScript(shell, program));
    });
  program.hook('postAction', () => {
    program.setOptionValue('__exit', result);
  });
  return program;
}

