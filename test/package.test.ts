/**
 * The package as users get it: `npm pack`, installed from the tarball into an empty project
 * (dependencies from npm's cache, which `npm install` filled), and there the CLI through npx,
 * a real download from the loopback server, `import` from ESM, `require()` from CommonJS, a
 * TypeScript consumer type-checked against the shipped types, source maps that point at
 * shipped files, and the man page.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { VERSION } from '../src/constants.js';
import { sha256File } from './helpers/content.js';
import { serve } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/**
 * The environment of a fresh shell: none of the npm_* variables `npm test` sets (its
 * local_prefix would send `npm install` back into this project), but the cache and config kept.
 */
function env(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_registry']);
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith('npm_') || keep.has(k)) out[k] = v;
  }
  // The Node that runs this test runs npm, npx and the CLI too (CI tests three Node versions).
  out.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
  delete out.NODE_OPTIONS;
  delete out.NODE_TEST_CONTEXT;
  return out;
}

const exec = (file: string, args: string[], cwd: string) =>
  run(file, args, { cwd, env: env(), timeout: 90_000, maxBuffer: 16 * 1024 * 1024 });

interface Packed {
  filename: string;
  files: Array<{ path: string }>;
}

describe('the packed package, installed into an empty project', () => {
  it('runs, imports, requires, type-checks and has its man page', { timeout: 240_000 }, async (t) => {
    const dir = await tempDir(t, 'rangeget-pack-');
    // Built already by `npm test` (npm run build): packing without scripts does not build again.
    const { stdout: packJson } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
    const [packed] = JSON.parse(packJson) as Packed[];
    assert.ok(packed);
    const shipped = new Set(packed.files.map((f) => f.path));

    await t.test('ships LICENSE, the man page and every file a source map names', async () => {
      for (const file of ['LICENSE', 'README.md', 'dist/rangeget.1', 'dist/src/index.js', 'dist/src/index.d.ts', 'bin/rangeget.js']) {
        assert.ok(shipped.has(file), `${file} is not in the package`);
      }
      assert.ok(![...shipped].some((f) => f.startsWith('dist/test/') || f.startsWith('test/')), 'tests are not shipped');
      const maps = [...shipped].filter((f) => f.endsWith('.map'));
      assert.ok(maps.some((m) => m.endsWith('.d.ts.map')), 'declaration maps ship');
      for (const map of maps) {
        const { sources, sourceRoot } = JSON.parse(await readFile(join(ROOT, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
        for (const source of sources) {
          const target = posix.normalize(posix.join(posix.dirname(map), sourceRoot ?? '', source));
          assert.ok(shipped.has(target), `${map} points at ${target}, which is not shipped`);
        }
      }
    });

    const app = join(dir, 'app');
    await run('mkdir', [app]);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // Offline where npm's cache has the dependencies (it has after `npm install`); the registry otherwise.
    await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, packed.filename)], app);
    const installed = join(app, 'node_modules/rangeget');

    await t.test('npx rangeget --version, and a real download through the installed CLI', async (t) => {
      const { stdout } = await exec('npx', ['--offline', 'rangeget', '--version'], app);
      assert.equal(stdout.trim(), VERSION);
      const server = await serve(t, { '/file.bin': { size: 300 * 1024 + 5 } });
      await exec(join(app, 'node_modules/.bin/rangeget'), ['-q', '-o', 'file.bin', server.url('/file.bin')], app);
      assert.equal(await sha256File(join(app, 'file.bin')), server.sha256('/file.bin'));
    });

    await t.test('import from ESM and require() from CommonJS', async () => {
      const esm = await exec(process.execPath, ['--input-type=module', '-e', "import * as r from 'rangeget'; console.log(typeof r.download, typeof r.RangegetError)"], app);
      assert.equal(esm.stdout, 'function function\n');
      // require() of an ES module: Node 20.19+, 22.12+ and 24 (what `engines` states).
      assert.equal(process.features.require_module, true, 'this Node cannot require() an ES module: outside `engines`');
      const cjs = await exec(process.execPath, ['-e', "const r = require('rangeget'); console.log(typeof r.download, r.DEFAULT_JOBS)"], app);
      assert.equal(cjs.stdout, 'function 2\n');
    });

    await t.test('a TypeScript consumer type-checks against the shipped types (ESM and CommonJS)', async () => {
      await writeFile(
        join(app, 'consumer.mts'),
        `import { download, RangegetError, type DownloadResult } from 'rangeget';
export const pending = (): Promise<DownloadResult> => download('http://127.0.0.1:1/x', { connections: 4 });
export const exists = (e: unknown): boolean => e instanceof RangegetError && e.code === 'EEXIST';
// @ts-expect-error connections is a number: fails unless the shipped types are read
export const wrong = () => download('http://127.0.0.1:1/x', { connections: '4' });
`,
      );
      await writeFile(join(app, 'consumer.cts'), `import rangeget = require('rangeget');\nexport const jobs: number = rangeget.DEFAULT_JOBS;\n`);
      const compilerOptions = {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2023'],
        strict: true,
        noEmit: true,
        typeRoots: [join(ROOT, 'node_modules/@types')],
        types: ['node'],
      };
      await writeFile(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.mts', 'consumer.cts'] }));
      await exec(process.execPath, [TSC, '-p', app], app).catch((err: { stdout?: string }) => {
        assert.fail(`tsc failed:\n${err.stdout ?? String(err)}`);
      });
    });

    await t.test('the man page is where package.json says, and renders', async (t) => {
      const pkg = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { man: string };
      const page = join(installed, pkg.man);
      assert.ok(existsSync(page), `${pkg.man} is not installed`);
      if (!existsSync('/usr/bin/man')) return t.skip('man(1) is not installed');
      const { stdout } = await exec('man', ['-l', page], app);
      assert.match(stdout, /^RANGEGET\(1\)/);
    });
  });
});
