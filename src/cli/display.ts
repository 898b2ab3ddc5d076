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
 * - `connections` connections (now in use), reason: `-c auto` added or gave back connections
 * - `warning`  message
 * - `http`     with `-v` only: kind ('request' | 'response' | 'error'), method, url,
 *              status? (response), headers? (request or response headers, names
 *              lower-case, Authorization / Proxy-Authorization / Cookie / Set-Cookie shown
 *              as '***'), message? (error)
 * - `done`     path, url (credentials removed), finalUrl, size, duration, resumed (bytes
 *              that were already on disk), connections (most at once), digest? (hex, when verified),
 *              verified? (algorithm, hex, source: 'checksum' | 'Repr-Digest' | 'Digest',
 *              url? of the answer that carried a server's digest)
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
import path from 'node:path';
import type { BatchItemResult, InspectItemResult } from '../batch.js';
import type { DownloadEvent, Progress } from '../engine/events.js';
import { failureLine, formatBytes, formatHttp, formatPlan, overallLine, progressLine, progressText, summary } from './format.js';
import { Frame, type TerminalStream } from './frame.js';
import { forCli } from '../primitives/wording.js';

/** How the CLI reports. */
export type DisplayMode = 'bar' | 'plain' | 'json' | 'quiet';

/** Where reports go; the CLI passes process streams, tests pass their own. */
export interface DisplayStreams {
  stdout: NodeJS.WritableStream;
  stderr: TerminalStream;
  /** What a streamed download's summary says it went to (default: stdout). */
  streamedTo?: string;
}

/** A running item's bar: its label, file name and last progress. */
interface Running {
  label: string;
  name: string;
  progress: Progress;
}

/**
 * Progress bars on stderr, fitted to the terminal's width at every draw (and drawn again when
 * it is resized): one line per running item; a batch has first a line for the whole (files
 * done, bytes, speed) and names padded to align the bars.
 */
class Bars {
  private readonly frame: Frame;
  private readonly running = new Map<number, Running>();
  /** Items of a batch that ended, and the bytes they fetched. */
  private ended = 0;
  private endedBytes = 0;

  /** `total`: the number of items of a batch; undefined for a single download. */
  constructor(stderr: TerminalStream, private readonly total: number | undefined) {
    this.frame = new Frame(stderr, () => this.render());
  }

  /** Draw the progress of item `index`. */
  draw(index: number, progress: Progress, label: string, file: string): void {
    this.running.set(index, { label, name: path.basename(file), progress });
    this.render();
  }

  /** Item `index` ended, with `bytes` fetched (its size when it succeeded); its bar goes. */
  remove(index: number, bytes?: number): void {
    const item = this.running.get(index);
    this.running.delete(index);
    this.ended++;
    this.endedBytes += bytes ?? item?.progress.downloaded ?? 0;
    if (this.running.size === 0) this.frame.clear();
    else this.render();
  }

  /** Write text on stderr above the bars. */
  write(text: string): void {
    this.frame.write(text);
  }

  /** Take the bars away; gives the cursor back. */
  stop(): void {
    this.running.clear();
    this.frame.clear();
  }

  private render(): void {
    if (this.running.size === 0) return;
    const width = this.frame.width;
    const batch = this.total !== undefined;
    const items = [...this.running.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
    // A batch's lines leave the connection count out: room for the bars of several files.
    const lines = items.map((item) => {
      const text = progressText(item.progress);
      const layout = { label: item.label, name: item.name, nameWidth: batch ? 24 : 0, barWidth: batch ? 20 : 30 };
      return progressLine(layout, batch ? { ...text, conns: '' } : text, width);
    });
    if (batch) {
      const bytes = items.reduce((sum, item) => sum + item.progress.downloaded, this.endedBytes);
      const speed = items.reduce((sum, item) => sum + item.progress.speed, 0);
      lines.unshift(overallLine({ done: this.ended, total: this.total!, bytes, speed }, width));
    }
    this.frame.draw(lines);
  }
}

/**
 * What the CLI shows of one download or of a batch. A single download is a batch of one
 * without `[i/N]` labels and without `index` in JSON: every event takes the same path either
 * way, and only the layout of the bars differs (one wide bar, or one bar per running file).
 */
export class Display {
  private readonly bars: Bars;
  /** Output paths of the items, for the names on a batch's bars. */
  private readonly names = new Map<number, string>();
  private readonly lastJsonProgress = new Map<number, number>();

  /**
   * @param mode How to report: bars, plain lines, JSON lines, or warnings and errors only.
   * @param streams Where to report.
   * @param total The number of items of a batch, for the `[i/N]` labels and `index` in JSON;
   *   left out for a single download.
   */
  constructor(private readonly mode: DisplayMode, private readonly streams: DisplayStreams, private readonly total?: number) {
    this.bars = new Bars(streams.stderr, total);
  }

  /** True for a batch (several URLs or `-i`), even one of a single item. */
  get batch(): boolean {
    return this.total !== undefined;
  }

  /**
   * Report one event of a download.
   * @param index The item's position in the batch; 0 for a single download.
   */
  event(event: DownloadEvent, index = 0): void {
    if (this.mode === 'json') {
      if (event.type === 'progress' && this.throttled(index)) return;
      this.json({ ...event, ...this.where(index) });
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
        this.say(`${label}warning: ${forCli(event.message)}`);
        break;
      case 'resume':
        if (!quiet) this.say(`${label}resuming: ${formatBytes(event.have)} already downloaded, ${formatBytes(event.left)} left`);
        break;
      case 'retry':
        if (!quiet) this.say(`${label}retry ${event.attempt} in ${(event.delay / 1000).toFixed(1)}s: ${forCli(event.reason)}`);
        break;
      case 'connections':
        // The bar shows the count as it changes; a log says why.
        if (this.mode === 'plain') this.say(`${label}connections: ${event.connections} (${event.reason})`);
        break;
      case 'http':
        if (!quiet) this.bars.write(formatHttp(event, label));
        break;
      case 'progress':
        if (this.mode === 'bar') this.bars.draw(index, event, label, this.names.get(index) ?? '');
        break;
      case 'done':
        this.bars.remove(index, event.size);
        if (!quiet) this.bars.write(`${label}${summary(event, this.streams.streamedTo)}\n`);
        break;
    }
  }

  /** An item of a batch has ended. A failure is reported here; a success was, by its `done` event. */
  itemEnd(result: BatchItemResult | InspectItemResult): void {
    if (result.ok) return;
    this.bars.remove(result.index);
    // The CLI's wording of every error (flags, not options): `cliMessage`.
    const { code, cliMessage: message, exitCode } = result.error;
    // An interruption is reported once for the whole batch, not per item.
    if (code === 'EABORTED') return;
    if (this.mode === 'json') this.json({ type: 'error', ...this.where(result.index), url: result.url, code, message, exitCode });
    else this.say(`${this.label(result.index)}error: ${failureLine(result.url, message)}`);
  }

  /** A failure of the whole run, such as a single download's: one line, or a JSON object. */
  error(err: { code?: string; message: string; exitCode?: number }): void {
    this.stop();
    if (this.mode === 'json') this.json({ type: 'error', code: err.code ?? 'EINTERNAL', message: err.message, exitCode: err.exitCode ?? 1 });
    else this.say(`error: ${err.message}`);
  }

  /** The `--dry-run` plan of one item, or its failure. */
  plan(result: InspectItemResult, options: { overwrite?: boolean } = {}): void {
    if (!result.ok) return this.itemEnd(result);
    if (this.mode === 'json') {
      this.json({ type: 'plan', ...this.where(result.index), ...result.inspection });
      return;
    }
    const text = formatPlan(result.inspection, options);
    this.streams.stdout.write(this.batch ? `${this.label(result.index).trimEnd()}\n${text}\n` : text);
  }

  /** The end of a batch: what succeeded, what failed and why. */
  summary(results: ReadonlyArray<BatchItemResult | InspectItemResult>, exitCode: number): void {
    this.stop();
    const failures = results.filter((r): r is Extract<typeof r, { ok: false }> => !r.ok);
    const ok = results.length - failures.length;
    if (this.mode === 'json') {
      const list = failures.map((f) => ({ index: f.index, url: f.url, code: f.error.code, message: f.error.cliMessage, exitCode: f.error.exitCode }));
      this.json({ type: 'summary', total: results.length, ok, failed: failures.length, exitCode, failures: list });
      return;
    }
    if (failures.length === 0) {
      if (this.mode !== 'quiet') this.streams.stderr.write(`rangeget: all ${results.length} downloads ok\n`);
      return;
    }
    const lines = [`rangeget: ${ok} ok, ${failures.length} failed:`];
    for (const f of failures) lines.push(`  ${failureLine(f.url, f.error.cliMessage)}`);
    this.streams.stderr.write(lines.join('\n') + '\n');
  }

  /** A line about the whole run (an interruption), once the bars are gone; shown even with -q, never in JSON. */
  message(text: string): void {
    this.stop();
    if (this.mode !== 'json') this.say(text);
  }

  /**
   * The run was interrupted: a plain line (it is no error), or in JSON the `error` event of
   * code EABORTED.
   */
  interrupted(text: string, exitCode: number): void {
    if (this.mode === 'json') this.error({ code: 'EABORTED', message: text, exitCode });
    else this.message(text);
  }

  /** Take the bars away (at the end, before a line about the whole run, on a second Ctrl-C). */
  stop(): void {
    this.bars.stop();
  }

  /** `[i/N] ` before the lines of an item of a batch; nothing for a single download. */
  private label(index: number): string {
    return this.batch ? `[${index + 1}/${this.total}] ` : '';
  }

  /** `index` in the JSON lines of an item of a batch; nothing for a single download. */
  private where(index: number): { index?: number } {
    return this.batch ? { index } : {};
  }

  /** A `rangeget: ` line on stderr. */
  private say(text: string): void {
    this.bars.write(`rangeget: ${text}\n`);
  }

  private json(value: object): void {
    this.streams.stdout.write(JSON.stringify(value) + '\n');
  }

  /** JSON progress at most twice a second per download: enough for a UI, little for a log. */
  private throttled(index: number): boolean {
    const now = performance.now();
    // A single download counts from the process start, as it always has (none in its first
    // 500 ms); a batch shows each item's first.
    const last = this.lastJsonProgress.get(index) ?? (this.batch ? -Infinity : 0);
    if (now - last < 500) return true;
    this.lastJsonProgress.set(index, now);
    return false;
  }
}
