/**
 * The command line: flags and display over the library. No download logic lives here.
 */
import { CommanderError } from 'commander';
import { MAX_CONNECTIONS } from '../constants.js';
import { parseIntInRange } from '../parse.js';
import { AbortError, ExitCode, RangegetError } from '../primitives/errors.js';
import type { Display, DisplayMode } from './display.js';
import { buildProgram, toDownloadOptions, type CliStreams, type RawOptions } from './flags.js';


function displayMode(raw: RawOptions, streams: CliStreams): DisplayMode {
  if (raw.json) return 'json';
  if (raw.quiet) return 'quiet';
  // -v prints requests as they happen; a bar redrawn between them would only garble both.
  return streams.isTTY && !raw.verbose ? 'bar' : 'plain';
}

/**
 * Run the CLI with `argv` (without `node` and the script). Resolves to the exit code;
 * never calls `process.exit`, except on a second Ctrl-C, and when `-o -` ends unfinished with
 * bytes its reader never took (cli/stream.ts).
 */
export async function main(argv: string[], streams: CliStreams, signals: NodeJS.EventEmitter = process): Promise<number> {
  let display: Display | undefined;

  const run = async (urls: string[], raw: RawOptions): Promise<number> => {
    // Loaded only for a download: --help, --version and completion load neither the engine nor
    // the display, the input list, the stream or the options' checks (test/docs.test.ts).
    const [{ download, inspect }, { Display }, { collectItems }, { streamFlagProblem, streamTarget, streamToStdout }, { batchInterruption, formatPlan, interruption }] =
      await Promise.all([import('../download.js'), import('./display.js'), import('./input.js'), import('./stream.js'), import('./format.js')]);
    // A batch's functions only for a batch: one URL does not load them.
    const batchApi = () => import('../batch.js');
    const options = toDownloadOptions(raw, streams.env ?? process.env);
    const jobs = raw.jobs !== undefined ? parseIntInRange(raw.jobs, '-j', 1, MAX_CONNECTIONS) : undefined;
    const items = await collectItems(urls, raw, streams.stdin ?? process.stdin, options);
    const batch = items.length > 1 || raw.inputFile !== undefined || typeof raw.metalink === 'string';
    const mode = displayMode(raw, streams);
    // `-o /dev/null` or a named pipe: streamed into, never replaced (cli/stream.ts).
    const into = await streamTarget(raw, batch);
    const streamProblem = streamFlagProblem(raw, batch, into);
    if (streamProblem) throw streamProblem;

    const controller = new AbortController();
    let exitOnSignal: number = ExitCode.sigint;
    let interrupted = 0;
    const onSignal = (code: number) => () => {
      interrupted++;
      exitOnSignal = code;
      // A second Ctrl-C leaves at once: the control file on disk is true at every instant.
      if (interrupted > 1) {
        // Bars hide the cursor; give it back before leaving.
        display?.stop();
        process.exit(code);
      }
      controller.abort();
    };
    const onInt = onSignal(ExitCode.sigint);
    const onTerm = onSignal(ExitCode.sigterm);
    signals.on('SIGINT', onInt);
    signals.on('SIGTERM', onTerm);
    const signal = controller.signal;

    try {
      if (raw.output === '-' || into !== undefined) return await streamToStdout({ url: urls[0]!, raw, options, mode, streams, signal, exitOnSignal: () => exitOnSignal, into });
      if (raw.dryRun) {
        if (!batch) {
          // One URL: a failure is reported like any other single failure, with its own exit code.
          const plan = await inspect(urls[0]!, { ...options, signal }).catch((err: unknown) => {
            if (signal.aborted) return undefined;
            throw err;
          });
          if (plan === undefined) {
            new Display(mode, streams).interrupted('interrupted', exitOnSignal);
            return exitOnSignal;
          }
          if (mode === 'json') streams.stdout.write(JSON.stringify({ type: 'plan', ...plan }) + '\n');
          else streams.stdout.write(formatPlan(plan, { overwrite: options.overwrite ?? false }));
          return ExitCode.ok;
        }
        const { batchExitCode, inspectMany } = await batchApi();
        const shown = new Display(mode === 'bar' ? 'plain' : mode, streams, items.length);
        display = shown;
        const results = await inspectMany(items, { ...options, ...(jobs !== undefined ? { jobs } : {}), signal });
        for (const r of results) shown.plan(r, { overwrite: options.overwrite ?? false });
        const code = signal.aborted ? exitOnSignal : batchExitCode(results);
        if (signal.aborted) shown.message('interrupted');
        shown.summary(results, code);
        return code;
      }

      if (!batch) {
        const single = new Display(mode, streams);
        display = single;
        try {
          await download(urls[0]!, { ...options, signal, onEvent: (e) => single.event(e) });
          return ExitCode.ok;
        } catch (err) {
          if (err instanceof AbortError) {
            single.interrupted(interruption(err), exitOnSignal);
            return exitOnSignal;
          }
          throw err;
        }
      }

      const { batchExitCode, downloadMany } = await batchApi();
      const shown = new Display(mode, streams, items.length);
      display = shown;
      try {
        const results = await downloadMany(items, {
          ...options,
          ...(jobs !== undefined ? { jobs } : {}),
          signal,
          onEvent: (event, index) => shown.event(event, index),
          onItemEnd: (result) => shown.itemEnd(result),
        });
        const code = signal.aborted ? exitOnSignal : batchExitCode(results);
        if (signal.aborted) {
          const aborted = results.flatMap((r) => (!r.ok && r.error instanceof AbortError ? [r.error] : []));
          shown.message(batchInterruption(aborted));
        }
        shown.summary(results, code);
        return code;
      } finally {
        shown.stop();
      }
    } finally {
      signals.off('SIGINT', onInt);
      signals.off('SIGTERM', onTerm);
    }
  };

  const program = buildProgram(streams, run);
  try {
    // The configuration file's flags go first, so the command line's win.
    const skipConfig = argv.some((a) => /^(--no-config|-h|--help|-V|--version)$/.test(a));
    const args = skipConfig ? argv : [...(await import('./config.js')).configArgs(program, streams.env ?? process.env), ...argv];
    await program.parseAsync(args, { from: 'user' });
    return Number(program.getOptionValue('__exit') ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with code 0.
      return err.exitCode === 0 ? 0 : ExitCode.usage;
    }
    const e = err instanceof RangegetError ? err : undefined;
    const { Display } = await import('./display.js');
    const report = display && !display.batch ? display : new Display(argv.includes('--json') ? 'json' : 'plain', streams);
    display?.stop();
    report.error({
      code: e?.code ?? 'EINTERNAL',
      message: e ? e.cliMessage : `unexpected failure: ${(err as Error)?.stack ?? String(err)}`,
      exitCode: e?.exitCode ?? ExitCode.internal,
    });
    return e?.exitCode ?? ExitCode.internal;
  }
}
