// Plain-text and Markdown tables for the benchmark report.

export type Align = 'l' | 'r';

export interface Table {
  headers: string[];
  align: Align[];
  rows: string[][];
}

export function textTable(t: Table): string {
  const widths = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (t.align[i] === 'r' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(t.headers), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

export function markdownTable(t: Table): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const head = `| ${t.headers.map(esc).join(' | ')} |`;
  const sep = `| ${t.align.map((a) => (a === 'r' ? '---:' : ':---')).join(' | ')} |`;
  const rows = t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`);
  return [head, sep, ...rows].join('\n');
}
