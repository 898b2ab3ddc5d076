/**
 * What the CLI shows: a progress bar on a terminal, JSON lines with `--json`, a one-line
 * summary otherwise. Display only; the download itself knows nothing of it.
 *
 * rangeget prints no colour at all (so NO_COLOR needs nothing), and bars (the only escape
 * codes it writes) only when both stdout and stderr are terminals.
 *
 * ## `--json`: newline-delimited JSON on stdout
 *
 * One JSON object a line, each with a `type`. Fields marked `?` are left out when they do
 * not apply (JSON has no `undefined`). Sizes and offsets are bytes, times milliseconds.
 * Nothing but these lines goes to stdout, and stderr stays empty, with one exception: a
 * mistake commander finds in the flags themselves (unknown option, missing value,
 * conflicting flags) is one line of text on stderr, exit code 2.
 *
 * In a batch (several URLs, or `-i`), every line of one item also carries `index`: the
 * item's 0-based position (URLs on the command line first, then the input file's, in order).
 *
 * - `probe`    url, finalUrl (after redirects), size?, ranges (the server supports byte
 *              ranges), etag?, lastModified?, path (absolute output path)
 * - `resume`   have (bytes kept from an earlier run), left (bytes still to fetch)
 * - `start`    path, size?, connections, ranges (number of byte ranges planned); again
 *              after a fallback to one connection
 * - `progress` downloaded (bytes in the file so far, resumed ones included), total?, speed
 *              (bytes/s over the last seconds), connections (fetching now), elapsed;
 *              at most 2 a second per download
 * - `retry`    attempt (1, 2, ...), delay (ms before the retry), reason
 * - `warning`  message
 * - `http`     with `-v` only: kind ('request' | 'response' | 'error'), method, url,
 *              status? (response), headers? (request or response headers, names
 *              lower-case, Authorization / Proxy-Authorization / Cookie / Set-Cookie shown
 *              as '***'), message? (error)
 * - `done`     path, url (credentials removed), finalUrl, size, duration, resumed (bytes
 *              that were already on disk), connections, digest? (hex, with --checksum)
 * - `error`    code (EHTTP, ENETWORK, ECHECKSUM, ... see errors.ts), message, exitCode;
 *              the last line of a failed single download; in a batch one per failed
 *              item, with index and url (an item stopped by Ctrl-C gets none: the
 *              summary lists it with code EABORTED)
 * - `summary`  batch only, the last line: total, ok, failed (counts), exitCode, failures
 *              (array of { index, url, code, message, exitCode })
 * - `plan`     `--dry-run` only, one per URL instead of all the above: url, finalUrl,
 *              size?, ranges (array of { start, end }, end exclusive; end is
 *              9007199254740991 when the size is unknown), rangeSupport, resumable,
 *              reason? (why not ranged or not resumable), etag?, lastModified?, path,
 *              exists (something is at path already), have (bytes an earlier run left that
 *              would be kept)
 */
import { createRequire } from 'node:module';
import type { MultiBar, SingleBar } from 'cli-progress';
import type { BatchItemResult, InspectItemResult } from './batch.js';
import type { DownloadEvent, Progress } from './events.js';
import { barName, barPayload, formatBytes, formatHttp, formatPlan, summary } from './format.js';

const require = createRequire(import.meta.url);
let cliProgress: typeof import('cli-progress') | undefined;
/** cli-progress, loaded when the first bar is drawn: runs without bars (-q, --json, no terminal) never load it. */
function bars(): typeof import('cli-progress') {
  return (cliProgress ??= require('cli-progress') as typeof import('cli-progress'));
}

/** How the CLI reports. */
export type DisplayMode = 'bar' | 'plain' | 'json' | 'quiet';

/** Where reports go; the CLI passes process streams, tests pass their own. */
export interface DisplayStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Display of one download. */
export class Display {
  private bar: SingleBar | undefined;
  private lastJsonProgress = 0;

  constructor(
    private readonly mode: DisplayMode,
    private readonly streams: DisplayStreams,
    /** Prefix for plain lines, to tell downloads of a batch apart. */
    private readonly label = '',
  ) {}

  /** Handle one event of the download. */
  event(event: DownloadEvent): void {
    if (this.mode === 'json') {
      // Progress at most twice a second: enough for a UI, little for a log.
      if (event.type === 'progress') {
        const now = performance.now();
        if (now - this.lastJsonProgress < 500) return;
        this.lastJsonProgress = now;
      }
      this.json(event);
      return;
    }
    switch (event.type) {
      case 'warning':
        this.message(`warning: ${event.message}`);
        break;
      case 'resume':
        this.message(`resuming: ${formatBytes(event.have)} already downloaded, ${formatBytes(event.left)} left`);
        break;
      case 'retry':
        if (this.mode !== 'quiet') this.message(`retry ${event.attempt} in ${(event.delay / 1000).toFixed(1)}s: ${event.reason}`);
        break;
      case 'http':
        if (this.mode !== 'quiet') {
          this.stopBar();
          this.streams.stderr.write(formatHttp(event, this.label));
        }
        break;
      case 'progress':
        this.progress(event);
        break;
      case 'done':
        this.stopBar();
        if (this.mode !== 'quiet') this.streams.stderr.write(`${this.label}${summary(event)}\n`);
        break;
      default:
        break;
    }
  }

  /** Report a failure (one line, or a JSON object). */
  error(err: { code?: string; message: string; exitCode?: number }): void {
    this.stopBar();
    if (this.mode === 'json') {
      this.json({ type: 'error', code: err.code ?? 'EINTERNAL', message: err.message, exitCode: err.exitCode ?? 1 });
    } else {
      this.streams.stderr.write(`rangeget: ${this.label}error: ${err.message}\n`);
    }
  }

  /** A line for the user (not in JSON mode, where events carry everything). */
  message(text: string): void {
    if (this.mode === 'json') return;
    if (this.mode === 'quiet' && !text.startsWith('warning')) return;
    if (this.bar) this.bar.stop();
    this.bar = undefined;
    this.streams.stderr.write(`rangeget: ${this.label}${text}\n`);
  }

  stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  private json(value: object): void {
    this.streams.stdout.write(JSON.stringify(value) + '\n');
  }

  private progress(p: Progress): void {
    if (this.mode !== 'bar') return;
    const total = p.total ?? 0;
    const payload = barPayload(p);
    if (!this.bar) {
      this.bar = new (bars().SingleBar)(
        {
          format: `${this.label}{bar} {percentage}% | {have}/{size} | {speed} | ETA {left} | {conns} conn`,
          stream: this.streams.stderr,
          hideCursor: true,
          clearOnComplete: true,
          barsize: 30,
          fps: 10,
        },
        bars().Presets.shades_classic,
      );
      this.bar.start(Math.max(total, 1), p.downloaded, payload);
    }
    this.bar.setTotal(Math.max(total, p.downloaded, 1));
    this.bar.update(p.downloaded, payload);
  }
}

/**
 * Display of a batch: one bar per running file on a terminal (a cli-progress MultiBar, a
 * line above the bars for each file that ends), one line per file otherwise, JSON lines
 * with an `index` in `json` mode, and a summary at the end.
 */
export class BatchDisplay {
  private multibar: MultiBar | undefined;
  private readonly bars = new Map<number, SingleBar>();
  private readonly names = new Map<number, string>();
  private readonly lastJsonProgress = new Map<number, number>();

  constructor(
    private readonly mode: DisplayMode,
    private readonly streams: DisplayStreams,
    /** Number of items, for the `[i/N]` labels. */
    private readonly total: number,
    /** False for a single URL (`--dry-run` of one URL): no labels, no `index` in JSON. */
    private readonly batch = true,
  ) {}

  private label(index: number): string {
    return this.batch ? `[${index + 1}/${this.total}] ` : '';
  }

  /** A line on stderr, above the bars when they run. */
  private line(text: string): void {
    if (this.multibar) {
      this.multibar.log(text);
      this.multibar.update();
    } else {
      this.streams.stderr.write(text);
    }
  }

  private json(value: object): void {
    this.streams.stdout.write(JSON.stringify(value) + '\n');
  }

  /** One event of item `index`. */
  event(event: DownloadEvent, index: number): void {
    if (this.mode === 'json') {
      if (event.type === 'progress') {
        const now = performance.now();
        if (now - (this.lastJsonProgress.get(index) ?? -Infinity) < 500) return;
        this.lastJsonProgress.set(index, now);
      }
      this.json({ ...event, index });
      return;
    }
    const label = this.label(index);
    const quiet = this.mode === 'quiet';
    switch (event.type) {
      case 'probe':
      case 'start':
        this.names.set(index, event.path);
        break;
      case 'warning':
        this.line(`rangeget: ${label}warning: ${event.message}\n`);
        break;
      case 'resume':
        if (!quiet) this.line(`rangeget: ${label}resuming: ${formatBytes(event.have)} already downloaded, ${formatBytes(event.left)} left\n`);
        break;
      case 'retry':
        if (!quiet) this.line(`rangeget: ${label}retry ${event.attempt} in ${(event.delay / 1000).toFixed(1)}s: ${event.reason}\n`);
        break;
      case 'http':
        if (!quiet) this.line(formatHttp(event, label));
        break;
      case 'progress':
        this.progress(event, index);
        break;
      case 'done':
        this.removeBar(index);
        if (!quiet) this.line(`${label}${summary(event)}\n`);
        break;
      default:
        break;
    }
  }

  /** An item has finished or failed. */
  itemEnd(result: BatchItemResult | InspectItemResult): void {
    if (result.ok) return;
    this.removeBar(result.index);
    const { error } = result;
    // An interruption is reported once for the whole batch, not per item.
    if (error.code === 'EABORTED') return;
    if (this.mode === 'json') {
      this.json({ type: 'error', index: result.index, url: result.url, code: error.code, message: error.message, exitCode: error.exitCode });
    } else {
      this.line(`rangeget: ${this.label(result.index)}error: ${result.url}: ${error.message}\n`);
    }
  }

  /** The `--dry-run` plan of one item. */
  plan(result: InspectItemResult, options: { overwrite?: boolean } = {}): void {
    if (!result.ok) return this.itemEnd(result);
    if (this.mode === 'json') {
      this.json({ type: 'plan', ...(this.batch ? { index: result.index } : {}), ...result.inspection });
      return;
    }
    const text = formatPlan(result.inspection, options);
    this.streams.stdout.write(this.batch ? `${this.label(result.index).trimEnd()}\n${text}\n` : text);
  }

  /** The end of the batch: what succeeded, what failed and why. */
  summary(results: ReadonlyArray<BatchItemResult | InspectItemResult>, exitCode: number): void {
    this.stop();
    const failures = results.filter((r): r is Extract<typeof r, { ok: false }> => !r.ok);
    const ok = results.length - failures.length;
    if (this.mode === 'json') {
      this.json({
        type: 'summary',
        total: results.length,
        ok,
        failed: failures.length,
        exitCode,
        failures: failures.map((f) => ({ index: f.index, url: f.url, code: f.error.code, message: f.error.message, exitCode: f.error.exitCode })),
      });
      return;
    }
    if (failures.length === 0) {
      if (this.mode !== 'quiet') this.streams.stderr.write(`rangeget: all ${results.length} downloads ok\n`);
      return;
    }
    const lines = [`rangeget: ${ok} ok, ${failures.length} failed:`];
    for (const f of failures) lines.push(`  ${f.url}: ${f.error.message} (${f.error.code})`);
    this.streams.stderr.write(lines.join('\n') + '\n');
  }

  /** A message for the whole batch (an interruption), above any bar. */
  message(text: string): void {
    this.stop();
    if (this.mode === 'json') return;
    this.streams.stderr.write(`rangeget: ${text}\n`);
  }

  /** Stop the bars (at the end, and before a message for the whole batch). */
  stop(): void {
    if (!this.multibar) return;
    this.multibar.stop();
    this.multibar = undefined;
    this.bars.clear();
  }

  private removeBar(index: number): void {
    const bar = this.bars.get(index);
    if (!bar || !this.multibar) return;
    this.bars.delete(index);
    this.multibar.remove(bar);
    // No bar left: end the bars, so that lines go straight to stderr until the next one.
    if (this.bars.size === 0) this.stop();
  }

  private progress(p: Progress, index: number): void {
    if (this.mode !== 'bar') return;
    this.multibar ??= new (bars().MultiBar)(
      {
        format: `{label}{name} {bar} {percentage}% | {have}/{size} | {speed} | ETA {left}`,
        stream: this.streams.stderr,
        hideCursor: true,
        clearOnComplete: true,
        barsize: 20,
        fps: 10,
      },
      bars().Presets.shades_classic,
    );
    const payload = { ...barPayload(p), label: this.label(index), name: barName(this.names.get(index) ?? '', 24) };
    const total = Math.max(p.total ?? 0, p.downloaded, 1);
    const bar = this.bars.get(index);
    if (!bar) {
      this.bars.set(index, this.multibar.create(total, p.downloaded, payload));
      return;
    }
    bar.setTotal(total);
    bar.update(p.downloaded, payload);
  }
}
