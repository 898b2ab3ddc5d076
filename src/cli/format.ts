/**
 * Text the CLI prints: sizes, durations, the line of a finished download, `-v` traffic,
 * `--dry-run` plans and the fields of a progress bar. Pure functions; the display decides
 * where and when they go.
 */
import path from 'node:path';
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
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Seconds as `1m05s` / `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One line that says what was saved, how big and how fast. */
export function summary(result: DownloadResult): string {
  const seconds = result.duration / 1000;
  const fetched = result.size - result.resumed;
  const speed = seconds > 0 ? fetched / seconds : 0;
  const parts = [
    `saved ${result.path} (${formatBytes(result.size)})`,
    `in ${seconds.toFixed(1)}s`,
    `${formatBytes(speed)}/s`,
    `${result.connections} connection${result.connections === 1 ? '' : 's'}`,
  ];
  if (result.resumed > 0) parts.push(`${formatBytes(result.resumed)} resumed`);
  if (result.digest) parts.push(`checksum ok`);
  return parts.join(', ');
}

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

/** The fields of a progress bar: sizes, speed and time left, as text. */
export function barPayload(p: Progress): Record<string, string | number> {
  return {
    have: formatBytes(p.downloaded),
    size: p.total === undefined ? '?' : formatBytes(p.total),
    speed: `${formatBytes(p.speed)}/s`,
    // Not 'eta': cli-progress fills {eta} itself (whole seconds, 'INF') and that wins over a payload field.
    left: p.total !== undefined && p.speed > 0 ? formatDuration((p.total - p.downloaded) / p.speed) : '--',
    conns: p.connections,
  };
}

/** A short display name for a bar: the file name, at most `width` characters. */
export function barName(file: string, width: number): string {
  const name = path.basename(file);
  const chars = Array.from(name);
  const short = chars.length > width ? `${chars.slice(0, width - 1).join('')}~` : name;
  return short.padEnd(width);
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
