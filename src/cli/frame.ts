/**
 * A frame of lines redrawn in place at the bottom of a terminal (the progress bars), with
 * text written above it. Every line is kept shorter than the terminal is wide, so none
 * wraps; when the terminal shrinks, terminals that reflow (tmux, VTE, iTerm2, kitty) wrap the
 * old frame's lines, and the frame counts the rows they take now before erasing them, so no
 * stale piece of an old frame is left behind.
 */
import { columnsOf } from './format.js';

/** A terminal stream: stderr, or a test's stand-in. */
export type TerminalStream = NodeJS.WritableStream & { columns?: number };

const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
/** To the start of the line, then erase from there to the end of the screen. */
const ERASE_DOWN = '\r\x1b[J';

/** Lines drawn in place; {@link write} puts text above them. */
export class Frame {
  /** The lines on screen now (empty: no frame drawn). */
  private shown: string[] = [];
  private readonly onResize = (): void => this.redraw?.();

  /**
   * @param out Where to draw.
   * @param redraw Draws the frame again at the new width when the terminal is resized.
   */
  constructor(
    private readonly out: TerminalStream,
    private readonly redraw?: () => void,
  ) {}

  /** Columns of the terminal; 80 when it does not say. */
  get width(): number {
    return this.out.columns && this.out.columns > 0 ? this.out.columns : 80;
  }

  /** Draw `lines` in place of the frame on screen; each must be shorter than {@link width}. */
  draw(lines: readonly string[]): void {
    if (lines.length === 0) return this.clear();
    const first = this.shown.length === 0;
    if (first) this.out.on('resize', this.onResize);
    this.out.write(`${first ? HIDE_CURSOR : this.erase()}${lines.join('\n')}`);
    this.shown = [...lines];
  }

  /** Write `text` (whole lines) above the frame, which is drawn again below it. */
  write(text: string): void {
    if (this.shown.length === 0) {
      this.out.write(text);
      return;
    }
    this.out.write(`${this.erase()}${text}${this.shown.join('\n')}`);
  }

  /** Take the frame away and give the cursor back. */
  clear(): void {
    if (this.shown.length === 0) return;
    this.out.write(`${this.erase()}${SHOW_CURSOR}`);
    this.out.removeListener('resize', this.onResize);
    this.shown = [];
  }

  /**
   * The escape codes that take the cursor to the frame's first row and erase it all. The
   * cursor is at the end of the last line; each line takes one row, or more where a narrower
   * terminal has wrapped it since.
   */
  private erase(): string {
    const width = this.width;
    const rows = this.shown.reduce((sum, line) => sum + Math.max(1, Math.ceil(columnsOf(line) / width)), 0);
    const up = rows - 1;
    return `\r${up > 0 ? `\x1b[${up}A` : ''}${ERASE_DOWN}`;
  }
}
