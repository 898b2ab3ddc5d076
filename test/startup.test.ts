/**
 * Start-up: the CLI runs from its bundle (dist/bundle, scripts/build-bundle.mjs), worker
 * threads included, and Node's compile cache goes only to a folder that is the user's own
 * (src/cli/compile-cache.ts). How fast it starts is measured by the bench (scenario f), not here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import * as nodeModule from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundle, privateCacheDir } from '../src/cli/compile-cache.js';
import { BIN, runCli, runNode } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { serve } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const T = { timeout: 60_000 };
const MiB = 1024 * 1024;
const uid = process.getuid?.();
const posix = uid === undefined ? 'not on this platform: the temporary folder is the user\'s own' : false;

describe('the CLI from its bundle', () => {
  it('downloads a file big enough for a worker thread, which runs from the bundle too', T, async (t) => {
    assert.ok(existsSync(fileURLToPath(new URL('../../dist/bundle/worker.js', import.meta.url))), 'npm run build writes the worker bundle');
    const srv = await serve(t, { '/big.bin': { size: 6 * MiB + 3 } });
    const dir = await tempDir(t);
    const r = await runCli(t, ['-q', '-c', '4', '-o', 'big.bin', srv.url('/big.bin')], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'big.bin')), srv.sha256('/big.bin'));
  });

  it('--version and --help load neither undici nor socks nor saxes, a download no socks, saxes, child_process or crypto', T, async (t) => {
    const dir = await tempDir(t);
    // Run before the CLI: every require the bundle makes (it runs with createRequire), written at exit.
    const hook = join(dir, 'requires.cjs');
    await writeFile(
      hook,
      `const M = require('node:module'); const seen = new Set(); const load = M._load;
M._load = function (request, ...rest) { seen.add(request); return load.call(this, request, ...rest); };
process.on('exit', () => {
  // Node's own modules as loaded (what the bundle requires, and what those bring), as native:NAME.
  for (const m of process.moduleLoadList) if (m.startsWith('NativeModule ')) seen.add('native:' + m.slice(13));
  require('node:fs').writeFileSync(process.env.REQUIRES_TO, [...seen].join('\\n'));
});`,
    );
    const requires = async (args: string[]) => {
      const out = join(dir, `requires-${args[0]!.replace(/\W/g, '')}.txt`);
      const r = await runNode(t, ['--require', hook, BIN, ...args], { cwd: dir, env: { REQUIRES_TO: out } });
      assert.equal(r.code, 0, r.stderr);
      const seen = (await readFile(out, 'utf8')).split('\n');
      assert.ok(seen.includes('node:url'), 'the check sees what the bundle requires');
      return seen;
    };
    for (const args of [['--version'], ['--help']]) {
      assert.deepEqual((await requires(args)).filter((m) => /^(undici|socks|saxes)(\/|$)/.test(m)), [], args.join(' '));
    }
    const srv = await serve(t, { '/small.bin': { size: 300 * 1024 } });
    const seen = await requires(['-q', srv.url('/small.bin')]);
    assert.deepEqual(seen.filter((m) => /^(socks|saxes|commander)(\/|$)/.test(m)), [], 'commander is in the bundle; socks and saxes wait for their flags');
    // Each costs 1.4–1.9 MiB of peak RSS: commander's child_process is loaded when used (never),
    // the compile cache compares bytes instead of hashing them.
    assert.ok(seen.includes('native:net'), 'the check sees what Node loads');
    assert.deepEqual(seen.filter((m) => /^native:(child_process|crypto)$/.test(m)), [], 'a plain download loads neither child_process nor crypto');
  });
});

describe('the compile cache folder', () => {
  it('is made 0700 and named for the user', { skip: posix }, async (t) => {
    const base = await tempDir(t);
    const dir = privateCacheDir(base);
    assert.equal(dir, join(base, `rangeget-compile-cache-${uid}`));
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal(privateCacheDir(base), dir, 'the same folder next time');
  });

  it('is not used when others may write to it, when it is a link, or when the parent lets others swap it', { skip: posix }, async (t) => {
    const open = await tempDir(t);
    await mkdir(join(open, `rangeget-compile-cache-${uid}`), { mode: 0o755 });
    await chmod(join(open, `rangeget-compile-cache-${uid}`), 0o775);
    assert.equal(privateCacheDir(open), undefined, 'group-writable');

    const linked = await tempDir(t);
    await mkdir(join(linked, 'elsewhere'), { mode: 0o700 });
    await symlink(join(linked, 'elsewhere'), join(linked, `rangeget-compile-cache-${uid}`));
    assert.equal(privateCacheDir(linked), undefined, 'a symbolic link');

    const shared = await tempDir(t);
    await chmod(shared, 0o777);
    assert.equal(privateCacheDir(shared), undefined, 'world-writable parent without the sticky bit');
    await chmod(shared, 0o1777);
    assert.equal(privateCacheDir(shared), join(shared, `rangeget-compile-cache-${uid}`), 'a sticky parent, as /tmp is');
  });

  it("is not used when another user owns it", { skip: uid !== 0 ? 'needs root to give a folder away' : false }, async (t) => {
    const base = await tempDir(t);
    const theirs = join(base, `rangeget-compile-cache-${uid}`);
    await mkdir(theirs, { mode: 0o700 });
    await chown(theirs, 65534, 65534);
    assert.equal(privateCacheDir(base), undefined);
  });

  it("is where Node keeps its cache, for worker threads too; NODE_COMPILE_CACHE and NODE_DISABLE_COMPILE_CACHE win", T, async (t) => {
    const tmp = await tempDir(t);
    const script = `
      const { cacheDir, enableCompileCache } = await import(${JSON.stringify(new URL('../src/cli/compile-cache.js', import.meta.url).href)});
      const dir = cacheDir();
      const node = enableCompileCache(dir);
      console.log(JSON.stringify({ dir: dir ?? null, node: node ?? null, env: process.env.NODE_COMPILE_CACHE ?? null }));`;
    const run = async (env: Record<string, string>) => {
      const r = await runNode(t, ['--input-type=module', '-e', script], { cwd: tmp, env: { TMPDIR: tmp, ...env } });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { dir: string | null; node: string | null; env: string | null };
    };
    const own = uid === undefined ? join(tmp, 'rangeget-compile-cache') : join(tmp, `rangeget-compile-cache-${uid}`);
    const hasCache = typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';
    const plain = await run({});
    assert.equal(plain.dir, own);
    if (!hasCache) assert.deepEqual([plain.node, plain.env], [null, null], 'Node has no compile cache before 22.1');
    else assert.deepEqual([plain.node, plain.env], [own, own], 'worker threads inherit it through the environment');
    assert.deepEqual(await run({ NODE_COMPILE_CACHE: join(tmp, 'mine') }), { dir: own, node: null, env: join(tmp, 'mine') });
    assert.deepEqual(await run({ NODE_DISABLE_COMPILE_CACHE: '1' }), { dir: null, node: null, env: null });
  });
});

describe("the bundle's code cache", () => {
  const bundleFile = async (dir: string, body: string) => {
    const file = join(dir, 'bundle.cjs');
    await writeFile(file, `"use strict";\n${body}\n`);
    return file;
  };

  it('is written 0600 by a full run, taken by the next, and a short run does not replace it', async (t) => {
    const dir = await tempDir(t);
    const file = await bundleFile(dir, 'exports.twice = (n) => n * 2; exports.where = __filename;');
    const first = loadBundle(file, dir);
    assert.equal(first.cached, false);
    assert.deepEqual([(first.exports as { twice(n: number): number }).twice(21), (first.exports as { where: string }).where], [42, file]);
    first.save('short');
    const [short] = (await readdir(dir)).filter((n) => n.endsWith('.v8'));
    assert.match(short ?? '', /^bundle-v[\d.]+-\w+-\d+-\d+-\d+-short\.v8$/);
    assert.equal((await stat(join(dir, short!))).mode & 0o777, 0o600);

    const second = loadBundle(file, dir);
    assert.equal(second.cached, true, 'V8 takes the cached code');
    second.save('full');
    assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.v8')), [short!.replace('-short', '-full')], 'a full run replaces a short one');
    const third = loadBundle(file, dir);
    assert.equal(third.cached, true);
    third.save('short');
    assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.v8')), [short!.replace('-short', '-full')]);
  });

  it('is not taken for another source of the same length, and none is kept without a folder', async (t) => {
    const dir = await tempDir(t);
    const file = await bundleFile(dir, 'exports.value = 1;');
    loadBundle(file, dir).save('full');
    await bundleFile(dir, 'exports.value = 2;');
    const changed = loadBundle(file, dir);
    assert.equal(changed.cached, false, 'V8 alone checks only the length; the entry holds the source it was made for');
    assert.equal((changed.exports as { value: number }).value, 2);
    const none = loadBundle(file, undefined);
    none.save('full');
    assert.equal(none.cached, false);
  });
});
