#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/src/cli/main.js (built by `npm install` via `prepare`).
import { setFlagsFromString } from 'node:v8';

// undici parses HTTP with WebAssembly. V8 recompiles it in the background with its optimising
// tier, and a process cannot exit before that job ends: ~0.2 s added to every run. The
// baseline tier parses as fast for downloads (bodies are not scanned byte by byte: measured).
setFlagsFromString('--liftoff-only');

const { main } = await import('../dist/src/cli/main.js');
// rangeget prints no colour at all, so NO_COLOR needs nothing; a dumb terminal gets no bars.
const dumb = process.env.TERM === 'dumb';
const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: Boolean(process.stdout.isTTY && process.stderr.isTTY) && !dumb,
});
process.exitCode = code;
