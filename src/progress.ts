/**
 * What the CLI shows: a progress bar on a terminal, JSON lines with `--json`, a one-line
 * summary otherwise. Display only; the download itself knows nothing of it.
 */
import cliProgress from 'cli-progress';
import type { DownloadEvent, DownloadResult, Progress } from './events.js';

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

/** How the CLI reports. */
export type DisplayMode = 'bar' | 'plain' | 'json' | 'quiet';

/** Where reports go; the CLI passes process streams, tests pass their own. */
export interface DisplayStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Display of one download (or one line of a batch). */
export class Display {
  private bar: cliProgress.SingleBar | undefined;
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
    const payload = {
      have: formatBytes(p.downloaded),
      size: p.total === undefined ? '?' : formatBytes(p.total),
      speed: `${formatBytes(p.speed)}/s`,
      eta: p.total !== undefined && p.speed > 0 ? formatDuration((p.total - p.downloaded) / p.speed) : '--',
      conns: p.connections,
    };
    if (!this.bar) {
      this.bar = new cliProgress.SingleBar(
        {
          format: `${this.label}{bar} {percentage}% | {have}/{size} | {speed} | ETA {eta} | {conns} conn`,
          stream: this.streams.stderr,
          hideCursor: true,
          clearOnComplete: true,
          barsize: 30,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.max(total, 1), p.downloaded, payload);
    }
    this.bar.setTotal(Math.max(total, p.downloaded, 1));
    this.bar.update(p.downloaded, payload);
  }
}
