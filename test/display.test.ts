/**
 * The progress line fitted to the terminal's width (src/cli/format.ts `progressLine`), the
 * frame redrawn in place and after a resize (src/cli/frame.ts), and the CLI's bar in a real
 * pseudo-terminal of 40, 80 and 120 columns (util-linux `script`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { formatBytes, overallLine, progressLine, progressText, shortenMiddle, summary } from '../src/cli/format.js';
import { Frame } from '../src/cli/frame.js';
import { BIN } from './helpers/cli.js';
import { serve } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const MiB = 1024 * 1024;
const NAME = 'debian-12.7.0-amd64-netinst-with-a-long-name.iso';
const text = progressText({ downloaded: 55 * MiB, total: 256 * MiB, speed: 12.3 * MiB, connections: 8 });
const single = (width: number): string => progressLine({ label: '', name: NAME, nameWidth: 0, barWidth: 30 }, text, width);
const columns = (s: string): number => Array.from(s).length;

describe('progress line: fitted to the width', () => {
  it('120 columns: the whole name, a bar, every number', () => {
    const line = single(120);
    // The bar takes what is left of 117 columns (room for an echoed ^C): 11 cells, 21% of them full.
    assert.equal(line, `${NAME} ${'█'.repeat(2)}${'░'.repeat(9)} 21% | 55.0 MiB/256.0 MiB | 12.3 MiB/s | ETA 16s | 8 conn`);
    assert.equal(columns(line), 117);
    assert.equal(single(200), `${NAME} ${'█'.repeat(6)}${'░'.repeat(24)} 21% | 55.0 MiB/256.0 MiB | 12.3 MiB/s | ETA 16s | 8 conn`, 'at most 30 cells');
  });

  it('80 columns: the name shortened in the middle and a narrower bar; the connection count stays', () => {
    const line = single(80);
    assert.equal(line, `debia…e.iso ${'█'.repeat(2)}${'░'.repeat(6)} 21% | 55.0 MiB/256.0 MiB | 12.3 MiB/s | ETA 16s | 8 conn`);
    assert.equal(columns(line), 77);
  });

  it('40 columns: the bar goes before the numbers; percent, speed and time left stay', () => {
    const line = single(40);
    assert.ok(columns(line) < 40, line);
    assert.match(line, /21% \| 12\.3 MiB\/s \| ETA 16s$/);
    assert.doesNotMatch(line, /[█░]/);
  });

  it('every width from 10 to 200 fits, and from 34 columns up speed and time left are shown', () => {
    for (let width = 10; width <= 200; width++) {
      const line = single(width);
      assert.ok(columns(line) <= width - 3, `${width}: ${line}`);
      if (width >= 34) assert.match(line, /12\.3 MiB\/s \| ETA 16s/, `${width}: ${line}`);
    }
  });

  it('a batch: names in one column (shortened or padded), and a first line for the whole batch', () => {
    const layout = (name: string) => ({ label: '[1/3] ', name, nameWidth: 24, barWidth: 20 });
    const long = progressLine(layout(NAME), text, 120);
    const short = progressLine(layout('b.bin'), text, 120);
    assert.equal(long.indexOf('█'), short.indexOf('█'), `${long}\n${short}`);
    assert.ok(long.startsWith(`[1/3] ${shortenMiddle(NAME, 24)} `));
    assert.equal(overallLine({ done: 1, total: 3, bytes: 300 * MiB, speed: 20 * MiB }, 120), `1/3 files done ${'█'.repeat(7)}${'░'.repeat(13)} 300.0 MiB | 20.0 MiB/s`);
  });

  it('shortens in the middle', () => {
    assert.equal(shortenMiddle('abcdefghij', 5), 'ab…ij');
    assert.equal(shortenMiddle('abc', 5), 'abc');
  });
});

describe('summary line', () => {
  it('gives a rate below 1 KiB/s in whole bytes', () => {
    assert.equal(formatBytes(3.7811081694509676), '4 B');
    assert.equal(formatBytes(1536), '1.50 KiB');
    const line = summary({ path: '-', url: 'http://h/one', finalUrl: 'http://h/one', size: 1, duration: 264.5, resumed: 0, connections: 16 });
    assert.equal(line, 'streamed 1 B to stdout, in 0.26s, 4 B/s, 16 connections');
    const quick = summary({ path: 'f', url: 'http://h/f', finalUrl: 'http://h/f', size: 1048576, duration: 45, resumed: 0, connections: 1 });
    assert.equal(quick, 'saved f (1.00 MiB), in 0.04s, 22.2 MiB/s, 1 connection', 'a small file: not "in 0.0s"');
    const long = summary({ path: 'f', url: 'http://h/f', finalUrl: 'http://h/f', size: 1048576, duration: 2345, resumed: 0, connections: 1 });
    assert.match(long, /, in 2\.3s, /);
  });
});

describe('frame: redrawn in place', () => {
  function terminal(width: number): PassThrough & { columns: number; written(): string } {
    let out = '';
    const stream = Object.assign(new PassThrough(), { columns: width, written: () => out });
    stream.setEncoding('utf8');
    stream.on('data', (s: string) => (out += s));
    return stream;
  }

  it('erases exactly the rows of the last frame, counted again after the terminal shrank and wrapped them', async () => {
    const term = terminal(120);
    let redraws = 0;
    const frame = new Frame(term, () => redraws++);
    const a = 'x'.repeat(100);
    frame.draw([a, 'y'.repeat(10)]);
    frame.draw([a, 'z'.repeat(10)]);
    term.columns = 40;
    term.emit('resize');
    assert.equal(redraws, 1);
    // 100 columns are now 3 rows, and 10 are one: up 3 rows from the last.
    frame.draw(['short']);
    frame.clear();
    term.emit('resize');
    assert.equal(redraws, 1, 'no redraw once cleared');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(
      term.written(),
      `\x1b[?25l${a}\n${'y'.repeat(10)}` + `\r\x1b[1A\r\x1b[J${a}\n${'z'.repeat(10)}` + `\r\x1b[3A\r\x1b[Jshort` + `\r\r\x1b[J\x1b[?25h`,
    );
  });

  it('writes lines above the frame and draws it again below', async () => {
    const term = terminal(80);
    const frame = new Frame(term);
    frame.write('before\n');
    frame.draw(['bar']);
    frame.write('warning\n');
    frame.clear();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(term.written(), 'before\n\x1b[?25lbar\r\r\x1b[Jwarning\nbar\r\r\x1b[J\x1b[?25h');
  });
});

/** The visible lines a terminal would show last, from the raw output: each frame's lines after its last erase. */
function drawnLines(raw: string): string[] {
  return raw
    .split(/\r(?:\x1b\[\d+A)?\r\x1b\[J|\r?\n/)
    .map((s) => s.replace(/\x1b\[[?\d;]*[a-zA-Z]/g, '').replace(/\r/g, ''))
    .filter((s) => s !== '');
}

describe('the bar in a pseudo-terminal', () => {
  for (const width of [40, 80, 120]) {
    it(`${width} columns: every drawn line fits, and names the speed and time left`, { timeout: 30_000 }, async (t) => {
      const server = await serve(t, { [`/${NAME}`]: { size: 4 * MiB, throttle: 2 * MiB } });
      const cwd = await realpath(await tempDir(t));
      // util-linux script gives the CLI a terminal; stty sets its size.
      const command = `stty cols ${width} rows 20; exec node ${BIN} -c 2 ${server.url(`/${NAME}`)}`;
      const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
      t.after(() => child.kill('SIGKILL'));
      let raw = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (raw += s));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, raw);
      const bars = drawnLines(raw).filter((l) => /ETA/.test(l));
      assert.ok(bars.length >= 2, `no bars drawn:\n${JSON.stringify(raw)}`);
      for (const line of bars) {
        assert.ok(columns(line) <= width - 3, `${columns(line)} columns at ${width}: ${line}`);
        assert.match(line, /\d+% \| .*\/s \| ETA \S+/, line);
      }
      if (width >= 80) assert.ok(bars.every((l) => / \| \d conn$/.test(l) && /[█░]/.test(l)), bars.join('\n'));
      if (width === 120) assert.ok(bars.every((l) => l.startsWith(`${NAME} `)), bars.join('\n'));
    });
  }
});
