/**
 * The command line: options and display over the library. No download logic lives here.
 */
import { Command, CommanderError, Option } from 'commander';
import { runDemo } from './demo.js';
import { download } from './download.js';
import { ExitCode, RangegetError, UsageError } from './errors.js';
import { MAX_CONNECTIONS, VERSION, type DownloadOptions } from './options.js';
import { parseDuration, parseHeader, parseIntInRange, parseSize } from './parse.js';
import { Display, type DisplayMode, type DisplayStreams } from './progress.js';

/** Raw option values as commander gives them. */
interface RawOptions {
  output?: string;
  dir?: string;
  connections?: string;
  threads?: string;
  minRange?: string;
  checksum?: string;
  header: string[];
  userAgent?: string;
  user?: string;
  overwrite?: boolean;
  resume: boolean;
  restart: boolean;
  retries?: string;
  retryWait?: string;
  timeout?: string;
  maxRedirects?: string;
  maxSpeed?: string;
  insecure?: boolean;
  caCert?: string;
  proxy?: string;
  quiet?: boolean;
  json?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Turn flags into library options; every bad value is a {@link UsageError}. */
export function toDownloadOptions(raw: RawOptions, env: NodeJS.ProcessEnv = process.env): DownloadOptions {
  const options: DownloadOptions = {
    headers: raw.header.map(parseHeader),
    overwrite: raw.overwrite ?? false,
    resume: raw.resume,
    restart: raw.restart,
  };
  if (raw.output !== undefined) options.output = raw.output;
  if (raw.dir !== undefined) options.dir = raw.dir;
  if (raw.connections !== undefined) options.connections = parseIntInRange(raw.connections, '-c', 1, MAX_CONNECTIONS);
  if (raw.threads !== undefined) options.threads = parseIntInRange(raw.threads, '--threads', 1, MAX_CONNECTIONS);
  if (raw.minRange !== undefined) {
    options.minRangeSize = parseSize(raw.minRange, '--min-range');
    if (options.minRangeSize < 1) throw new UsageError('--min-range: must be at least 1 byte');
  }
  if (raw.checksum !== undefined) options.checksum = raw.checksum;
  if (raw.userAgent !== undefined) options.userAgent = raw.userAgent;
  const user = raw.user ?? env.RANGEGET_USER;
  if (user !== undefined) options.user = user;
  if (raw.retries !== undefined) options.retries = parseIntInRange(raw.retries, '--retries', 0, 1000);
  if (raw.retryWait !== undefined) options.retryWait = parseDuration(raw.retryWait, '--retry-wait');
  if (raw.timeout !== undefined) options.timeout = parseDuration(raw.timeout, '--timeout');
  if (raw.maxRedirects !== undefined) options.maxRedirects = parseIntInRange(raw.maxRedirects, '--max-redirects', 0, 100);
  if (raw.maxSpeed !== undefined) {
    options.maxSpeed = parseSize(raw.maxSpeed, '--max-speed');
    if (options.maxSpeed < 1) throw new UsageError('--max-speed: must be more than 0 (examples: 500K, 2M)');
  }
  if (raw.insecure) options.insecure = true;
  if (raw.caCert !== undefined) options.caCert = raw.caCert;
  if (raw.proxy !== undefined) options.proxy = raw.proxy;
  return options;
}

function displayMode(raw: RawOptions, streams: CliStreams): DisplayMode {
  if (raw.json) return 'json';
  if (raw.quiet) return 'quiet';
  return streams.isTTY ? 'bar' : 'plain';
}

/** Streams and terminal facts the CLI runs with. */
export interface CliStreams extends DisplayStreams {
  /** Bars only when both stdout and stderr are terminals and NO_COLOR/TERM=dumb do not say otherwise. */
  isTTY: boolean;
}

function buildProgram(streams: CliStreams, run: (urls: string[], raw: RawOptions) => Promise<number>): Command {
  const program = new Command();
  let result = 0;
  program
    .name('rangeget')
    .description('Download a file over several HTTP connections at once; resumable and verified.')
    .usage('[options] <url>')
    .argument('[url]', 'http or https URL to download')
    .option('-o, --output <file>', 'save as this file (default: name from the server or the URL)')
    .option('-d, --dir <dir>', 'save into this directory, created if missing (default: current directory)')
    .option('-c, --connections <n>', `connections at once, 1-${MAX_CONNECTIONS} (default: 8)`)
    .option('--threads <n>', 'worker threads that drive the connections (default: 2, at most the connections)')
    .option('--min-range <size>', 'smallest byte range per connection, e.g. 512K, 4M (default: 1M)')
    .option('--checksum <algo=hex>', 'verify the file: sha256, sha1, md5 or sha512, e.g. sha256=9f86d0...')
    .option('-H, --header <header>', "extra request header 'Name: value' (repeatable)", collect, [])
    .option('--user-agent <ua>', 'User-Agent header (default: rangeget/VERSION)')
    .option('--user <user[:password]>', 'basic-auth credentials (default: $RANGEGET_USER)')
    .option('--overwrite', 'replace an existing file at the output path')
    .option('--no-resume', 'ignore an earlier partial download and start over')
    .option('--no-restart', 'fail instead of starting over when the remote file changed')
    .option('--retries <n>', 'failed attempts in a row before a range gives up (default: 5)')
    .option('--retry-wait <seconds>', 'first retry delay, doubled each time, e.g. 1, 500ms (default: 1)')
    .option('--timeout <seconds>', 'connect, response and stall timeout (default: 30)')
    .option('--max-redirects <n>', 'redirects to follow at most (default: 10)')
    .option('--max-speed <rate>', 'limit the total download rate, e.g. 500K, 2M (K = 1024)')
    .option('--insecure', 'do not verify TLS certificates')
    .option('--ca-cert <file>', 'trust the CA certificates in this PEM file')
    .option('--proxy <url>', 'HTTP proxy (default: $HTTPS_PROXY / $HTTP_PROXY, minus $NO_PROXY)')
    .addOption(new Option('-q, --quiet', 'print nothing but errors').conflicts('json'))
    .option('--json', 'print newline-delimited JSON events on stdout instead of bars')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show this help')
    .addHelpText(
      'after',
      `
Commands:
  demo            download from a built-in throttled server on 127.0.0.1 and compare
                  one connection with many (no internet needed)

Exit codes: 0 ok, 2 usage, 3 HTTP error, 4 network, 5 verification failed,
6 local file error, 7 remote file changed, 130 interrupted (SIGINT), 143 (SIGTERM).`,
    )
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => streams.stdout.write(s),
      writeErr: (s) => streams.stderr.write(s),
      outputError: (s, write) => write(`rangeget: ${s.trim()} (see rangeget --help)\n`),
    })
    .action(async (url: string | undefined, raw: RawOptions) => {
      if (url === undefined) {
        throw new UsageError('missing URL (usage: rangeget [options] <url>; see rangeget --help)');
      }
      result = await run([url], raw);
    });
  program
    .command('demo')
    .description('download from a built-in throttled loopback server and compare one connection with many')
    .option('-c, --connections <n>', 'connections for the multi-connection run (default: 8)')
    .action(async (raw: { connections?: string }) => {
      const connections = raw.connections ? parseIntInRange(raw.connections, '-c', 1, MAX_CONNECTIONS) : 8;
      result = await runDemo({ connections, stdout: streams.stdout });
    });
  program.hook('postAction', () => {
    program.setOptionValue('__exit', result);
  });
  return program;
}

/**
 * Run the CLI with `argv` (without `node` and the script). Resolves to the exit code;
 * never calls `process.exit`, so the caller decides.
 */
export async function main(argv: string[], streams: CliStreams, signals: NodeJS.EventEmitter = process): Promise<number> {
  let display: Display | undefined;
  const run = async (urls: string[], raw: RawOptions): Promise<number> => {
    const options = toDownloadOptions(raw);
    display = new Display(displayMode(raw, streams), streams);
    const controller = new AbortController();
    let exitOnSignal: number = ExitCode.sigint;
    let interrupted = 0;
    const onSignal = (code: number) => () => {
      interrupted++;
      exitOnSignal = code;
      // A second Ctrl-C leaves at once: the control file on disk is true at every instant.
      if (interrupted > 1) process.exit(code);
      controller.abort();
    };
    const onInt = onSignal(ExitCode.sigint);
    const onTerm = onSignal(ExitCode.sigterm);
    signals.on('SIGINT', onInt);
    signals.on('SIGTERM', onTerm);
    const shown = display;
    try {
      await download(urls[0]!, { ...options, signal: controller.signal, onEvent: (e) => shown.event(e) });
      return ExitCode.ok;
    } catch (err) {
      if (err instanceof RangegetError && err.code === 'EABORTED') {
        shown.error({ code: err.code, message: 'interrupted; the partial download is kept: run the same command again to resume', exitCode: exitOnSignal });
        return exitOnSignal;
      }
      throw err;
    } finally {
      signals.off('SIGINT', onInt);
      signals.off('SIGTERM', onTerm);
    }
  };

  const program = buildProgram(streams, run);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return Number(program.getOptionValue('__exit') ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with code 0.
      return err.exitCode === 0 ? 0 : ExitCode.usage;
    }
    const e = err instanceof RangegetError ? err : undefined;
    const report = display ?? new Display(argv.includes('--json') ? 'json' : 'plain', streams);
    report.error({
      code: e?.code ?? 'EINTERNAL',
      message: e ? e.message : `unexpected failure: ${(err as Error)?.stack ?? String(err)}`,
      exitCode: e?.exitCode ?? ExitCode.internal,
    });
    return e?.exitCode ?? ExitCode.internal;
  }
}
