#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/src/cli/main.js (built by `npm install` via `prepare`).
import { setFlagsFromString } from 'node:v8';

const args = process.argv.slice(2);

// undici parses HTTP with WebAssembly. V8 recompiles it in the background with its optimising
// tier, and a process cannot exit before that job ends: ~0.2 s added to every run. The
// baseline tier parses as fast for downloads (bodies are not scanned byte by byte: measured).
setFlagsFromString('--liftoff-only');

// Start the worker threads first: they load while the main thread loads the CLI and probes.
// Not for a list of files (-i): those are mostly small, fetched in the main thread; nor for
// what downloads nothing (help, version, a dry run, completion scripts).
if (args.length > 0 && args[0] !== 'completion' && !args.some((a) => /^(-h|--help|-V|--version|--dry-run|-i|--input-file)(=|$)/.test(a) || /^-i./.test(a))) {
  const { prewarm } = await import('../dist/src/engine/prewarm.js');
  prewarm(1);
}

const { main } = await import('../dist/src/cli/main.js');
// rangeget prints no colour at all, so NO_COLOR needs nothing; a dumb terminal gets no bars.
const dumb = process.env.TERM === 'dumb';
const code = await main(args, {
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: Boolean(process.stdout.isTTY && process.stderr.isTTY) && !dumb,
});
process.exitCode = code;
