/**
 * rangeget benchmark harness.
 *
 *   npm run bench -- [options]          (builds, then runs dist/bench/bench.js)
 *
 * Everything happens on this machine over 127.0.0.1 only. A private nginx (own config, prefix,
 * pid file and error log in a temp folder) serves random test files made for the run:
 *   /throttled/  `limit_rate 8m` per connection (8 MiB/s), with `sendfile_max_chunk 128k` so that
 *                each request gets no more than ~128 KiB ahead of the limit (see nginx.ts)
 *   /fast/       unthrottled
 * The tools run alternately, in another order each round (util.ts, `roundOrder`: a fixed order
 * measured a bias of its own, the disk still busy with the run before), each run under `/usr/bin/time -v` (peak RSS,
 * user and system CPU seconds: a slow run shows which it spent more of; minor page faults:
 * memory first touched. CPU seconds, faults and RSS hold steady on a busy machine, wall time does not)
 * with a wall clock of our own (process.hrtime), a fresh output folder (deleted after, so aria2's
 * .aria2 and axel's .st files go too), a timeout (killed after), and a sha256 check of every
 * output against its source: a mismatch, a non-zero exit or a timeout marks that run FAILED,
 * which is reported and not counted as a time. Only medians and same-run ratios are reported.
 *
 * Scenarios (--scenario, default all):
 *   a  throttled: 256 MiB file, 16 connections; also "fraction of ideal" (16 × 8 MiB/s)
 *   b  unthrottled: 1 GiB file, 16 connections; also rangeget --no-fsync and `curl … && sync OUT`
 *      (rangeget syncs its file, the peers do not: like-for-like pairs beside the plain target)
 *   c  many files: 200 × 256 KiB from a list file, `-i LIST -j 16 -d DIR` (rangeget vs aria2c;
 *      only when `rangeget --help` mentions --input-file, else skipped)
 *   d  memory: peak RSS for the 1 GiB file at 16 connections (reuses the runs of b)
 *   e  checksum overhead: rangeget on the 1 GiB file with and without --checksum sha256=HEX
 *   f  start-up: one 256 KiB file with default flags (rangeget, curl, aria2c), against
 *      `node -e 0` (a Node.js process doing nothing) and `rangeget --version`, same run
 *   g  https: the 1 GiB file of b over loopback TLS. nginx serves it with a certificate signed by a
 *      test CA that openssl makes for the run (bench/tls.ts); curl --cacert, rangeget --ca-cert and
 *      aria2c --ca-certificate verify against that CA; axel has no option for a CA and runs with
 *      -k (no verification); as in b, also rangeget --no-fsync and curl then sync. Needs openssl and
 *      nginx's ssl module
 *   h  (opt-in, not in the default run) memory, bigger file: peak RSS of rangeget on a 4 GiB file
 *      at 16 connections, against d's 1 GiB; needs ~8 GiB free in the temp folder
 * The targets of b, d, g and h are issue #12's: rangeget ≥ 0.9 × curl's throughput and faster
 * than aria2c and axel; CPU (user + sys) ≤ 1.3 × curl's; minor page faults ≤ 8,000 per GiB; peak
 * RSS ≤ 64 MiB, for 4 GiB too; https ≥ 0.8 × curl's throughput.
 * Tools (--tools, default all): rangeget (`node bin/rangeget.js`), curl, aria2c, axel, and with
 * --baseline also baseline. A missing peer is skipped; a missing nginx is fatal.
 * `apt-get install -y nginx-light aria2 axel`.
 *
 * Before/after a change (--baseline PATH): PATH is another build of rangeget (its folder, or its CLI script),
 * e.g. a full copy of the project built before the change:
 *   git worktree add /tmp/baseline <rev> && (cd /tmp/baseline && npm ci)   (or cp -r, then npm run build)
 *   npm run bench -- --baseline /tmp/baseline --tools rangeget,baseline   (the folder, or its bin/rangeget.js)
 * A tool named `baseline` then runs in every scenario exactly as rangeget does (same flags; in c
 * the same list file and -i, if its --help mentions --input-file; in e with and without
 * --checksum), alternating with the others (in the round's order). Its rows' "time ÷ rangeget" is baseline ÷ this
 * build (> 1: this build is faster); in e, "time ÷ no-checksum" is each build's own ratio and a
 * "time ÷ rangeget" column compares the builds with the same flags. The targets are evaluated
 * for rangeget only, and a FAILED baseline run does not change the exit code. Run it on an idle
 * machine and compare the per-run times too: a difference within their spread is noise.
 *
 * Options:
 *   --runs N         runs per tool and scenario (default 5; 3 with --quick)
 *   --quick          3 runs and smaller files (a: 128 MiB, b/d/e/g: 256 MiB, h: 1 GiB)
 *   --scenario LIST  e.g. a,b,e
 *   --tools LIST     e.g. rangeget,aria2c
 *   --timeout SEC    per-run timeout, killed after (default 600); a tool that timed out is not
 *                    run again in that scenario (its remaining runs count as FAILED)
 *   --write          also write the report to BENCHMARKS.md at the project root
 *                    (without --write nothing in the project is touched)
 *   --rangeget PATH  rangeget CLI script to run (default: bin/rangeget.js of this project)
 *   --baseline PATH  also run this rangeget CLI script, as the tool `baseline` (see above).
 *                    Under `npm run bench` a relative PATH is taken from the project root.
 *   --help
 *
 * A default run takes about 7–9 minutes here with the peers (curl's throttled runs alone are 5 × 32 s)
 * and needs ~2.5 GiB free in os.tmpdir() ($TMPDIR) for the test files and one output at a time
 * (h: ~8 GiB more).
 *
 * Latency matrix (--matrix, issue #13; `npm run bench -- --matrix --help`): round trip {loopback,
 * 20, 80, 200 ms} × loss {0, 0.5 %} × {unthrottled, limit_rate 8m per connection}, each (round
 * trip, loss) in a network namespace rangeget-bench-RTT-LOSS of its own, set up by
 * bench/netem/netns.ts (iptables NFQUEUE + bench/netem/delay.py, stdlib python3; needs root and
 * iptables), with nginx and every tool run inside it. rangeget with its defaults, each --variant
 * (rangeget with extra args), aria2c -x16 -s16 -k1M and axel -n 16, alternating; per point each
 * rangeget row's median ÷ the better peer's, and the delay process's CPU share, so that a point
 * where the emulation is the limit is flagged, not counted (bench/matrix/). With --write it
 * replaces only its own section of BENCHMARKS.md, and the scenarios' --write keeps that section.
 *
 * Exit code: 0, or 1 on a harness error or when any rangeget run FAILED. The temp folder and
 * nginx are removed/stopped on exit, error, and SIGINT/SIGTERM/SIGHUP.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { aria2cArgs, aria2cTemplate, axelArgs, axelTemplate } from './commands.js';
import { matrixTail } from './matrix/report.js';
import { matrixCleanupSync, runMatrix } from './matrix/run.js';
import { startNginx, type NginxServer } from './nginx.js';
import { makeTestCertificates } from './tls.js';
import { markdownTable, textTable, type Table } from './report.js';
import { killActiveRuns } from './runner.js';
import { runVerified, type Expected } from './verify.js';
import {
  baselineScript,
  fmt,
  GiB,
  KiB,
  loopbackEnv,
  max,
  median,
  MiB,
  roundOrder,
  commandLine,
  gitRev,
  versionLine,
  which,
  writeRandomFile,
} from './util.js';

const APT_LINE = 'apt-get install -y nginx-light aria2 axel';
const TOOLS = ['rangeget', 'baseline', 'curl', 'aria2c', 'axel'] as const;
type ToolName = (typeof TOOLS)[number];
/** The tools that are builds of rangeget (run with node, same flags); baseline needs --baseline. */
type RangegetBuild = 'rangeget' | 'baseline';
const SCENARIOS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] as const;
/** Markers around the hand-written notes on start-up in BENCHMARKS.md, which --write keeps. */
const STARTUP_NOTES = ['<!-- startup-notes:start -->', '<!-- startup-notes:end -->'] as const;
type ScenarioId = (typeof SCENARIOS)[number];
/** Run without --scenario: h (4 GiB, ~8 GiB of temp space) only when asked for. */
const DEFAULT_SCENARIOS: readonly ScenarioId[] = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

const CONNECTIONS = 16;
const LIMIT_RATE = '8m';
const LIMIT_RATE_BYTES = 8 * MiB; // nginx's "m" is 1024 × 1024
const MANY_COUNT = 200;
const MANY_SIZE = 256 * KiB;

// Issue #12's targets for b (and d, g, h): against curl in the same run, and absolute.
const TARGETS = {
  throttledFraction: 0.97,
  curlFraction: 0.9,
  /** CPU seconds (user + sys) at most this many times curl's for the same file. */
  cpuVsCurl: 1.3,
  /** Minor page faults per GiB downloaded. */
  faultsPerGiB: 8000,
  rssMiB: 64,
  /** https throughput at least this fraction of curl's over the same TLS. */
  httpsCurlFraction: 0.8,
  checksumRatio: 1.15,
  /** One small file in at most this many times `node -e 0`. */
  startupRatio: 2,
};

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  runs: number;
  quick: boolean;
  scenarios: Set<ScenarioId>;
  tools: ToolName[];
  timeoutMs: number;
  write: boolean;
  rangegetCli: string;
  /** --baseline: CLI script of another build, run as the tool `baseline`; undefined without it. */
  baselineCli: string | undefined;
}

function usage(): string {
  return `usage: npm run bench -- [--runs N] [--quick] [--scenario a,b,c,d,e,f,g,h] [--tools rangeget,curl,aria2c,axel]
                          [--timeout SEC] [--write] [--rangeget PATH] [--baseline PATH]
  a throttled 256 MiB (limit_rate ${LIMIT_RATE}/conn, ${CONNECTIONS} conns)    b unthrottled 1 GiB
  c many files (${MANY_COUNT} × 256 KiB, -i LIST -j 16)    d peak RSS (runs of b)
  e checksum overhead (rangeget with/without --checksum sha256=HEX)
  f start-up: one 256 KiB file, against node -e 0 and rangeget --version
  g https: the 1 GiB file over loopback TLS (a test CA made with openssl)
  h opt-in: peak RSS for a 4 GiB file (~8 GiB of temp space; only with --scenario h)
  --quick: 3 runs, smaller files (b/d/e/g 256 MiB, h 1 GiB).  --write: write BENCHMARKS.md at the project root.
  --baseline PATH: also run another build's CLI script as the tool "baseline", with rangeget's flags,
  alternating; just the two builds: --tools rangeget,baseline.
  --matrix: the latency matrix instead (round trip × loss × rate; root, iptables, python3):
  npm run bench -- --matrix --help`;
}

function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'rangeget') return dir;
      } catch {
        // keep looking
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the rangeget project root (package.json)');
    dir = up;
  }
}

function parseOptions(root: string): Options {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      scenario: { type: 'string' },
      tools: { type: 'string' },
      timeout: { type: 'string' },
      write: { type: 'boolean', default: false },
      rangeget: { type: 'string' },
      baseline: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(usage());
    process.exit(0);
  }
  const list = (s: string | undefined): string[] =>
    (s ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  const scenarios = new Set<ScenarioId>();
  for (const s of values.scenario === undefined ? [...DEFAULT_SCENARIOS] : list(values.scenario)) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario "${s}" (${SCENARIOS.join(',')})`);
    scenarios.add(s as ScenarioId);
  }
  if (values.baseline !== undefined && values.baseline.trim() === '') throw new Error('--baseline needs a path');
  const baselineCli = values.baseline === undefined ? undefined : baselineScript(values.baseline);
  const known = TOOLS.filter((t) => t !== 'baseline' || baselineCli !== undefined);
  const tools: ToolName[] = [];
  for (const t of values.tools === undefined ? known : list(values.tools)) {
    if (t === 'baseline' && baselineCli === undefined) throw new Error('tool "baseline" needs --baseline PATH');
    if (!(TOOLS as readonly string[]).includes(t)) throw new Error(`unknown tool "${t}" (${known.join(',')})`);
    if (!tools.includes(t as ToolName)) tools.push(t as ToolName);
  }
  const quick = values.quick ?? false;
  const runs = values.runs === undefined ? (quick ? 3 : 5) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer`);
  const timeoutS = values.timeout === undefined ? 600 : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new Error(`--timeout must be a positive number of seconds`);
  return {
    runs,
    quick,
    scenarios,
    tools,
    timeoutMs: timeoutS * 1000,
    write: values.write ?? false,
    rangegetCli: path.resolve(values.rangeget ?? path.join(root, 'bin', 'rangeget.js')),
    baselineCli,
  };
}

// ---------------------------------------------------------------------------------------------
// Scenario model

interface Variant {
  label: string;
  tool: ToolName;
  /** Command template for the report (OUT, DIR, NAME, URL, LIST, HEX placeholders). */
  template: string;
  command(runDir: string): { cmd: string; args: string[] };
  expected(runDir: string): Expected[];
}

interface RunRecord {
  ok: boolean;
  wallS: number;
  rssMiB: number | undefined;
  /** CPU seconds (user space, kernel): where a slow run spent its time. */
  userS: number | undefined;
  sysS: number | undefined;
  minorFaults: number | undefined;
  reason: string | undefined;
}

interface VariantResult {
  label: string;
  tool: ToolName;
  template: string;
  runs: RunRecord[];
}

interface ScenarioResult {
  id: ScenarioId;
  title: string;
  description: string;
  bytes: number;
  variants: VariantResult[];
  skipped: string | undefined;
}

interface VariantStats {
  label: string;
  tool: ToolName;
  okRuns: number;
  totalRuns: number;
  medianS: number | undefined;
  mibps: number | undefined;
  rssMedian: number | undefined;
  rssMax: number | undefined;
  userMedian: number | undefined;
  sysMedian: number | undefined;
  /** Median of each run's user + sys (not the sum of the two medians). */
  cpuMedian: number | undefined;
  faultsMedian: number | undefined;
}

function statsOf(v: VariantResult, bytes: number): VariantStats {
  const ok = v.runs.filter((r) => r.ok);
  const medianS = median(ok.map((r) => r.wallS));
  const rss = ok.map((r) => r.rssMiB).filter((x): x is number => x !== undefined);
  return {
    label: v.label,
    tool: v.tool,
    okRuns: ok.length,
    totalRuns: v.runs.length,
    medianS,
    mibps: medianS === undefined ? undefined : bytes / MiB / medianS,
    rssMedian: median(rss),
    rssMax: max(rss),
    userMedian: median(ok.map((r) => r.userS).filter((x): x is number => x !== undefined)),
    sysMedian: median(ok.map((r) => r.sysS).filter((x): x is number => x !== undefined)),
    cpuMedian: median(ok.filter((r) => r.userS !== undefined && r.sysS !== undefined).map((r) => r.userS! + r.sysS!)),
    faultsMedian: median(ok.map((r) => r.minorFaults).filter((x): x is number => x !== undefined)),
  };
}

interface Context {
  opts: Options;
  tmp: string;
  outRoot: string;
  env: NodeJS.ProcessEnv;
  timeBin: string | undefined;
  bins: Partial<Record<ToolName, string>>;
  /** The test CA that signed nginx's certificate (scenario g), trusted by every tool that can be told to. */
  caFile: string | undefined;
}

let stopping = false;

async function runScenario(
  ctx: Context,
  id: ScenarioId,
  title: string,
  description: string,
  bytes: number,
  variants: Variant[],
): Promise<ScenarioResult> {
  console.log(`\n== ${id}) ${title}: ${description}`);
  const results: VariantResult[] = variants.map((v) => ({ label: v.label, tool: v.tool, template: v.template, runs: [] }));
  const width = Math.max(...variants.map((v) => v.label.length));
  const timedOut = new Set<number>(); // variants not run again after a timeout (keeps the total bounded)
  for (let r = 1; r <= ctx.opts.runs && !stopping; r++) {
    for (const i of roundOrder(variants.length, r)) {
      const v = variants[i]!;
      if (stopping) break;
      if (timedOut.has(i)) {
        results[i]!.runs.push({ ok: false, wallS: Number.NaN, rssMiB: undefined, userS: undefined, sysS: undefined, minorFaults: undefined, reason: 'not run: an earlier run timed out' });
        continue;
      }
      const { res, reason } = await runVerified(path.join(ctx.outRoot, `${id}-${i}-${r}`), v.command, v.expected, {
        env: ctx.env,
        timeoutMs: ctx.opts.timeoutMs,
        timeBin: ctx.timeBin,
        timeFile: path.join(ctx.tmp, 'time.txt'),
      });
      if (res.timedOut) timedOut.add(i);
      const rssMiB = res.maxRssKiB === undefined ? undefined : res.maxRssKiB / 1024;
      results[i]!.runs.push({ ok: reason === undefined, wallS: res.wallS, rssMiB, userS: res.userS, sysS: res.sysS, minorFaults: res.minorFaults, reason });
      const speed = bytes / MiB / res.wallS;
      console.log(
        `  ${id} ${r}/${ctx.opts.runs}  ${v.label.padEnd(width)}  ${res.wallS.toFixed(3).padStart(8)} s` +
          `  ${speed.toFixed(1).padStart(7)} MiB/s  RSS ${fmt(rssMiB, 1).padStart(6)} MiB  ${fmt(res.minorFaults, 0).padStart(6)} faults  CPU ${cpu(res.userS, res.sysS)}  ` +
          (reason === undefined ? 'ok' : `FAILED: ${reason}`),
      );
      if (reason !== undefined && res.outputTail !== '') {
        console.log(`      output: ${res.outputTail.split('\n').slice(-5).join('\n              ')}`);
      }
    }
  }
  return { id, title, description, bytes, variants: results, skipped: undefined };
}

// ---------------------------------------------------------------------------------------------
// Tool command lines

function singleFileVariant(ctx: Context, tool: ToolName, url: string, sha: string, extra: string[] = [], label?: string): Variant {
  const name = path.posix.basename(new URL(url).pathname);
  const expected = (dir: string): Expected[] => [{ file: path.join(dir, name), sha256: sha }];
  const bin = ctx.bins[tool] ?? tool;
  // https (g): each tool trusts the test CA, as a user would pass their own; axel has no such
  // option and runs with -k (it does not verify), which only makes it faster if anything.
  const ca = url.startsWith('https:') ? ctx.caFile : undefined;
  const caArgs = (flag: string): string[] => (ca === undefined ? [] : flag.endsWith('=') ? [`${flag}${ca}`] : [flag, ca]);
  const caTemplate = (flag: string): string => (ca === undefined ? '' : `${flag}${flag.endsWith('=') ? '' : ' '}CA `);
  switch (tool) {
    case 'rangeget':
    case 'baseline': {
      const flags = [...caArgs('--ca-cert'), ...extra];
      return {
        label: label ?? tool,
        tool,
        template: `node ${cliTemplate(tool)} -c ${CONNECTIONS} --quiet ${caTemplate('--ca-cert')}${extra.map((a) => a.replace(sha, 'HEX')).join(' ')}${extra.length ? ' ' : ''}-o OUT URL`,
        command: (dir) => ({
          cmd: process.execPath,
          args: [cliOf(ctx, tool), '-c', String(CONNECTIONS), '--quiet', ...flags, '-o', path.join(dir, name), url],
        }),
        expected,
      };
    }
    case 'curl':
      return {
        label: label ?? 'curl',
        tool,
        template: `curl -s ${caTemplate('--cacert')}-o OUT URL`,
        command: (dir) => ({ cmd: bin, args: ['-s', ...caArgs('--cacert'), '-o', path.join(dir, name), url] }),
        expected,
      };
    case 'aria2c':
      return {
        label: label ?? 'aria2c',
        tool,
        template: `${aria2cTemplate(CONNECTIONS).replace(/ URL$/, '')} ${caTemplate('--ca-certificate=')}URL`,
        command: (dir) => ({ cmd: bin, args: [...aria2cArgs(CONNECTIONS, dir, name, url).slice(0, -1), ...caArgs('--ca-certificate='), url] }),
        expected,
      };
    case 'axel': {
      const insecure = ca === undefined ? [] : ['-k'];
      return {
        label: label ?? 'axel',
        tool,
        template: `${axelTemplate(CONNECTIONS).replace(/ URL$/, '')}${insecure.length ? ' -k' : ''} URL`,
        command: (dir) => ({ cmd: bin, args: [...axelArgs(CONNECTIONS, path.join(dir, name), url).slice(0, -1), ...insecure, url] }),
        expected,
      };
    }
  }
}

/** The CLI script a rangeget build runs (--rangeget / --baseline). */
function cliOf(ctx: Context, tool: RangegetBuild): string {
  if (tool === 'rangeget') return ctx.opts.rangegetCli;
  if (ctx.opts.baselineCli === undefined) throw new Error('tool "baseline" needs --baseline PATH');
  return ctx.opts.baselineCli;
}

/** How a build's CLI script appears in the report's command templates. */
function cliTemplate(tool: RangegetBuild): string {
  return tool === 'rangeget' ? 'bin/rangeget.js' : 'BASELINE';
}

/**
 * Start-up (f): the file with every tool's default flags, plus what Node.js alone costs
 * (`node -e 0`) and `rangeget --version`, each a variant of its own so that they alternate.
 */
function startupVariants(ctx: Context, tools: ToolName[], url: string, sha: string): Variant[] {
  const name = path.posix.basename(new URL(url).pathname);
  const expected = (dir: string): Expected[] => [{ file: path.join(dir, name), sha256: sha }];
  const variants: Variant[] = [
    { label: 'node -e 0', tool: 'rangeget', template: 'node -e 0', command: () => ({ cmd: process.execPath, args: ['-e', '0'] }), expected: () => [] },
  ];
  for (const tool of tools) {
    if (tool === 'rangeget' || tool === 'baseline') {
      variants.push({
        label: tool,
        tool,
        template: `node ${cliTemplate(tool)} --quiet -o OUT URL`,
        command: (dir) => ({ cmd: process.execPath, args: [cliOf(ctx, tool), '--quiet', '-o', path.join(dir, name), url] }),
        expected,
      });
      variants.push({
        label: `${tool} --version`,
        tool,
        template: `node ${cliTemplate(tool)} --version`,
        command: () => ({ cmd: process.execPath, args: [cliOf(ctx, tool), '--version'] }),
        expected: () => [],
      });
    } else if (tool === 'curl') {
      variants.push({ ...singleFileVariant(ctx, tool, url, sha), label: 'curl' });
    } else if (tool === 'aria2c') {
      const bin = ctx.bins.aria2c ?? 'aria2c';
      const args = ['--allow-overwrite=true', '--console-log-level=error', '--summary-interval=0'];
      variants.push({
        label: 'aria2c',
        tool,
        template: `aria2c ${args.join(' ')} -d DIR -o NAME URL`,
        command: (dir) => ({ cmd: bin, args: [...args, '-d', dir, '-o', name, url] }),
        expected,
      });
    }
  }
  return variants;
}

/**
 * b's runs of one tool. rangeget syncs the `.part` file before it claims or places bytes; curl,
 * aria2c and axel leave the write-back to the kernel. Like for like, b also runs rangeget
 * `--no-fsync` and curl followed by `sync OUT` (coreutils: fsync of that file), so that the
 * data path and the disk are told apart (one 1 GiB fdatasync here: 1.1–1.7 s).
 */
function unthrottledVariants(ctx: Context, tool: ToolName, url: string, sha: string): Variant[] {
  const plain = singleFileVariant(ctx, tool, url, sha);
  if (tool === 'rangeget') return [plain, singleFileVariant(ctx, tool, url, sha, ['--no-fsync'], 'rangeget --no-fsync')];
  if (tool !== 'curl') return [plain];
  const bin = ctx.bins.curl ?? 'curl';
  const synced: Variant = {
    ...plain,
    label: 'curl, then sync',
    template: `${plain.template} && sync OUT`,
    command: (dir) => {
      const { args } = plain.command(dir);
      const out = args[args.indexOf('-o') + 1]!;
      return { cmd: 'sh', args: ['-c', '"$@" && sync "$0"', out, bin, ...args] };
    },
  };
  return [plain, synced];
}

function manyFilesVariant(ctx: Context, tool: RangegetBuild | 'aria2c', list: string, files: Expected[]): Variant {
  const expected = (dir: string): Expected[] => files.map((f) => ({ file: path.join(dir, f.file), sha256: f.sha256 }));
  if (tool === 'rangeget' || tool === 'baseline') {
    return {
      label: tool,
      tool,
      template: `node ${cliTemplate(tool)} -i LIST -j 16 -d DIR --quiet`,
      command: (dir) => ({ cmd: process.execPath, args: [cliOf(ctx, tool), '-i', list, '-j', '16', '-d', dir, '--quiet'] }),
      expected,
    };
  }
  return {
    label: 'aria2c',
    tool,
    template: 'aria2c -i LIST -j 16 -d DIR --file-allocation=none --allow-overwrite=true --console-log-level=error --summary-interval=0',
    command: (dir) => ({
      cmd: ctx.bins.aria2c ?? 'aria2c',
      args: [
        '-i',
        list,
        '-j',
        '16',
        '-d',
        dir,
        '--file-allocation=none',
        '--allow-overwrite=true',
        '--console-log-level=error',
        '--summary-interval=0',
      ],
    }),
    expected,
  };
}

// ---------------------------------------------------------------------------------------------
// Tables and targets

/** CPU seconds as `user + sys`, or — without /usr/bin/time. */
function cpu(userS: number | undefined, sysS: number | undefined): string {
  return userS === undefined || sysS === undefined ? '—' : `${userS.toFixed(2)} + ${sysS.toFixed(2)}`;
}

function ratio(s: VariantStats, base: VariantStats | undefined): string {
  if (base?.medianS === undefined || s.medianS === undefined) return '—';
  return (s.medianS / base.medianS).toFixed(2);
}

function scenarioTable(sc: ScenarioResult, idealS?: number): Table {
  const stats = sc.variants.map((v) => statsOf(v, sc.bytes));
  const base = stats.find((s) => s.label === 'rangeget');
  if (sc.id === 'd' || sc.id === 'h') {
    return {
      headers: ['tool', 'runs ok', 'peak RSS MiB (median)', 'peak RSS MiB (max)', 'RSS ÷ rangeget', 'minor faults (median)'],
      align: ['l', 'r', 'r', 'r', 'r', 'r'],
      rows: stats.map((s) => [
        s.label,
        `${s.okRuns}/${s.totalRuns}`,
        fmt(s.rssMedian, 1),
        fmt(s.rssMax, 1),
        base?.rssMedian !== undefined && s.rssMedian !== undefined ? (s.rssMedian / base.rssMedian).toFixed(2) : '—',
        fmt(s.faultsMedian, 0),
      ]),
    };
  }
  const withIdeal = idealS !== undefined;
  // In e, each build's --checksum row is divided by the same build's plain row, and with a
  // baseline a further column divides each baseline row by rangeget's row with the same flags.
  const byLabel = (label: string): VariantStats | undefined => stats.find((x) => x.label === label);
  const buildsInE = sc.id === 'e' && stats.some((s) => s.tool === 'baseline');
  const headers = ['tool', 'runs ok', 'median s', 'MiB/s (median)'];
  if (withIdeal) headers.push('fraction of ideal');
  headers.push('peak RSS MiB (median)', 'CPU s user + sys (median)', 'minor faults (median)', sc.id === 'e' ? 'time ÷ no-checksum' : 'time ÷ rangeget');
  if (buildsInE) headers.push('time ÷ rangeget');
  return {
    headers,
    align: headers.map((_, i) => (i === 0 ? 'l' : 'r')),
    rows: stats.map((s) => {
      const row = [s.label, `${s.okRuns}/${s.totalRuns}`, fmt(s.medianS, 3), fmt(s.mibps, 1)];
      if (withIdeal) row.push(s.medianS === undefined ? '—' : (idealS / s.medianS).toFixed(3));
      row.push(fmt(s.rssMedian, 1), cpu(s.userMedian, s.sysMedian), fmt(s.faultsMedian, 0), ratio(s, sc.id === 'e' ? byLabel(s.tool) : base));
      if (buildsInE) row.push(ratio(s, byLabel(s.label.replace(s.tool, 'rangeget'))));
      return row;
    }),
  };
}

function runDetails(sc: ScenarioResult): string[] {
  const lines: string[] = [];
  for (const v of sc.variants) {
    const times = v.runs.map((r) => (r.ok ? `${r.wallS.toFixed(2)} s (${cpu(r.userS, r.sysS)}, ${fmt(r.minorFaults, 0)} faults)` : 'FAILED')).join(', ');
    lines.push(`${v.label}: ${times}`);
    for (const [i, r] of v.runs.entries()) {
      if (!r.ok) lines.push(`  ${v.label} run ${i + 1} FAILED: ${r.reason ?? '?'}`);
    }
  }
  return lines;
}

interface TargetRow {
  target: string;
  value: string;
  status: string;
}

function findStats(sc: ScenarioResult | undefined, label: string): VariantStats | undefined {
  const v = sc?.variants.find((x) => x.label === label);
  return v && sc ? statsOf(v, sc.bytes) : undefined;
}

/** Like-for-like pairs of b and g (see unthrottledVariants): neither syncs, or both do. */
const SYNC_PAIRS = [
  ['rangeget --no-fsync', 'curl', 'neither syncs'],
  ['rangeget', 'curl, then sync', 'both sync'],
] as const;

/**
 * Issue #12's targets: b (1 GiB unthrottled at 16 connections) against curl, aria2c and axel in
 * the same run, CPU and faults per GiB, peak RSS (b, and h's 4 GiB), g's https against curl.
 */
function unthrottledTargets(b: ScenarioResult | undefined, g: ScenarioResult | undefined, h: ScenarioResult | undefined): TargetRow[] {
  const rows: TargetRow[] = [];
  const na = (target: string, why: string): TargetRow => ({ target, value: '—', status: `not measured (${why})` });
  const verdict = (met: boolean, s: VariantStats): string =>
    (met && s.okRuns === s.totalRuns ? 'met' : 'NOT met') + (s.okRuns < s.totalRuns ? ` (${s.totalRuns - s.okRuns}/${s.totalRuns} rangeget runs FAILED)` : '');
  const rg = findStats(b, 'rangeget');
  const curl = findStats(b, 'curl');
  const perGiB = (x: number): number => x / (b!.bytes / GiB);

  const speedTarget = `unthrottled ≥ ${TARGETS.curlFraction} × curl`;
  if (rg?.medianS === undefined || curl?.medianS === undefined) rows.push(na(speedTarget, 'needs rangeget and curl in b'));
  else {
    const f = curl.medianS / rg.medianS; // rangeget's speed ÷ curl's
    rows.push({ target: speedTarget, value: `${f.toFixed(2)} × curl (${rg.medianS.toFixed(2)} s against ${curl.medianS.toFixed(2)} s)`, status: verdict(f >= TARGETS.curlFraction, rg) });
  }
  const peers = (['aria2c', 'axel'] as const).map((t) => [t, findStats(b, t)] as const).filter(([, s]) => s?.medianS !== undefined);
  const peerTarget = 'unthrottled faster than aria2c and axel';
  if (rg?.medianS === undefined || peers.length === 0) rows.push(na(peerTarget, 'needs rangeget and aria2c or axel in b'));
  else {
    const value = peers.map(([t, s]) => `${t} ÷ rangeget = ${(s!.medianS! / rg.medianS!).toFixed(2)}`).join(', ');
    const missing = peers.length < 2 ? ` (${peers[0]![0] === 'axel' ? 'aria2c' : 'axel'} not run)` : '';
    rows.push({ target: peerTarget, value: value + missing, status: verdict(peers.every(([, s]) => rg.medianS! < s!.medianS!) && missing === '', rg) });
  }
  // Like for like (see unthrottledVariants): neither syncs, or both do.
  const likeForLike = (sc: ScenarioResult | undefined, id: string, what: string, fraction: number): void => {
    for (const [ours, theirs, how] of SYNC_PAIRS) {
      const o = findStats(sc, ours);
      const c = findStats(sc, theirs);
      const target = `${what} ≥ ${fraction} × curl, ${how}`;
      if (o?.medianS === undefined || c?.medianS === undefined) rows.push(na(target, `needs ${ours} and ${theirs} in ${id}`));
      else {
        const f = c.medianS / o.medianS;
        rows.push({ target, value: `${f.toFixed(2)} × (${ours} ${o.medianS.toFixed(2)} s against ${theirs} ${c.medianS.toFixed(2)} s)`, status: verdict(f >= fraction, o) });
      }
    }
  };
  likeForLike(b, 'b', 'unthrottled', TARGETS.curlFraction);
  // aria2c and axel sync nothing either: rangeget --no-fsync against them is the like-for-like race.
  const rgFast = findStats(b, 'rangeget --no-fsync');
  const fastTarget = `${peerTarget}, none syncs`;
  if (rgFast?.medianS === undefined || peers.length < 2) rows.push(na(fastTarget, 'needs rangeget --no-fsync, aria2c and axel in b'));
  else {
    const value = peers.map(([t, s]) => `${t} ÷ rangeget --no-fsync = ${(s!.medianS! / rgFast.medianS!).toFixed(2)}`).join(', ');
    rows.push({ target: fastTarget, value, status: verdict(peers.every(([, s]) => rgFast.medianS! < s!.medianS!), rgFast) });
  }
  // CPU as the times above: as run (rangeget syncs, curl does not), then neither syncs, then both
  // do (a sync's CPU, the kernel's write-back started in the syscall, is in both figures).
  const cpuPairs = [['rangeget', 'curl', ''] as const, ...SYNC_PAIRS.map(([ours, theirs, how]) => [ours, theirs, `, ${how}`] as const)];
  for (const [ours, theirs, how] of cpuPairs) {
    const o = findStats(b, ours);
    const c = findStats(b, theirs);
    const cpuTarget = `CPU (user + sys) ≤ ${TARGETS.cpuVsCurl} × curl's${how}`;
    if (o?.cpuMedian === undefined || c?.cpuMedian === undefined) rows.push(na(cpuTarget, `needs ${ours} and ${theirs} in b, and /usr/bin/time`));
    else {
      const r = o.cpuMedian / c.cpuMedian;
      const value = `${r.toFixed(2)} × (${perGiB(o.cpuMedian).toFixed(2)} s per GiB against ${perGiB(c.cpuMedian).toFixed(2)} s${how ? `: ${ours} against ${theirs}` : ''})`;
      rows.push({ target: cpuTarget, value, status: verdict(r <= TARGETS.cpuVsCurl, o) });
    }
  }
  const faultTarget = `minor page faults ≤ ${TARGETS.faultsPerGiB} per GiB`;
  if (rg?.faultsMedian === undefined) rows.push(na(faultTarget, 'needs rangeget in b, and /usr/bin/time'));
  else {
    // Start-up's faults do not scale with the size: a --quick run's figure per GiB is pessimistic.
    const f = perGiB(rg.faultsMedian);
    rows.push({ target: faultTarget, value: `${f.toFixed(0)} per GiB (${rg.faultsMedian.toFixed(0)} for ${b!.bytes / MiB} MiB)`, status: verdict(f <= TARGETS.faultsPerGiB, rg) });
  }
  const rssTarget = `peak RSS ≤ ${TARGETS.rssMiB} MiB at ${CONNECTIONS} connections`;
  if (rg?.rssMax === undefined) rows.push(na(rssTarget, 'needs rangeget in b/d'));
  else rows.push({ target: rssTarget, value: `max ${rg.rssMax.toFixed(1)} MiB (median ${fmt(rg.rssMedian, 1)})`, status: verdict(rg.rssMax <= TARGETS.rssMiB, rg) });
  const rg4 = findStats(h, 'rangeget');
  const bigTarget = `peak RSS for ${h ? h.bytes / GiB : 4} GiB no higher (≤ ${TARGETS.rssMiB} MiB)`;
  if (rg4?.rssMax === undefined) rows.push(na(bigTarget, 'opt-in: --scenario h'));
  else {
    const vs = rg?.rssMax === undefined ? '' : ` against ${rg.rssMax.toFixed(1)} MiB for ${b!.bytes / MiB} MiB`;
    rows.push({ target: bigTarget, value: `max ${rg4.rssMax.toFixed(1)} MiB${vs}`, status: verdict(rg4.rssMax <= TARGETS.rssMiB, rg4) });
  }
  const rgG = findStats(g, 'rangeget');
  const curlG = findStats(g, 'curl');
  const httpsTarget = `https ≥ ${TARGETS.httpsCurlFraction} × curl`;
  if (rgG?.medianS === undefined || curlG?.medianS === undefined) rows.push(na(httpsTarget, 'needs rangeget and curl in g'));
  else {
    const f = curlG.medianS / rgG.medianS;
    rows.push({ target: httpsTarget, value: `${f.toFixed(2)} × curl (${rgG.medianS.toFixed(2)} s against ${curlG.medianS.toFixed(2)} s)`, status: verdict(f >= TARGETS.httpsCurlFraction, rgG) });
  }
  likeForLike(g, 'g', 'https', TARGETS.httpsCurlFraction);
  return rows;
}

function evaluateTargets(results: Map<ScenarioId, ScenarioResult>, idealS: number): TargetRow[] {
  const rows: TargetRow[] = [];
  const na = (why: string): string => `not measured (${why})`;
  const failedNote = (s: VariantStats): string =>
    s.okRuns < s.totalRuns ? ` (${s.totalRuns - s.okRuns}/${s.totalRuns} rangeget runs FAILED)` : '';
  const verdict = (met: boolean, s: VariantStats): string =>
    (met && s.okRuns === s.totalRuns ? 'met' : 'NOT met') + failedNote(s);

  const a = results.get('a');
  const rgA = findStats(a, 'rangeget');
  const ariaA = findStats(a, 'aria2c');
  if (rgA?.medianS === undefined) rows.push({ target: `throttled ≥ ${TARGETS.throttledFraction} of ideal`, value: '—', status: na('no rangeget runs in a') });
  else {
    const f = idealS / rgA.medianS;
    // What one throttled connection really got in this run (curl), for context on a loaded machine.
    const curlA = findStats(a, 'curl');
    const ctxNote =
      curlA?.mibps === undefined
        ? ''
        : ` (${((a!.bytes / MiB / (CONNECTIONS * curlA.mibps)) / rgA.medianS).toFixed(3)} of ${CONNECTIONS} × the ` +
          `${curlA.mibps.toFixed(2)} MiB/s one curl connection got)`;
    rows.push({
      target: `throttled ≥ ${TARGETS.throttledFraction} of ideal`,
      value: `${f.toFixed(3)}${ctxNote}`,
      status: verdict(f >= TARGETS.throttledFraction, rgA),
    });
  }
  if (rgA?.medianS === undefined || ariaA?.medianS === undefined)
    rows.push({ target: 'throttled faster than aria2c', value: '—', status: na('needs rangeget and aria2c in a') });
  else
    rows.push({
      target: 'throttled faster than aria2c',
      value: `aria2c ÷ rangeget = ${(ariaA.medianS / rgA.medianS).toFixed(2)}`,
      status: verdict(rgA.medianS < ariaA.medianS, rgA),
    });

  rows.push(...unthrottledTargets(results.get('b') ?? results.get('d'), results.get('g'), results.get('h')));

  const e = results.get('e');
  const plain = findStats(e, 'rangeget');
  const withSum = findStats(e, 'rangeget --checksum');
  if (plain?.medianS === undefined || withSum?.medianS === undefined)
    rows.push({ target: `checksum overhead ≤ ${Math.round((TARGETS.checksumRatio - 1) * 100)}%`, value: '—', status: na('needs scenario e') });
  else {
    const r = withSum.medianS / plain.medianS;
    const worst = plain.okRuns < plain.totalRuns ? plain : withSum; // either one's failures count
    rows.push({
      target: `checksum overhead ≤ ${Math.round((TARGETS.checksumRatio - 1) * 100)}%`,
      value: `ratio ${r.toFixed(3)}`,
      status: verdict(r <= TARGETS.checksumRatio, worst),
    });
  }
  const f = results.get('f');
  const rgF = findStats(f, 'rangeget');
  const nodeF = findStats(f, 'node -e 0');
  const startTarget = `one 256 KiB file ≤ ${TARGETS.startupRatio} × node -e 0`;
  if (rgF?.medianS === undefined || nodeF?.medianS === undefined) rows.push({ target: startTarget, value: '—', status: na('needs scenario f') });
  else {
    const r = rgF.medianS / nodeF.medianS;
    rows.push({
      target: startTarget,
      value: `${rgF.medianS.toFixed(3)} s against ${nodeF.medianS.toFixed(3)} s: ${r.toFixed(2)} ×`,
      status: verdict(r <= TARGETS.startupRatio, rgF),
    });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Main

let nginx: NginxServer | undefined;
let tmpDir: string | undefined;

function cleanupSync(): void {
  killActiveRuns();
  nginx?.stopSync();
  matrixCleanupSync();
  if (tmpDir !== undefined) {
    rmSync(tmpDir, { recursive: true, force: true });
    tmpDir = undefined;
  }
}

process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    console.error(`\nbench: ${sig} received, stopping tools and nginx, removing the temp folder`);
    cleanupSync();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const root = projectRoot();
  if (process.argv.slice(2).includes('--matrix')) return runMatrix(process.argv.slice(2), root);
  const opts = parseOptions(root);

  // --- what is installed
  const nginxBin = which('nginx');
  const timeBin = which('/usr/bin/time');
  const bins: Partial<Record<ToolName, string>> = {};
  const missing: string[] = [];
  if (!nginxBin) missing.push('nginx');
  for (const t of ['curl', 'aria2c', 'axel'] as const) {
    const b = which(t);
    if (b) bins[t] = b;
    else missing.push(t);
  }
  if (missing.length > 0) {
    console.log(`missing: ${missing.join(', ')} — install with:\n  ${APT_LINE}`);
  }
  if (!timeBin) console.log('missing: /usr/bin/time (peak RSS will not be measured) — apt-get install -y time');
  if (!nginxBin) {
    console.error('nginx is required to serve the test files; install it and run again.');
    return 1;
  }
  const tools: ToolName[] = [];
  for (const t of opts.tools) {
    if (t !== 'rangeget' && t !== 'baseline' && !bins[t]) console.log(`skipping ${t}: not installed`);
    else tools.push(t);
  }

  // Each build of rangeget must answer --help (its text also tells whether it has --input-file).
  const helpOf: Partial<Record<RangegetBuild, string>> = {};
  for (const t of ['rangeget', 'baseline'] as const) {
    if (!tools.includes(t)) continue;
    const cli = t === 'rangeget' ? opts.rangegetCli : opts.baselineCli!;
    const r = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8', timeout: 30_000, cwd: root });
    const help = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    helpOf[t] = help;
    if (r.status !== 0) {
      const why = r.error ? String(r.error) : `exit ${String(r.status)}`;
      console.log(`skipping ${t}: \`node ${path.relative(root, cli)} --help\` failed (${why})`);
      const firstLines = help.trim().split('\n').slice(0, 5).join('\n    ');
      if (firstLines) console.log(`    ${firstLines}`);
      tools.splice(tools.indexOf(t), 1);
    }
  }
  const rangegetHelp = helpOf.rangeget ?? '';
  const hasRangeget = tools.includes('rangeget');
  const hasBaseline = tools.includes('baseline');
  /** The builds that run in c and e, in the order of --tools. */
  const builds = tools.filter((t): t is RangegetBuild => t === 'rangeget' || t === 'baseline');
  const baselineInC = hasBaseline && (helpOf.baseline ?? '').includes('--input-file');

  // --- sizes and which scenarios actually run
  const bigA = opts.quick ? 128 * MiB : 256 * MiB;
  const bigB = opts.quick ? 256 * MiB : 1 * GiB;
  const bigH = opts.quick ? 1 * GiB : 4 * GiB;
  const idealS = bigA / (CONNECTIONS * LIMIT_RATE_BYTES);
  const sc = opts.scenarios;
  const skipped = new Map<ScenarioId, string>();
  const singleTools = tools;
  if ((sc.has('a') || sc.has('b') || sc.has('d')) && singleTools.length === 0) {
    for (const id of ['a', 'b', 'd'] as const) if (sc.has(id)) skipped.set(id, 'no tool to run');
  }
  if (sc.has('c')) {
    if (hasRangeget && !rangegetHelp.includes('--input-file'))
      skipped.set('c', 'rangeget --help does not mention --input-file yet');
    else if (!tools.includes('rangeget') && !tools.includes('aria2c') && !baselineInC)
      skipped.set('c', hasBaseline ? 'needs rangeget, aria2c, or a baseline with --input-file' : 'needs rangeget or aria2c');
    else if (!hasRangeget) {
      const only = [baselineInC ? 'baseline' : '', tools.includes('aria2c') ? 'aria2c' : ''].filter((x) => x !== '');
      console.log(`note: scenario c runs without rangeget (not selected or not working): ${only.join(' and ')} only`);
    }
    if (hasBaseline && !baselineInC && !skipped.has('c'))
      console.log('note: baseline is not run in scenario c: its --help does not mention --input-file');
  }
  if (sc.has('e') && !hasRangeget && !hasBaseline) skipped.set('e', 'needs a working rangeget');
  if (sc.has('f') && !hasRangeget && !hasBaseline) skipped.set('f', 'needs a working rangeget');
  const opensslBin = which('openssl');
  if (sc.has('g') && !opensslBin) skipped.set('g', 'needs openssl (for the test certificates)');
  if (sc.has('g') && singleTools.length === 0) skipped.set('g', 'no tool to run');
  if (sc.has('h') && !hasRangeget && !hasBaseline) skipped.set('h', 'needs a working rangeget');
  const willRun = (id: ScenarioId): boolean => sc.has(id) && !skipped.has(id);
  for (const [id, why] of skipped) console.log(`scenario ${id} skipped: ${why}`);

  // --- temp folder, test files, nginx
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'rangeget-bench-'));
  chmodSync(tmpDir, 0o755); // nginx workers may run as another user
  const tmp = tmpDir;
  const dataDir = path.join(tmp, 'data');
  const outRoot = path.join(tmp, 'out');
  mkdirSync(dataDir, { mode: 0o755 });
  mkdirSync(outRoot);
  chmodSync(dataDir, 0o755);

  const gen = (name: string, size: number): string => writeRandomFile(path.join(dataDir, name), size);
  const tg = Date.now();
  const nameA = `throttled-${bigA / MiB}M.bin`;
  const nameB = `big-${bigB / MiB}M.bin`;
  const shaA = willRun('a') ? gen(nameA, bigA) : '';
  const shaB = willRun('b') || willRun('d') || willRun('e') || willRun('g') ? gen(nameB, bigB) : '';
  const nameH = `big-${bigH / MiB}M.bin`;
  const shaH = willRun('h') ? gen(nameH, bigH) : '';
  const nameF = 'small-256K.bin';
  const shaF = willRun('f') ? gen(nameF, 256 * KiB) : '';
  const many: Expected[] = [];
  if (willRun('c')) {
    mkdirSync(path.join(dataDir, 'many'), { mode: 0o755 });
    chmodSync(path.join(dataDir, 'many'), 0o755);
    for (let i = 0; i < MANY_COUNT; i++) {
      const name = `f${String(i).padStart(3, '0')}.bin`;
      many.push({ file: name, sha256: gen(path.join('many', name), MANY_SIZE) });
    }
  }
  spawnSync('sync');
  console.log(`test files written in ${((Date.now() - tg) / 1000).toFixed(1)} s under ${tmp}`);

  const certs = willRun('g') && opensslBin ? makeTestCertificates(opensslBin, path.join(tmp, 'tls')) : undefined;
  nginx = await startNginx({ nginxBin, prefix: tmp, dataDir, limitRate: LIMIT_RATE, ...(certs ? { tls: certs } : {}) });
  console.log(
    `nginx serving on ${nginx.baseUrl}${nginx.httpsUrl ? ` and ${nginx.httpsUrl}` : ''} (/throttled/ limit_rate ${LIMIT_RATE}, /fast/ unthrottled)`,
  );
  const base = nginx.baseUrl;

  const ctx: Context = { opts, tmp, outRoot, env: loopbackEnv(), timeBin, bins, caFile: certs?.caFile };
  const results = new Map<ScenarioId, ScenarioResult>();

  if (willRun('a') && !stopping) {
    const url = `${base}/throttled/${nameA}`;
    const variants = singleTools.map((t) => singleFileVariant(ctx, t, url, shaA));
    results.set(
      'a',
      await runScenario(
        ctx,
        'a',
        'throttled',
        `${bigA / MiB} MiB, limit_rate ${LIMIT_RATE} per connection, ${CONNECTIONS} connections; ` +
          `ideal ${idealS.toFixed(2)} s (${CONNECTIONS} × 8 MiB/s)`,
        bigA,
        variants,
      ),
    );
  }
  if ((willRun('b') || willRun('d')) && !stopping) {
    const url = `${base}/fast/${nameB}`;
    const variants = singleTools.flatMap((t) => unthrottledVariants(ctx, t, url, shaB));
    const r = await runScenario(ctx, 'b', 'unthrottled', `${bigB / MiB} MiB over loopback, ${CONNECTIONS} connections`, bigB, variants);
    if (willRun('b')) results.set('b', r);
    if (willRun('d'))
      results.set('d', { ...r, id: 'd', title: 'memory', description: `peak RSS downloading ${bigB / MiB} MiB at ${CONNECTIONS} connections (runs of b)` });
  }
  if (willRun('c') && !stopping) {
    const list = path.join(tmp, 'list.txt');
    writeFileSync(list, many.map((f) => `${base}/fast/many/${f.file}`).join('\n') + '\n');
    const variants: Variant[] = [];
    for (const t of tools) {
      if (t === 'rangeget' || (t === 'baseline' && baselineInC) || t === 'aria2c') variants.push(manyFilesVariant(ctx, t, list, many));
    }
    const desc = `${MANY_COUNT} files × ${MANY_SIZE / KiB} KiB from a list, 16 at a time`;
    results.set('c', await runScenario(ctx, 'c', 'many files', desc, MANY_COUNT * MANY_SIZE, variants));
  }
  if (willRun('e') && !stopping) {
    const url = `${base}/fast/${nameB}`;
    // Plain runs first, then --checksum: rangeget, baseline, rangeget --checksum, baseline --checksum.
    const variants = [
      ...builds.map((t) => singleFileVariant(ctx, t, url, shaB)),
      ...builds.map((t) => singleFileVariant(ctx, t, url, shaB, ['--checksum', `sha256=${shaB}`], `${t} --checksum`)),
    ];
    const desc = `${builds.join(' and ')} on ${bigB / MiB} MiB with and without --checksum sha256=HEX`;
    results.set('e', await runScenario(ctx, 'e', 'checksum overhead', desc, bigB, variants));
  }

  if (willRun('f') && !stopping) {
    const desc = `one 256 KiB file over loopback with default flags, against node -e 0 and rangeget --version`;
    results.set('f', await runScenario(ctx, 'f', 'start-up', desc, 256 * KiB, startupVariants(ctx, tools, `${base}/fast/${nameF}`, shaF)));
  }
  if (willRun('g') && !stopping && nginx.httpsUrl !== undefined) {
    const url = `${nginx.httpsUrl}/fast/${nameB}`;
    // As in b, rangeget --no-fsync and curl then sync besides: the disk apart from the TLS path.
    const variants = singleTools.flatMap((t) => unthrottledVariants(ctx, t, url, shaB));
    const desc =
      `${bigB / MiB} MiB over loopback TLS (nginx, a P-256 certificate from a test CA made by openssl for this run; TLS 1.3, AES-256-GCM), ` +
      `${CONNECTIONS} connections; curl, rangeget and aria2c verify against the CA, axel cannot be given one and runs with -k; ` +
      `as in b, rangeget --no-fsync and curl then sync besides`;
    results.set('g', await runScenario(ctx, 'g', 'https', desc, bigB, variants));
  }
  if (willRun('h') && !stopping) {
    const url = `${base}/fast/${nameH}`;
    const desc = `peak RSS downloading ${bigH / MiB} MiB at ${CONNECTIONS} connections (against d's ${bigB / MiB} MiB)`;
    results.set('h', await runScenario(ctx, 'h', 'memory, bigger file', desc, bigH, builds.map((t) => singleFileVariant(ctx, t, url, shaH))));
  }

  // --- report
  const nodeV = process.version;
  const versions: Array<[string, string]> = [
    ['node', nodeV],
    ['nginx', (versionLine(nginxBin, ['-v']) ?? '?').replace(/^nginx version: /, '')],
  ];
  if (hasRangeget) {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string };
    versions.unshift(['rangeget', `${pkg.version ?? '?'} @ ${gitRev(root) ?? 'no git'}`]);
  }
  if (hasBaseline && opts.baselineCli !== undefined) {
    // The baseline's own --version, and its commit when its project folder is a git checkout.
    const cli = opts.baselineCli;
    const v = versionLine(process.execPath, [cli, '--version']) ?? '?';
    const baseRoot = path.dirname(path.dirname(cli));
    const rev = existsSync(path.join(baseRoot, '.git')) ? gitRev(baseRoot) : undefined;
    versions.splice(hasRangeget ? 1 : 0, 0, ['baseline', `${v}${rev ? ` @ ${rev}` : ''} (${cli})`]);
  }
  if (bins.curl) versions.push(['curl', (versionLine(bins.curl, ['--version']) ?? '?').split(' ').slice(0, 2).join(' ')]);
  if (bins.aria2c) versions.push(['aria2c', versionLine(bins.aria2c, ['--version']) ?? '?']);
  if (bins.axel) versions.push(['axel', versionLine(bins.axel, ['--version']) ?? '?']);
  const cpus = os.cpus();
  const date = new Date().toISOString();
  const cmd = commandLine();
  const targets = evaluateTargets(results, idealS);
  const targetTable: Table = {
    headers: ['target', 'measured', 'status'],
    align: ['l', 'l', 'l'],
    rows: targets.map((t) => [t.target, t.value, t.status]),
  };
  const order: ScenarioId[] = [...SCENARIOS];

  console.log(`\n==== results (${opts.runs} runs each, medians; ratios are of same-run medians; > 1 means rangeget is faster)`);
  for (const id of order) {
    const r = results.get(id);
    if (!r) continue;
    console.log(`\n${id}) ${r.title}: ${r.description}`);
    console.log(textTable(scenarioTable(r, id === 'a' ? idealS : undefined)));
    if (id !== 'd') for (const l of runDetails(r)) console.log(`  ${l}`);
  }
  for (const [id, why] of skipped) console.log(`\n${id}) skipped: ${why}`);
  console.log(`\ntargets${opts.quick ? ' (--quick: smaller files than the targets are defined for)' : ''}:`);
  console.log(textTable(targetTable));
  const baselineVersion = versions.find(([k]) => k === 'baseline');
  if (baselineVersion) console.log(`\nbaseline: ${baselineVersion[1]}`);
  console.log(`${baselineVersion ? '' : '\n'}${cpus.length} CPUs, node ${nodeV}; total ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  if (opts.write) {
    const md: string[] = [];
    md.push('# Benchmarks', '');
    md.push('Generated by `bench/bench.ts` (see the comment at its top for what it does). Everything runs on one');
    md.push('machine over 127.0.0.1 against a private nginx; the tools run alternately, in another order each round');
    md.push('(a balanced Latin square: a fixed order measured a bias of its own), each run verified by sha256.');
    md.push('Medians only; ratios are tool median ÷ rangeget median from the same run (> 1 means rangeget is faster).');
    md.push(`/throttled/ is \`limit_rate ${LIMIT_RATE}\` (8 MiB/s per connection) with \`sendfile_max_chunk 128k\`, so a request`);
    md.push('gets at most ~128 KiB ahead of the limit (with the default 2m chunk, each range request of ≤ 2 MiB would be unthrottled).');
    md.push("In a), curl's row shows what one throttled connection actually got in this run (8.0 MiB/s on an idle machine).");
    md.push('Each run is under `/usr/bin/time -v`: CPU seconds, minor page faults (memory first touched) and peak RSS hold');
    md.push('steady on a busy machine, wall times do not. In g), axel cannot be given a CA and runs with `-k` (no certificate');
    md.push('check); the other tools verify against the test CA made for the run.');
    md.push('');
    md.push(`- date: ${date}`);
    md.push(`- command: \`${cmd}\``);
    md.push(`- runs per tool: ${opts.runs}${opts.quick ? ' (--quick: smaller files)' : ''}`);
    md.push(`- CPUs: ${cpus.length} (${cpus[0]?.model.trim() ?? '?'}), memory ${(os.totalmem() / GiB).toFixed(0)} GiB, ${os.type()} ${os.release()}`);
    for (const [k, v] of versions) md.push(`- ${k}: ${v}`);
    md.push('');
    md.push('## Targets', '');
    if (opts.quick) md.push('_Measured with --quick: smaller files than the targets are defined for._', '');
    md.push(markdownTable(targetTable), '');
    const file = path.join(root, 'BENCHMARKS.md');
    const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
    // Notes written by hand about start-up (how it was measured beyond this table): kept as they are.
    const notesAt = [previous.indexOf(STARTUP_NOTES[0]), previous.indexOf(STARTUP_NOTES[1])] as const;
    let notes = notesAt[0] >= 0 && notesAt[1] > notesAt[0] ? previous.slice(notesAt[0], notesAt[1] + STARTUP_NOTES[1].length) : undefined;
    for (const id of order) {
      const r = results.get(id);
      if (!r) continue;
      md.push(`## ${id}) ${r.title}`, '', `${r.description}.`, '');
      md.push(markdownTable(scenarioTable(r, id === 'a' ? idealS : undefined)), '');
      if (id !== 'd') {
        md.push('Commands:', '');
        for (const v of r.variants) md.push(`- ${v.label}: \`${v.template}\``);
        md.push('', 'Per-run wall times, in run order:', '');
        for (const l of runDetails(r)) md.push(`- ${l.trim()}`);
        md.push('');
      }
      if (id === 'f' && notes !== undefined) {
        md.push(notes, '');
        notes = undefined;
      }
    }
    for (const [id, why] of skipped) md.push(`## ${id}) skipped`, '', `${why}.`, '');
    if (notes !== undefined) md.push(notes, '');
    // The latency matrix (--matrix) writes a section of its own: kept as it is, with the notes after it.
    const matrix = matrixTail(previous);
    if (matrix !== undefined) md.push(matrix, '');
    writeFileSync(file, md.join('\n'));
    console.log(`wrote ${file}`);
  }

  const rangegetFailed = [...results.values()].some((r) =>
    r.variants.some((v) => v.tool === 'rangeget' && v.runs.some((x) => !x.ok)),
  );
  return stopping ? 130 : rangegetFailed ? 1 : 0;
}

main()
  .then(async (code) => {
    process.exitCode = code;
  })
  .catch((err: unknown) => {
    console.error('bench failed:', err instanceof Error ? err.message : err);
    process.exitCode = 1;
  })
  .finally(async () => {
    killActiveRuns();
    await nginx?.stop();
    nginx = undefined;
    if (tmpDir !== undefined) rmSync(tmpDir, { recursive: true, force: true });
    tmpDir = undefined;
  });
