#!/usr/bin/env node
'use strict';
// Thin launcher, CommonJS (bin/package.json): an ES module entry point loads Node's ES module
// loader, 1.9 MiB of peak RSS (`node empty.mjs` against `node empty.cjs`). The CLI is
// dist/bundle/rangeget.js, all of dist/src/cli/main.js and what it imports in one file
// (scripts/build-bundle.mjs; built by `npm install` via `prepare`), run from V8's code of an
// earlier run where there is one (dist/bundle/launch.js, bundled from src/cli/compile-cache.ts).
const { join } = require('node:path');
const { setFlagsFromString } = require('node:v8');
const { cacheDir, enableCompileCache, loadBundle } = require('../dist/bundle/launch.js');

// undici parses HTTP with WebAssembly. V8 recompiles it in the background with its optimising
// tier, and a process cannot exit before that job ends: ~0.2 s added to every run. The
// baseline tier parses as fast for downloads (bodies are not scanned byte by byte: measured).
setFlagsFromString('--liftoff-only');
const dir = cacheDir();
enableCompileCache(dir);
const bundle = loadBundle(join(__dirname, '../dist/bundle/rangeget.js'), dir);

const argv = process.argv.slice(2);
// A reader that leaves early (`rangeget --help | head -3`, `--json | head -1`, `2>&1 | head`)
// must not crash the run: the write's EPIPE comes as an 'error' event. Help, plans, events and
// progress are a side channel, so a download to a file goes on; `-o -` ends on it by itself
// (cli/stream.ts).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}
// rangeget prints no colour at all, so NO_COLOR needs nothing; a dumb terminal gets no bars.
const dumb = process.env.TERM === 'dumb';
bundle.exports
  .main(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: Boolean(process.stdout.isTTY && process.stderr.isTTY) && !dumb,
  })
  .then((code) => {
    // A run that downloaded compiled what the next download needs; --version or a usage error did not.
    bundle.save(code === 0 && !argv.some((a) => /^(-V|--version|-h|--help|completion)$/.test(a)) ? 'full' : 'short');
    process.exitCode = code;
  });
