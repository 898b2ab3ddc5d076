// The latency matrix's command line (`npm run bench -- --matrix ...`): parsed and checked, no I/O.
import { parseArgs } from 'node:util';

export const MATRIX_TOOLS = ['rangeget', 'baseline', 'aria2c', 'axel'] as const;
export type MatrixTool = (typeof MATRIX_TOOLS)[number];

export interface MatrixOptions {
  runs: number;
  /** Size of the one test file, in bytes. */
  size: number;
  /** Round trips in ms; 0 is loopback. */
  rtts: number[];
  /** Loss in percent. */
  losses: number[];
  /** Which rates: false unthrottled, true each connection limited by nginx `limit_rate`. */
  throttles: boolean[];
  /** Extra argument lists for more rangeget rows, e.g. [['-c', '32']]. */
  variants: string[][];
  tools: MatrixTool[];
  timeoutMs: number;
  write: boolean;
  /** rangeget CLI script (resolved by the caller); undefined: the project's bin/rangeget.js. */
  rangeget: string | undefined;
  baseline: string | undefined;
  /** Delay-process CPU + run-queue wait (fraction of the time) from which a point counts as limited by the emulation. */
  emulationLimit: number;
  /** --matrix-gso: lo carries 64 KiB GSO packets instead of one segment per packet. */
  gso: boolean;
}

export const MATRIX_USAGE = `usage: npm run bench -- --matrix [--matrix-size 256M] [--matrix-rtt 0,20,80,200] [--matrix-loss 0,0.5]
                          [--matrix-throttle both|off|on] [--matrix-gso] [--variant '-c 32']... [--runs 5]
                          [--tools rangeget,aria2c,axel] [--timeout SEC] [--emulation-limit 0.9]
                          [--write] [--rangeget PATH] [--baseline PATH]
  Round trip × loss × rate, each point in a network namespace rangeget-bench-RTT-LOSS (root, ip,
  iptables, python3): rangeget with its defaults, each --variant (rangeget with those extra args),
  aria2c -x16 -s16 -k1M and axel -n 16, alternating, every output sha256-checked.
  --matrix-throttle: off = unthrottled only, on = limit_rate 8m per connection only.
  --matrix-gso: let lo carry 64 KiB GSO packets (cheaper to emulate; a loss is then a burst of up
  to ~44 segments and ACKs are fewer than on a real path). Default: one segment per packet.
  --emulation-limit: a point whose delay process was on a CPU or waiting for one this share of
  the time (default 0.9) is flagged as limited by the emulation, not counted.
  --write: replace the latency-matrix section of BENCHMARKS.md (the rest is kept).`;

/** "256M", "64MiB", "1G", "500000" → bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?$/i.exec(s.trim());
  if (!m) throw new Error(`--matrix-size: "${s}" is not a size (e.g. 64M, 256M, 1G)`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes < 1) throw new Error(`--matrix-size must be at least 1 byte`);
  return bytes;
}

function numbers(flag: string, s: string, max: number): number[] {
  const xs = s.split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x) || x < 0 || x > max))
    throw new Error(`${flag}: "${s}" must be a comma-separated list of numbers from 0 to ${max}`);
  return [...new Set(xs)];
}

/** "-c 32 --min-range 16M" → ['-c', '32', '--min-range', '16M'] (whitespace-separated; no quoting). */
export function splitVariant(s: string): string[] {
  const args = s.trim().split(/\s+/).filter((a) => a !== '');
  if (args.length === 0) throw new Error('--variant needs arguments, e.g. --variant "-c 32"');
  return args;
}

/** `--variant '-c 32'` as `--variant=-c 32`: parseArgs refuses a separate value that starts with '-'. */
function joinVariants(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--variant' && i + 1 < argv.length) out.push(`--variant=${argv[++i]!}`);
    else out.push(argv[i]!);
  }
  return out;
}

/** Parses the matrix's flags (`argv` without node and the script); throws with a one-line message. */
export function parseMatrixArgs(argv: string[]): MatrixOptions | 'help' {
  const { values } = parseArgs({
    args: joinVariants(argv),
    options: {
      matrix: { type: 'boolean' },
      'matrix-size': { type: 'string' },
      'matrix-rtt': { type: 'string' },
      'matrix-loss': { type: 'string' },
      'matrix-throttle': { type: 'string' },
      variant: { type: 'string', multiple: true },
      'emulation-limit': { type: 'string' },
      'matrix-gso': { type: 'boolean' },
      runs: { type: 'string' },
      tools: { type: 'string' },
      timeout: { type: 'string' },
      write: { type: 'boolean' },
      rangeget: { type: 'string' },
      baseline: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  // 5 as the scenarios: with 3, verdicts at five of 16 points flipped between two runs of the
  // same code (BENCHMARKS.md, "The same matrix, 3 runs against 5").
  const runs = values.runs === undefined ? 5 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  const timeoutS = values.timeout === undefined ? 600 : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new Error('--timeout must be a positive number of seconds');
  const throttle = values['matrix-throttle'] ?? 'both';
  const throttles = { both: [false, true], off: [false], on: [true] }[throttle];
  if (!throttles) throw new Error(`--matrix-throttle must be both, off or on (not "${throttle}")`);
  const limit = values['emulation-limit'] === undefined ? 0.9 : Number(values['emulation-limit']);
  if (!Number.isFinite(limit) || limit <= 0) throw new Error('--emulation-limit must be a positive fraction of the time, e.g. 0.9');
  if (values.baseline !== undefined && values.baseline.trim() === '') throw new Error('--baseline needs a path');
  const known = MATRIX_TOOLS.filter((t) => t !== 'baseline' || values.baseline !== undefined);
  const tools: MatrixTool[] = [];
  const asked = values.tools === undefined ? known : values.tools.split(',').map((t) => t.trim()).filter((t) => t !== '');
  for (const t of asked) {
    if (t === 'baseline' && values.baseline === undefined) throw new Error('tool "baseline" needs --baseline PATH');
    if (!(MATRIX_TOOLS as readonly string[]).includes(t)) throw new Error(`unknown tool "${t}" for --matrix (${known.join(',')})`);
    if (!tools.includes(t as MatrixTool)) tools.push(t as MatrixTool);
  }
  return {
    runs,
    size: parseSize(values['matrix-size'] ?? '256M'),
    rtts: numbers('--matrix-rtt', values['matrix-rtt'] ?? '0,20,80,200', 10_000),
    losses: numbers('--matrix-loss', values['matrix-loss'] ?? '0,0.5', 50),
    throttles,
    variants: (values.variant ?? []).map(splitVariant),
    tools,
    timeoutMs: timeoutS * 1000,
    write: values.write ?? false,
    rangeget: values.rangeget,
    baseline: values.baseline,
    emulationLimit: limit,
    gso: values['matrix-gso'] ?? false,
  };
}
