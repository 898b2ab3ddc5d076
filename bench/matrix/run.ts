// The latency matrix (`npm run bench -- --matrix`): every round trip × loss × rate point in its own
// network namespace, the tools alternating inside it, every output sha256-checked.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { aria2cArgs, aria2cTemplate, axelArgs, axelTemplate } from '../commands.js';
import { startNginx, type NginxServer } from '../nginx.js';
import { textTable } from '../report.js';
import { cleanStale, missingRequirements, setupNetem, teardownAllSync, type Netem, type ProcessTimes } from '../netem/netns.js';
import { runVerified } from '../verify.js';
import { baselineScript, commandLine, gitRev, isAlive, loopbackEnv, MiB, versionLine, which, writeRandomFile } from '../util.js';
import { MATRIX_USAGE, parseMatrixArgs, type MatrixOptions } from './options.js';
import { markdownSection, matrixTable, rttLabel, runLines, spliceSection, tally, type MatrixRun, type PointResult, type Role } from './report.js';

const PEER_CONNECTIONS = 16;
const LIMIT_RATE = '8m';

interface MatrixTool {
  label: string;
  role: Role;
  template: string;
  command(dir: string, url: string): { cmd: string; args: string[] };
}

let nginx: NginxServer | undefined;
let tmpDir: string | undefined;

const TEMP_PREFIX = 'rangeget-matrix-';
const OWNER_FILE = 'owner.pid';

/** Removes the temp folders (test file, nginx prefix) of earlier runs whose process is gone. */
function cleanStaleTemp(): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(os.tmpdir()).filter((n) => n.startsWith(TEMP_PREFIX))) {
    const dir = path.join(os.tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // not one of ours, or not finished being made
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Stops nginx, tears the namespaces down and removes the temp folder (exit and signal handlers). */
export function matrixCleanupSync(): void {
  nginx?.stopSync();
  nginx = undefined;
  teardownAllSync();
  if (tmpDir !== undefined) rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = undefined;
}

function toolsOf(o: MatrixOptions, root: string, name: string): MatrixTool[] {
  const rangeget = path.resolve(root, o.rangeget ?? path.join('bin', 'rangeget.js'));
  const build = (label: string, role: Role, cli: string, shown: string, extra: string[]): MatrixTool => ({
    label,
    role,
    template: `node ${shown} --quiet ${extra.length ? `${extra.join(' ')} ` : ''}-o OUT URL`,
    command: (dir, url) => ({ cmd: process.execPath, args: [cli, '--quiet', ...extra, '-o', path.join(dir, name), url] }),
  });
  const tools: MatrixTool[] = [];
  for (const t of o.tools) {
    if (t === 'rangeget') tools.push(build('rangeget', 'rangeget', rangeget, 'bin/rangeget.js', []));
    if (t === 'baseline' && o.baseline !== undefined) tools.push(build('baseline', 'baseline', baselineScript(path.resolve(root, o.baseline)), 'BASELINE', []));
    const bin = t === 'aria2c' || t === 'axel' ? which(t) : undefined;
    if (t === 'aria2c' && bin)
      tools.push({ label: 'aria2c', role: 'peer', template: aria2cTemplate(PEER_CONNECTIONS), command: (dir, url) => ({ cmd: bin, args: aria2cArgs(PEER_CONNECTIONS, dir, name, url) }) });
    if (t === 'axel' && bin)
      tools.push({ label: 'axel', role: 'peer', template: axelTemplate(PEER_CONNECTIONS), command: (dir, url) => ({ cmd: bin, args: axelArgs(PEER_CONNECTIONS, path.join(dir, name), url) }) });
    if ((t === 'aria2c' || t === 'axel') && !bin) console.log(`skipping ${t}: not installed (apt-get install -y aria2 axel)`);
  }
  // The --variant rows right after rangeget's (first without it), so that they alternate closely.
  const variants = o.variants.map((v) => build(`rangeget ${v.join(' ')}`, 'variant', rangeget, 'bin/rangeget.js', v));
  tools.splice(tools.findIndex((t) => t.role === 'rangeget') + 1, 0, ...variants);
  return tools;
}

interface Run {
  o: MatrixOptions;
  tools: MatrixTool[];
  sha: string;
  name: string;
  tmp: string;
  timeBin: string | undefined;
}

/** One point: the tools alternate `runs` times; a tool that timed out is not run again here. */
async function runPoint(r: Run, netem: Netem, base: string, throttled: boolean): Promise<PointResult> {
  const spec = netem.spec;
  const tag = `${rttLabel(spec.rttMs)}, ${spec.lossPct} % loss, ${throttled ? `${LIMIT_RATE}/conn` : 'unthrottled'}`;
  console.log(`\n== ${tag} (namespace ${netem.name})`);
  const url = `${base}/${throttled ? 'throttled' : 'fast'}/${r.name}`;
  const point: PointResult = { rttMs: spec.rttMs, lossPct: spec.lossPct, throttled, error: undefined, tools: r.tools.map((t) => ({ label: t.label, role: t.role, template: t.template, runs: [] })) };
  const width = Math.max(...r.tools.map((t) => t.label.length));
  const skip = new Map<number, string>();
  for (let n = 1; n <= r.o.runs; n++) {
    // Each round starts one tool later: whatever a run leaves behind (connections closing, the
    // delay queue draining) falls on a different tool each time. With a fixed order, two
    // identical rangeget rows measured 2.25 s and 3.28 s (the second always after the first).
    const order = r.tools.map((_, k) => (k + n - 1) % r.tools.length);
    for (const i of order) {
      const t = r.tools[i]!;
      const runs = point.tools[i]!.runs;
      const skipped = skip.get(i);
      if (skipped !== undefined) {
        runs.push({ ok: false, wallS: Number.NaN, delayCpu: undefined, delayWait: undefined, reason: skipped });
        continue;
      }
      const t0 = netem.delayTimes();
      const command = (dir: string): { cmd: string; args: string[] } => {
        const c = t.command(dir, url);
        return netem.wrap(c.cmd, c.args);
      };
      const { res, reason: why } = await runVerified(path.join(r.tmp, 'out', `${i}-${n}`), command, (dir) => [{ file: path.join(dir, r.name), sha256: r.sha }], {
        env: loopbackEnv(),
        timeoutMs: r.o.timeoutMs,
        timeBin: r.timeBin,
        timeFile: path.join(r.tmp, 'time.txt'),
      });
      const t1 = netem.delayTimes();
      const reason = netem.delayAlive() ? why : `the delay process died${why ? ` (${why})` : ''}`;
      if (res.timedOut) skip.set(i, 'not run: an earlier run timed out');
      const share = (f: (x: ProcessTimes) => number): number | undefined => (t0 === undefined || t1 === undefined ? undefined : (f(t1) - f(t0)) / res.wallS);
      const delayCpu = share((x) => x.cpuS);
      const delayWait = share((x) => x.waitS);
      const run: MatrixRun = { ok: reason === undefined, wallS: res.wallS, delayCpu, delayWait, reason };
      runs.push(run);
      console.log(
        `  ${n}/${r.o.runs}  ${t.label.padEnd(width)}  ${res.wallS.toFixed(3).padStart(8)} s  ${(r.o.size / MiB / res.wallS).toFixed(1).padStart(7)} MiB/s` +
          `  delay CPU ${pct(delayCpu).padStart(5)} waiting ${pct(delayWait).padStart(5)}  ${reason === undefined ? 'ok (sha256)' : `FAILED: ${reason}`}`,
      );
      if (reason !== undefined && res.outputTail !== '') console.log(`      output: ${res.outputTail.split('\n').slice(-5).join('\n              ')}`);
      if (!netem.delayAlive()) throw new Error(`the delay process of ${netem.name} died`);
    }
  }
  return point;
}

/** Runs the matrix and prints (and with --write, records) its report; returns the exit code. */
export async function runMatrix(argv: string[], root: string): Promise<number> {
  const t0 = Date.now();
  const o = parseMatrixArgs(argv);
  if (o === 'help') {
    console.log(MATRIX_USAGE);
    return 0;
  }
  const nginxBin = which('nginx');
  const missing = missingRequirements();
  if (!nginxBin) missing.push('nginx: apt-get install -y nginx-light');
  if (missing.length > 0) {
    console.error(`the latency matrix needs:\n  ${missing.join('\n  ')}`);
    return 1;
  }
  for (const name of cleanStale()) console.log(`removed namespace ${name}, left by an earlier run that was killed`);
  for (const dir of cleanStaleTemp()) console.log(`removed ${dir}, left by an earlier run that was killed`);
  try {
    return await measure(o, root, nginxBin!, t0);
  } finally {
    matrixCleanupSync();
  }
}

async function measure(o: MatrixOptions, root: string, nginxBin: string, t0: number): Promise<number> {
  tmpDir = mkdtempSync(path.join(os.tmpdir(), TEMP_PREFIX));
  chmodSync(tmpDir, 0o755); // nginx workers may run as another user
  writeFileSync(path.join(tmpDir, OWNER_FILE), String(process.pid));
  const tmp = tmpDir;
  const dataDir = path.join(tmp, 'data');
  mkdirSync(dataDir, { mode: 0o755 });
  chmodSync(dataDir, 0o755);
  const name = `matrix-${Math.round(r2(o.size / MiB))}M.bin`;
  const sha = writeRandomFile(path.join(dataDir, name), o.size);
  const tools = toolsOf(o, root, name);
  if (tools.length === 0) throw new Error('no tool to run');
  const run: Run = { o, tools, sha, name, tmp, timeBin: which('/usr/bin/time') };
  const delayScript = path.join(root, 'bench', 'netem', 'delay.py');
  if (!existsSync(delayScript)) throw new Error(`${delayScript} is missing`);

  const points: PointResult[] = [];
  for (const rttMs of o.rtts) {
    for (const lossPct of o.losses) {
      let netem: Netem | undefined;
      try {
        netem = await setupNetem({ rttMs, lossPct, gso: o.gso }, delayScript);
        const wrap = netem.wrap;
        nginx = await startNginx({ nginxBin, prefix: path.join(tmp, 'nginx'), dataDir, limitRate: LIMIT_RATE, wrap });
        for (const throttled of o.throttles) points.push(await runPoint(run, netem, nginx.baseUrl, throttled));
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        console.error(`${rttLabel(rttMs)}, ${lossPct} % loss: ${error}`);
        for (const throttled of o.throttles)
          if (!points.some((p) => p.rttMs === rttMs && p.lossPct === lossPct && p.throttled === throttled))
            points.push({ rttMs, lossPct, throttled, tools: [], error });
      } finally {
        await nginx?.stop();
        nginx = undefined;
        netem?.teardown();
      }
    }
  }

  console.log(`\n==== latency matrix (${o.runs} run(s) each, ${r2(o.size / MiB)} MiB, medians in s; ratios ≤ 0.9 meet the target)`);
  console.log(textTable(matrixTable(points, o.emulationLimit)));
  for (const p of points) for (const l of runLines(p)) console.log(`  ${l}`);
  const t = tally(points, o.emulationLimit);
  console.log(`\npoints: ${t.met} met, ${t.notMet} not met, ${t.limited} emulation-limited (not counted), ${t.other} failed or not measured; total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (o.write) {
    const file = path.join(root, 'BENCHMARKS.md');
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string };
    const versions: Array<[string, string]> = [
      ['rangeget', `${pkg.version ?? '?'} @ ${gitRev(root) ?? 'no git'}`],
      ['node', process.version],
      ['nginx', (versionLine(nginxBin, ['-v']) ?? '?').replace(/^nginx version: /, '')],
      ['aria2c', versionLine('aria2c', ['--version']) ?? '—'],
      ['axel', versionLine('axel', ['--version']) ?? '—'],
      ['CPUs', `${os.cpus().length}, ${os.type()} ${os.release()}`],
    ];
    const section = markdownSection(points, { date: new Date().toISOString(), command: commandLine(), sizeMiB: r2(o.size / MiB), runs: o.runs, versions, emulationLimit: o.emulationLimit, gso: o.gso });
    const doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
    writeFileSync(file, spliceSection(doc, section));
    console.log(`wrote the latency matrix section of ${file}`);
  }
  spawnSync('sync');
  const failed = points.some((p) => p.error !== undefined || p.tools.some((x) => x.role === 'rangeget' && x.runs.some((y) => !y.ok)));
  return failed ? 1 : 0;
}

function pct(x: number | undefined): string {
  return x === undefined ? '—' : `${Math.round(x * 100)} %`;
}

function r2(x: number): number {
  return Math.round(x * 100) / 100;
}
