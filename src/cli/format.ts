/**
 * Text the CLI prints: sizes, durations, the line of a finished download, `-v` traffic,
 * `--dry-run` plans and the fields of a progress bar. Pure functions; the display decides
 * where and when they go.
 */
import type { DownloadEvent, DownloadResult, Inspection, Progress } from '../engine/events.js';
import type { AbortedAt } from '../primitives/errors.js';

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  // Whole bytes: a rate below 1 KiB/s is a fraction (3.78 B/s printed as 3.7811081694509676 B/s).
  return unit === 0 ? `${Math.round(bytes)} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Seconds as `1m05s` / `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * A download's time: tenths from a second, hundredths below it, so that a small file's
 * "in 0.0s" does not sit beside its speed (wget prints `in 0.04s` too).
 */
function elapsed(seconds: number): string {
  return seconds >= 1 ? `${seconds.toFixed(1)}s` : `${seconds.toFixed(2)}s`;
}

/** One line that says what was saved (a stream: where it went), how big and how fast. */
export function summary(result: DownloadResult, streamedTo = 'stdout'): string {
  if (result.skipped) return `${result.path}: ${SKIPPED[result.skipped]}`;
  const seconds = result.duration / 1000;
  const fetched = result.size - result.resumed;
  const speed = seconds > 0 ? fetched / seconds : 0;
  const parts = [
    result.path === '-' ? `streamed ${formatBytes(result.size)} to ${streamedTo}` : `saved ${result.path} (${formatBytes(result.size)})`,
    `in ${elapsed(seconds)}`,
    `${formatBytes(speed)}/s`,
    `${result.connections} connection${result.connections === 1 ? '' : 's'}`,
  ];
  if (result.resumed > 0) parts.push(`${formatBytes(result.resumed)} resumed`);
  const source = result.verified?.source;
  if (result.digest) parts.push(source && source !== 'checksum' ? `${result.verified?.algorithm} ok (the server's ${source})` : 'checksum ok');
  return parts.join(', ');
}

/** What a skipped download says: nothing was fetched, and why. */
const SKIPPED: Record<NonNullable<DownloadResult['skipped']>, string> = {
  exists: 'exists; skipped (--skip-existing), nothing fetched',
  complete: 'already complete; nothing fetched',
  'not-modified': 'not modified (the remote file is not newer); nothing fetched',
};

/** What an `http` event carries. */
type HttpEvent = Extract<DownloadEvent, { type: 'http' }>;

/**
 * `-v` lines of one request or response, curl-style, one write so that concurrent
 * connections do not interleave inside it:
 * `> GET URL` / `< 206 GET URL` / `! GET URL: error`, each header on its own line below,
 * indented four spaces.
 */
export function formatHttp(event: HttpEvent, label = ''): string {
  let head: string;
  if (event.kind === 'request') head = `> ${event.method} ${event.url}`;
  else if (event.kind === 'response') head = `< ${event.status ?? '?'} ${event.method} ${event.url}`;
  else head = `! ${event.method} ${event.url}: ${event.message ?? 'failed'}`;
  const lines = [`${label}${head}`];
  for (const [name, value] of Object.entries(event.headers ?? {})) lines.push(`    ${name}: ${value}`);
  return lines.join('\n') + '\n';
}

/** Inclusive byte range text, `0-1048575`, or `0-end` when the size is unknown. */
function rangeText(r: { start: number; end: number }): string {
  return r.end >= Number.MAX_SAFE_INTEGER ? `${r.start}-end` : `${r.start}-${r.end - 1}`;
}

/** `--dry-run` in words: what would be fetched, where it would go, and what is kept. */
export function formatPlan(plan: Inspection, options: { overwrite?: boolean } = {}): string {
  const rows: Array<[string, string]> = [['url', plan.url]];
  if (plan.finalUrl !== plan.url) rows.push(['final url', plan.finalUrl]);
  rows.push(['size', plan.size === undefined ? 'unknown' : `${formatBytes(plan.size)} (${plan.size} bytes)`]);
  rows.push(['ranges', plan.rangeSupport ? 'supported' : `not supported${plan.reason ? `: ${plan.reason}` : ''}`]);
  const bytes = plan.ranges.reduce((sum, r) => sum + (r.end >= Number.MAX_SAFE_INTEGER ? 0 : r.end - r.start), 0);
  const shown = plan.ranges.slice(0, 8).map(rangeText).join(', ');
  const more = plan.ranges.length > 8 ? `, ... (${plan.ranges.length - 8} more)` : '';
  rows.push([
    'plan',
    plan.ranges.length === 0
      ? 'nothing to fetch'
      : `${plan.ranges.length} range${plan.ranges.length === 1 ? '' : 's'}` +
        (plan.size === undefined ? '' : `, ${formatBytes(bytes)} to fetch`) +
        `: ${shown}${more}`,
  ]);
  const validator = plan.etag ? `ETag ${plan.etag}` : plan.lastModified ? `Last-Modified ${plan.lastModified}` : '';
  rows.push([
    'resumable',
    plan.resumable ? `yes (${validator})` : `no${plan.reason ? `: ${plan.reason}` : ''}`,
  ]);
  rows.push([
    'output',
    `${plan.path}${plan.exists ? (options.overwrite ? ' (exists; --overwrite replaces it)' : ' (exists; the download would stop unless --overwrite is given)') : ''}`,
  ]);
  rows.push([
    'kept',
    plan.have > 0
      ? `${formatBytes(plan.have)} (${plan.have} bytes) from an earlier run`
      : 'nothing from an earlier run',
  ]);
  return rows.map(([k, v]) => `${`${k}:`.padEnd(11)}${v}`).join('\n') + '\n';
}

/** Terminal columns a line of text takes: one per code point (names are rarely wide). */
export function columnsOf(text: string): number {
  return Array.from(text).length;
}

/** The numbers of a progress line, as text. */
export interface ProgressText {
  /** `42%`; empty when the size is unknown. */
  percent: string;
  /** `55.0 MiB/256.0 MiB`, or `55.0 MiB` when the size is unknown. */
  bytes: string;
  speed: string;
  /** Time left, `--` when it cannot be told; empty: not shown. */
  left: string;
  /** `8 conn`; empty in a line without connections. */
  conns: string;
  /** Done, 0 to 1, for the bar; undefined when the size is unknown. */
  fraction: number | undefined;
}

/** The numbers of a progress line for `downloaded` of `total` bytes at `speed`. */
export function progressText(p: Pick<Progress, 'downloaded' | 'total' | 'speed'> & { connections?: number }): ProgressText {
  const known = p.total !== undefined && p.total > 0;
  const fraction = known ? Math.min(1, p.downloaded / p.total!) : p.total === 0 ? 1 : undefined;
  return {
    percent: fraction === undefined ? '' : `${Math.floor(fraction * 100)}%`,
    bytes: p.total === undefined ? formatBytes(p.downloaded) : `${formatBytes(p.downloaded)}/${formatBytes(p.total)}`,
    speed: `${formatBytes(p.speed)}/s`,
    left: p.total !== undefined && p.speed > 0 ? formatDuration((p.total - p.downloaded) / p.speed) : '--',
    conns: p.connections === undefined ? '' : `${p.connections} conn`,
    fraction,
  };
}

/** `text` in at most `width` columns, shortened in the middle: `debian-12…amd64.iso`. */
export function shortenMiddle(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  if (width <= 1) return chars.slice(0, Math.max(0, width)).join('');
  const head = Math.ceil((width - 1) / 2);
  return `${chars.slice(0, head).join('')}…${chars.slice(chars.length - (width - 1 - head)).join('')}`;
}

/** A bar of `width` cells, `fraction` of them full. */
function barCells(fraction: number | undefined, width: number): string {
  const full = Math.round((fraction ?? 0) * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/** Narrowest bar worth drawing, and narrowest name worth a bar beside it. */
const BAR_MIN = 8;
const NAME_MIN = 10;

/** How a progress line looks: `[i/N] ` before it, the name, its width when aligned with others, the widest bar. */
export interface LineLayout {
  label: string;
  name: string;
  /** Names are padded or shortened to this width (where there is room), to align the bars of a batch; 0: as long as the name. */
  nameWidth: number;
  barWidth: number;
}

/**
 * One progress line that fits in `width` columns, three less: it never wraps, not even when the
 * terminal echoes `^C` after it (a wrapped line would be left behind by the next erase). As the
 * terminal narrows, the bar shrinks, then the name is shortened in the middle, then the bar
 * goes, then the connection count, then the bytes: percent, speed and time left stay longest.
 */
export function progressLine(layout: LineLayout, text: ProgressText, width: number): string {
  const room = Math.max(0, width - 3);
  const eta = text.left === '' ? '' : `ETA ${text.left}`;
  const choices = [
    [text.percent, text.bytes, text.speed, eta, text.conns],
    [text.percent, text.bytes, text.speed, eta],
    [text.percent, text.speed, eta],
  ];
  for (const parts of choices) {
    const tail = parts.filter((p) => p !== '').join(' | ');
    const free = room - columnsOf(layout.label) - columnsOf(tail);
    if (free >= 0) return `${layout.label}${nameAndBar(layout, text.fraction, free)}${tail}`;
  }
  return Array.from(`${layout.label}${text.percent} ${text.speed}`).slice(0, room).join('');
}

/** The name and the bar in `free` columns, each followed by a space; as much of both as fits. */
function nameAndBar(layout: LineLayout, fraction: number | undefined, free: number): string {
  // Aligned names take their column exactly (a longer one is shortened); a lone name all it needs.
  const name = layout.nameWidth > 0 ? layout.nameWidth : columnsOf(layout.name);
  const bar = (cells: number): string => `${barCells(fraction, cells)} `;
  const shown = (cells: number): string => `${shortenMiddle(layout.name, cells).padEnd(cells)} `;
  if (free >= name + 1 + BAR_MIN + 1) return shown(name) + bar(Math.min(layout.barWidth, free - name - 2));
  if (free >= NAME_MIN + 1 + BAR_MIN + 1) return shown(free - BAR_MIN - 2) + bar(BAR_MIN);
  if (free >= Math.min(name, NAME_MIN) + 1) return shown(Math.min(name, free - 1));
  return '';
}

/** The first line of a batch's bars, the whole batch: files done (the bar), bytes and speed of all. */
export function overallLine(batch: { done: number; total: number; bytes: number; speed: number }, width: number): string {
  const layout = { label: '', name: `${batch.done}/${batch.total} files done`, nameWidth: 0, barWidth: 20 };
  const text = { percent: '', bytes: formatBytes(batch.bytes), speed: `${formatBytes(batch.speed)}/s`, left: '', conns: '', fraction: batch.done / batch.total };
  return progressLine(layout, text, width);
}

/** A failed item in one line: its URL, then what happened, the URL not twice when the message names it. */
export function failureLine(url: string, message: string): string {
  return message.includes(url) ? message : `${url}: ${message}`;
}

/** `55.0 MiB of 256.0 MiB`, or `55.0 MiB` when the size is unknown. */
function howFar(at: Pick<AbortedAt, 'written' | 'size'>): string {
  return `${formatBytes(at.written)}${at.size === undefined ? '' : ` of ${formatBytes(at.size)}`}`;
}

/** After Ctrl-C: exactly what is on disk, and whether the next run can use it. */
export function interruption(at: AbortedAt): string {
  if (at.written === 0) return 'interrupted before any byte was downloaded';
  if (at.resumable) return `interrupted at ${howFar(at)}; run the same command to resume`;
  return (
    `interrupted at ${howFar(at)} (in ${at.partPath}); the server cannot resume this download ` +
    '(no ranges, or no ETag or Last-Modified to confirm the version), so the next run starts over'
  );
}

/** After Ctrl-C in a batch: what the interrupted items left, and what the next run does with it. */
export function batchInterruption(items: readonly AbortedAt[]): string {
  const partial = items.filter((at) => at.written > 0);
  if (partial.length === 0) return 'interrupted; no partial download was left';
  const resumable = partial.filter((at) => at.resumable);
  const parts: string[] = [];
  if (resumable.length > 0) {
    const bytes = resumable.reduce((sum, at) => sum + at.written, 0);
    parts.push(
      `${resumable.length} partial download${resumable.length === 1 ? '' : 's'} kept (${formatBytes(bytes)}): run the same command to resume`,
    );
  }
  const lost = partial.filter((at) => !at.resumable);
  if (lost.length > 0) {
    parts.push(`${lost.map((at) => at.partPath).join(', ')} cannot be resumed (the server cannot resume them) and will start over`);
  }
  return `interrupted; ${parts.join('; ')}`;
}
