// The latency matrix's figures: medians, ratios to the better peer, verdicts, tables. No I/O.
import { markdownTable, type Table } from '../report.js';
import { fmt, median } from '../util.js';

/** rangeget's time at most this × the better peer's, at every point (issue #13). */
export const PEER_TARGET = 0.9;
/** rangeget with its defaults (`-c auto`) within this × the best --variant row that fixes the count (`-c N`). */
export const VARIANT_TARGET = 1.05;

/** A --variant row that fixes the connection count (`-c N`, `--connections N`): what `-c auto` is judged against. */
export function fixesCount(label: string): boolean {
  return /(?:^|\s)(?:-c|--connections)(?:\s+|=)\d+(?:\s|$)/.test(label);
}

export interface MatrixRun {
  ok: boolean;
  wallS: number;
  /** CPU the delay process used during the run, as a fraction of one core (undefined: no delay process). */
  delayCpu: number | undefined;
  /** Time it was runnable but waiting for a CPU, as a fraction of the run: starved, it delays more. */
  delayWait: number | undefined;
  reason: string | undefined;
}

/** rangeget: the build with its defaults; variant: it with --variant args; peer: aria2c, axel. */
export type Role = 'rangeget' | 'variant' | 'baseline' | 'peer';

export interface ToolRuns {
  label: string;
  role: Role;
  template: string;
  runs: MatrixRun[];
}

export interface PointResult {
  rttMs: number;
  lossPct: number;
  throttled: boolean;
  tools: ToolRuns[];
  /** Set when the point could not be measured at all (namespace or nginx failed). */
  error: string | undefined;
}

export interface PointSummary {
  medians: Map<string, number | undefined>;
  better: { label: string; medianS: number } | undefined;
  /** Each rangeget row's median ÷ the better peer's (label → ratio). */
  ratios: Map<string, number | undefined>;
  /** rangeget (defaults) ÷ the fastest variant row that fixes the count; undefined without one. */
  vsBestVariant: number | undefined;
  /** Highest per-tool median of the delay process's CPU (fraction of a core). */
  delayCpu: number | undefined;
  /** Highest per-tool median of its CPU + run-queue wait: the share of the time it was busy or starved. */
  delayBusy: number | undefined;
  limited: boolean;
  verdict: string;
}

export function rttLabel(rttMs: number): string {
  return rttMs === 0 ? 'loopback' : `${rttMs} ms`;
}

function medianOk(t: ToolRuns): number | undefined {
  return median(t.runs.filter((r) => r.ok).map((r) => r.wallS));
}

export function summarize(p: PointResult, emulationLimit: number): PointSummary {
  const medians = new Map(p.tools.map((t) => [t.label, medianOk(t)] as const));
  let better: PointSummary['better'];
  for (const t of p.tools) {
    const m = medians.get(t.label);
    if (t.role === 'peer' && m !== undefined && (better === undefined || m < better.medianS)) better = { label: t.label, medianS: m };
  }
  const ratios = new Map<string, number | undefined>();
  for (const t of p.tools) {
    if (t.role === 'peer') continue;
    const m = medians.get(t.label);
    ratios.set(t.label, m === undefined || better === undefined ? undefined : m / better.medianS);
  }
  const variantMedians = p.tools.filter((t) => t.role === 'variant' && fixesCount(t.label)).map((t) => medians.get(t.label)).filter((m): m is number => m !== undefined);
  const rg = p.tools.find((t) => t.role === 'rangeget');
  const rgMedian = rg ? medians.get(rg.label) : undefined;
  const vsBestVariant = rgMedian === undefined || variantMedians.length === 0 ? undefined : rgMedian / Math.min(...variantMedians);
  const delayCpu = highestMedian(p, (r) => r.delayCpu);
  const delayBusy = highestMedian(p, (r) => (r.delayCpu === undefined ? undefined : r.delayCpu + (r.delayWait ?? 0)));
  const limited = delayBusy !== undefined && delayBusy >= emulationLimit;
  return { medians, better, ratios, vsBestVariant, delayCpu, delayBusy, limited, verdict: verdictOf(p, rg, ratios, vsBestVariant, limited) };
}

/** The highest of the tools' medians of `f` over their runs, or undefined. */
function highestMedian(p: PointResult, f: (r: MatrixRun) => number | undefined): number | undefined {
  const ms = p.tools.map((t) => median(t.runs.map(f).filter((x): x is number => x !== undefined))).filter((x): x is number => x !== undefined);
  return ms.length === 0 ? undefined : Math.max(...ms);
}

function verdictOf(p: PointResult, rg: ToolRuns | undefined, ratios: Map<string, number | undefined>, vsBest: number | undefined, limited: boolean): string {
  if (p.error !== undefined) return `not measured: ${p.error}`;
  if (rg === undefined) return '— (no rangeget row)';
  const failed = rg.runs.filter((r) => !r.ok).length;
  if (failed > 0) return `FAILED (${failed}/${rg.runs.length} rangeget runs)`;
  if (limited) return 'emulation-limited: not counted';
  const r = ratios.get(rg.label);
  if (r === undefined) return '— (no peer figure)';
  const notes = [r <= PEER_TARGET ? 'met' : 'NOT met'];
  if (vsBest !== undefined) notes.push(`fixed -c ${vsBest <= VARIANT_TARGET ? 'met' : 'NOT met'}`);
  return notes.join('; ');
}

function pct(x: number | undefined): string {
  return x === undefined ? '—' : `${Math.round(x * 100)} %`;
}

function cell(t: ToolRuns, m: number | undefined): string {
  const ok = t.runs.filter((r) => r.ok).length;
  return `${fmt(m, 2)}${ok < t.runs.length ? ` (${ok}/${t.runs.length} ok)` : ''}`;
}

/** One row per point: each tool's median seconds, the ratios, the delay process's CPU, the verdict. */
export function matrixTable(points: PointResult[], emulationLimit: number): Table {
  const tools = points.find((p) => p.tools.length > 0)?.tools ?? [];
  const own = tools.filter((t) => t.role !== 'peer');
  const hasVariants = tools.some((t) => t.role === 'variant' && fixesCount(t.label));
  const headers = ['RTT', 'loss %', 'per connection', ...tools.map((t) => `${t.label} s`), ...own.map((t) => `${t.label} ÷ better peer`)];
  if (hasVariants) headers.push('rangeget ÷ best fixed -c');
  headers.push('delay CPU', 'delay busy', 'verdict');
  const rows = points.map((p) => {
    const s = summarize(p, emulationLimit);
    const row = [rttLabel(p.rttMs), String(p.lossPct), p.throttled ? '8 MiB/s' : 'unthrottled'];
    for (const t of tools) {
      const here = p.tools.find((x) => x.label === t.label);
      row.push(here ? cell(here, s.medians.get(t.label)) : '—');
    }
    for (const t of own) row.push(fmt(s.ratios.get(t.label), 2));
    if (hasVariants) row.push(fmt(s.vsBestVariant, 2));
    row.push(pct(s.delayCpu), pct(s.delayBusy), s.verdict);
    return row;
  });
  return { headers, align: headers.map((_, i) => (i < 3 || i === headers.length - 1 ? 'l' : 'r')), rows };
}

/** Per-run wall times (and the delay process's CPU share) of one point, in run order. */
export function runLines(p: PointResult): string[] {
  const lines: string[] = [];
  const name = `${rttLabel(p.rttMs)}, ${p.lossPct} % loss, ${p.throttled ? '8 MiB/s per connection' : 'unthrottled'}`;
  if (p.error !== undefined) return [`${name}: not measured: ${p.error}`];
  for (const t of p.tools) {
    const delay = (r: MatrixRun): string => (r.delayCpu === undefined ? '' : ` (delay CPU ${pct(r.delayCpu)}, waiting ${pct(r.delayWait)})`);
    const runs = t.runs.map((r) => (r.ok ? `${r.wallS.toFixed(2)} s${delay(r)}` : `FAILED: ${r.reason ?? '?'}`));
    lines.push(`${name}: ${t.label}: ${runs.join(', ')}`);
  }
  return lines;
}

/** Counts for the closing line: points met, not met, emulation-limited, failed or unmeasured. */
export function tally(points: PointResult[], emulationLimit: number): Record<'met' | 'notMet' | 'limited' | 'other', number> {
  const t = { met: 0, notMet: 0, limited: 0, other: 0 };
  for (const p of points) {
    const v = summarize(p, emulationLimit).verdict;
    if (v.startsWith('met')) t.met++;
    else if (v.startsWith('NOT met')) t.notMet++;
    else if (v.startsWith('emulation-limited')) t.limited++;
    else t.other++;
  }
  return t;
}

export const SECTION_START = '<!-- latency-matrix:start -->';
export const SECTION_END = '<!-- latency-matrix:end -->';

export interface SectionInfo {
  date: string;
  command: string;
  sizeMiB: number;
  runs: number;
  versions: Array<[string, string]>;
  emulationLimit: number;
  gso: boolean;
}

/** The BENCHMARKS.md section, between markers so that a later run replaces only it. */
export function markdownSection(points: PointResult[], info: SectionInfo): string {
  const tools = points.find((p) => p.tools.length > 0)?.tools ?? [];
  const md = [SECTION_START, '## Latency matrix', ''];
  md.push(
    `Round trip × loss × rate (issue #13), ${info.sizeMiB} MiB, ${info.runs} run(s) per tool, alternating, every output`,
    'sha256-checked; medians. Each point runs in a network namespace whose lo holds every packet RTT/2 ms',
    '(`bench/netem/delay.py` on NFQUEUE; lo at MTU 1500) and drops the loss % of them on arrival (iptables',
    `statistic match), ${info.gso ? '64 KiB GSO packets (--matrix-gso: a loss is a burst of segments)' : 'one TCP segment per packet'}; loopback without loss is the`,
    `namespace's lo as it comes. "÷ better peer" is a median time over the faster peer's: target ≤ ${PEER_TARGET};`,
    `"rangeget ÷ best fixed -c" (when a --variant fixes the count): target ≤ ${VARIANT_TARGET}. "delay CPU" is the delay process's CPU share during the runs,`,
    '"delay busy" that plus the time it waited for a CPU (highest tool medians): from',
    `${Math.round(info.emulationLimit * 100)} % busy the emulation itself may be the limit (it delays packets more than asked), and that`,
    'point is flagged and not counted.',
    '',
    `- date: ${info.date}`,
    `- command: \`${info.command}\``,
  );
  for (const [k, v] of info.versions) md.push(`- ${k}: ${v}`);
  const t = tally(points, info.emulationLimit);
  md.push('', `Points: ${t.met} met, ${t.notMet} not met, ${t.limited} emulation-limited, ${t.other} failed or not measured.`, '');
  md.push(markdownTable(matrixTable(points, info.emulationLimit)), '', 'Commands:', '');
  for (const tool of tools) md.push(`- ${tool.label}: \`${tool.template}\``);
  md.push('', 'Per-run wall times, in run order:', '');
  for (const p of points) for (const l of runLines(p)) md.push(`- ${l}`);
  md.push('', SECTION_END);
  return md.join('\n');
}

/** The matrix section of a BENCHMARKS.md text (markers included), or undefined. */
export function extractSection(doc: string): string | undefined {
  const a = doc.indexOf(SECTION_START);
  const b = doc.indexOf(SECTION_END);
  return a >= 0 && b > a ? doc.slice(a, b + SECTION_END.length) : undefined;
}

/**
 * What a scenario run's `--write` keeps of a BENCHMARKS.md text: the matrix section and every
 * note written after it (the scenarios' sections all come before it), or undefined.
 */
export function matrixTail(doc: string): string | undefined {
  const section = extractSection(doc);
  return section === undefined ? undefined : doc.slice(doc.indexOf(SECTION_START)).trimEnd();
}

/** `doc` with its matrix section replaced by `section`, or with `section` appended. */
export function spliceSection(doc: string, section: string): string {
  const old = extractSection(doc);
  if (old !== undefined) return doc.replace(old, () => section);
  return `${doc.replace(/\s*$/, '')}\n\n${section}\n`;
}
