// Writes dist/rangeget.1 from the compiled CLI program (run by `npm run build`, after tsc).
import { writeFileSync } from 'node:fs';
import { VERSION } from '../dist/src/constants.js';
import { buildProgram } from '../dist/src/cli/flags.js';
import { manPage } from '../dist/src/cli/manpage.js';

const program = buildProgram({ stdout: process.stdout, stderr: process.stderr, isTTY: false }, async () => 0);
writeFileSync(new URL('../dist/rangeget.1', import.meta.url), manPage(program, VERSION));
