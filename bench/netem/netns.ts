// A network namespace whose loopback behaves like a long, lossy path, for the latency matrix.
//
// This kernel has no netem qdisc, so: a namespace `rangeget-bench-RTT-LOSS` with its own lo,
// iptables there drops LOSS % of the packets arriving on lo (statistic match) and hands the rest
// to NFQUEUE 0, where delay.py (stdlib python3) holds each one RTT/2 ms; lo sends one TCP segment
// per packet, as on the wire (see linkSettings). Server and tools then run inside it with
// `ip netns exec`. Needs root, ip, iptables and python3.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAlive, which } from '../util.js';

export interface PathSpec {
  /** Round trip in ms; 0: no delay process (and without loss, lo as it comes). */
  rttMs: number;
  /** Packets dropped, in percent, on arrival (each direction). */
  lossPct: number;
  /**
   * Let lo carry TCP's 64 KiB GSO packets (one delay and one loss decision for up to ~44
   * segments: cheaper to emulate, but a loss is a burst and ACKs are fewer than on a real
   * path). Default: one segment per packet, as on the wire.
   */
  gso?: boolean;
}

export interface Netem {
  readonly name: string;
  readonly spec: PathSpec;
  /** `cmd args` as run inside the namespace. */
  wrap(cmd: string, args: string[]): { cmd: string; args: string[] };
  /** The delay process's CPU and run-queue wait so far, or undefined without one (loopback). */
  delayTimes(): ProcessTimes | undefined;
  /** False when the delay process has died: every later packet would be dropped. */
  delayAlive(): boolean;
  teardown(): void;
}

export const NETNS_PREFIX = 'rangeget-bench-';
const OWNERS = path.join(os.tmpdir(), 'rangeget-bench-netns');

/** `rangeget-bench-80-0.5`: one namespace per round trip and loss (both rates share it). */
export function namespaceName(spec: PathSpec): string {
  return `${NETNS_PREFIX}${spec.rttMs}-${spec.lossPct}`;
}

/**
 * lo's settings for `spec`: an emulated path gets MTU 1500 as on the wire (with lo's 64 KiB,
 * TCP autotuning misbehaves for small readers) and, unless `gso`, one segment per packet, so that
 * each segment is delayed and may be lost on its own. Plain loopback (no delay, no loss) keeps lo
 * as it is, to compare with the loopback scenarios.
 */
export function linkSettings(spec: PathSpec): string[] {
  if (spec.rttMs === 0 && spec.lossPct === 0) return [];
  return ['mtu', '1500', ...(spec.gso ? [] : ['gso_max_segs', '1'])];
}

export interface ProcessTimes {
  /** Seconds on a CPU. */
  cpuS: number;
  /** Seconds runnable but waiting for a CPU (starved by the other processes). */
  waitS: number;
}

/** The text of /proc/PID/schedstat ("ns on CPU, ns waiting on a run queue, timeslices"). */
export function parseSchedstat(text: string): ProcessTimes | undefined {
  const [cpu, wait] = text.trim().split(/\s+/).map(Number);
  return cpu !== undefined && wait !== undefined && Number.isFinite(cpu) && Number.isFinite(wait) ? { cpuS: cpu / 1e9, waitS: wait / 1e9 } : undefined;
}

/** What is missing to emulate a path here, each as one line saying how to get it. */
export function missingRequirements(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (network namespaces and iptables need it): run the bench as root');
  if (!which('ip')) missing.push('ip: apt-get install -y iproute2');
  if (!which('iptables')) missing.push('iptables: apt-get install -y iptables');
  if (!which('python3')) missing.push('python3: apt-get install -y python3');
  return missing;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
}

function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 15_000 });
  return (r.stdout ?? '').split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(NETNS_PREFIX));
}

function ownerOf(name: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(OWNERS, name), 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Kills what still runs inside the namespace (by pid: nginx, delay.py, a tool), then deletes it. */
function removeNamespace(name: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: 15_000 });
  for (const pid of (pids.stdout ?? '').split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  spawnSync('ip', ['netns', 'del', name], { timeout: 15_000 });
  rmSync(path.join(OWNERS, name), { force: true });
}

const active = new Set<string>();

/**
 * Removes the namespaces a killed earlier run left behind (their owner process is gone) and
 * returns their names. One owned by a bench that still runs is left alone.
 */
export function cleanStale(): string[] {
  const removed: string[] = [];
  for (const name of listNamespaces()) {
    const owner = ownerOf(name);
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) continue;
    removeNamespace(name);
    removed.push(name);
  }
  for (const f of safeList(OWNERS)) if (!listNamespaces().includes(f)) rmSync(path.join(OWNERS, f), { force: true });
  return removed;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Tears down every namespace this process set up (exit and signal handlers; synchronous). */
export function teardownAllSync(): void {
  for (const name of [...active]) {
    removeNamespace(name);
    active.delete(name);
  }
}

/** Sets up the namespace for `spec`, with delay.py (from `delayScript`) running if rttMs > 0. */
export async function setupNetem(spec: PathSpec, delayScript: string): Promise<Netem> {
  const name = namespaceName(spec);
  const owner = ownerOf(name);
  if (listNamespaces().includes(name)) {
    if (owner !== undefined && owner !== process.pid && isAlive(owner))
      throw new Error(`namespace ${name} belongs to another bench run (pid ${owner}); wait for it or stop it`);
    removeNamespace(name);
  }
  mkdirSync(OWNERS, { recursive: true });
  writeFileSync(path.join(OWNERS, name), String(process.pid));
  run('ip', ['netns', 'add', name]);
  active.add(name);
  const inNs = (cmd: string, args: string[]): { cmd: string; args: string[] } => ({ cmd: 'ip', args: ['netns', 'exec', name, cmd, ...args] });
  const iptables = (...args: string[]): void => {
    const c = inNs('iptables', args);
    run(c.cmd, c.args);
  };
  try {
    run('ip', ['-n', name, 'link', 'set', 'lo', ...linkSettings(spec), 'up']);
    let delayPid: number | undefined;
    if (spec.rttMs > 0) delayPid = await startDelay(inNs('python3', ['-u', delayScript, String(spec.rttMs / 2)]));
    if (spec.lossPct > 0) iptables('-A', 'INPUT', '-i', 'lo', '-m', 'statistic', '--mode', 'random', '--probability', (spec.lossPct / 100).toFixed(5), '-j', 'DROP');
    // Held on arrival (INPUT): held at OUTPUT, TCP small queues would stall the sender.
    if (spec.rttMs > 0) iptables('-A', 'INPUT', '-i', 'lo', '-j', 'NFQUEUE', '--queue-num', '0');
    return {
      name,
      spec,
      wrap: inNs,
      delayTimes: () => {
        if (delayPid === undefined) return undefined;
        try {
          return parseSchedstat(readFileSync(`/proc/${delayPid}/schedstat`, 'utf8'));
        } catch {
          return undefined;
        }
      },
      delayAlive: () => delayPid === undefined || isAlive(delayPid),
      teardown: () => {
        removeNamespace(name);
        active.delete(name);
      },
    };
  } catch (err) {
    removeNamespace(name);
    active.delete(name);
    throw err;
  }
}

/** Starts delay.py and waits for its "ready" line; returns its pid (`ip netns exec` execs it). */
function startDelay(c: { cmd: string; args: string[] }): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(c.cmd, c.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => fail('no "ready" within 10 s'), 10_000);
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`delay.py did not start (${why}): ${out.trim()}`));
    };
    const onData = (d: Buffer): void => {
      out = (out + d.toString('utf8')).slice(-2000);
      if (out.includes('ready') && child.pid !== undefined) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.resume();
        child.unref();
        resolve(child.pid);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => {
      out = (out + d.toString('utf8')).slice(-2000);
    });
    child.on('error', (e) => fail(String(e)));
    child.on('exit', (code) => fail(`exit ${String(code)}`));
  });
}
