#!/usr/bin/env node
// Thin launcher: the CLI is dist/bundle/rangeget.js, all of dist/src/cli/main.js and what it
// imports in one file (scripts/build-bundle.mjs; built by `npm install` via `prepare`).
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { enableCompileCache } from '../dist/src/cli/compile-cache.js';

// undici parses HTTP with WebAssembly. V8 recompiles it in the background with its optimising
// tier, and a process cannot exit before that job ends: ~0.2 s added to every run. The
// baseline tier parses as fast for downloads (bodies are not scanned byte by byte: measured).
setFlagsFromString('--liftoff-only');
enableCompileCache();

const { main } = createRequire(import.meta.url)('../dist/bundle/rangeget.js');
// rangeget prints no colour at all, so NO_COLOR needs nothing; a dumb terminal gets no bars.
const dumb = process.env.TERM === 'dumb';
const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: Boolean(process.stdout.isTTY && process.stderr.isTTY) && !dumb,
});
process.exitCode = code;
