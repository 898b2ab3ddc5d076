// Bundles the compiled CLI and the worker thread's entry point into one file each (run by
// `npm run build`, after tsc): dist/bundle/rangeget.js, which bin/rangeget.js loads, and
// dist/bundle/worker.js, which that bundle starts as its worker threads. The library
// (dist/src, what `import 'rangeget'` gets) stays one file per module.
//
// Why: loading ~80 modules one by one (resolve, read, compile, link each) was most of a small
// download's start-up. One CommonJS file per entry point: a 256 KiB download 0.275 -> 0.23 s on
// Node 20, 0.24 -> 0.21 s on Node 24 (BENCHMARKS.md, "Start-up"). CommonJS, not ESM: an ES module bundle hoists
// every `import 'node:…'` to its top, so node:tls, node:crypto, node:worker_threads and the
// rest would load on every run; required, they load where a module first needs them.
//
// Not bundled: undici (src/http/undici.ts loads its parts by path, at run time), and socks
// and saxes, needed only with a SOCKS proxy or a metalink: 250 KB (socks brings ip-address and
// smart-buffer) that every run would parse.
import { readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const out = new URL('../dist/bundle/', import.meta.url);

// commander requires node:child_process at its top for executable subcommands, which rangeget
// has none of; node:child_process brings node:dgram and more: 1.9 MiB of peak RSS for nothing
// (`node -e "require('child_process')"` against `node -e 0`). Here it is loaded on first use.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) => (/[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents: 'let cp; module.exports = new Proxy({}, { get: (_, name) => (cp ??= require("node:child_process"))[name] });',
      loader: 'js',
    }));
  },
};

await build({
  // launch: the compile cache, for bin/rangeget.js, which is CommonJS (see there).
  entryPoints: { rangeget: 'dist/src/cli/main.js', worker: 'dist/src/engine/worker.js', launch: 'dist/src/cli/compile-cache.js' },
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
  banner: {
    js: [
      '"use strict";',
      '// rangeget (MIT), bundled with commander, p-limit and yocto-queue (MIT each: their licences',
      '// are in node_modules/<name>, installed with rangeget as its dependencies).',
      'const __bundleUrl = require("node:url").pathToFileURL(__filename).href;',
    ].join('\n'),
  },
  // Read from the files tsc wrote; their source maps point at src/, which a stack trace from
  // the bundle does not need to reach.
  sourcemap: false,
  logLevel: 'warning',
  plugins: [lazyChildProcess],
});

// dist/bundle/*.js are CommonJS in a package whose .js files are ES modules.
writeFileSync(new URL('package.json', out), JSON.stringify({ type: 'commonjs' }) + '\n');

// bin/rangeget.js runs the CLI's bundle as a vm.Script (to hand V8 its cached code), which has
// no module loader: a dynamic import() there would fail at run time, so it fails the build.
const cli = readFileSync(new URL('rangeget.js', out), 'utf8');
const dynamic = /\bimport\(\s*["'`][^"'`]*/.exec(cli);
if (dynamic) throw new Error(`dist/bundle/rangeget.js has a dynamic ${dynamic[0]}: use require (see src/http/socks.ts)`);
