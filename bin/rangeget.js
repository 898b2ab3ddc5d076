#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/src/cli.js (built by `npm install` via `prepare`).
import { main } from '../dist/src/cli.js';

// rangeget prints no colour at all, so NO_COLOR needs nothing; a dumb terminal gets no bars.
const dumb = process.env.TERM === 'dumb';
const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: Boolean(process.stdout.isTTY && process.stderr.isTTY) && !dumb,
});
process.exitCode = code;
