// Bundles the compiled CLI and the worker thread's entry point into one file each (run by
// `npm run build`, after tsc): dist/bundle/rangeget.js, which bin/rangeget.js loads, and
// dist/bundle/worker.js, which that bundle starts as its worker threads. The library
// (dist/src, what `import 'rangeget'` gets) stays one file per module.
//
// Why: loading ~80 modules one by one (resolve, read, compile, link each) was most of a small
// download's start-up. One CommonJS file per entry point took the CLI from 0.42 to 0.32 s of CPU
// on Node 20 (see BENCHMARKS.md, "Start-up"). CommonJS, not ESM: an ES module bundle hoists
// every `import 'node:…'` to its top, so node:tls, node:crypto, node:worker_threads and the
// rest would load on every run; required, they load where a module first needs them.
//
// Not bundled: undici (src/http/undici.ts loads its parts by path, at run time), and socks
// and saxes, needed only with a SOCKS proxy or a metalink: 250 KB (socks brings ip-address and
// smart-buffer) that every run would parse.
import { writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const out = new URL('../dist/bundle/', import.meta.url);

await build({
  entryPoints: { rangeget: 'dist/src/cli/main.js', worker: 'dist/src/engine/worker.js' },
  absWorkingDir: new URL('..', import.meta.url).pathname,
  outdir: 'dist/bundle',
  bundle: true,
  platform: 'node',
  target: 'node20.19',
  format: 'cjs',
  external: ['socks', 'saxes'],
  // The modules use import.meta.url to find their neighbours: here, the bundle is the
  // neighbour. prewarm.ts starts `./worker.js` beside itself: dist/bundle/worker.js.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: '"use strict";\nconst __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  // Read from the files tsc wrote; their source maps point at src/, which a stack trace from
  // the bundle does not need to reach.
  sourcemap: false,
  logLevel: 'warning',
});

// dist/bundle/*.js are CommonJS in a package whose .js files are ES modules.
writeFileSync(new URL('package.json', out), JSON.stringify({ type: 'commonjs' }) + '\n');
