/**
 * The examples of README.md's "## The library" section are real code: every ```js block runs
 * as an ES module in a child process (`node example.mjs`, cwd a temp dir) against the loopback
 * test server, with its `https://example.com/...` URLs pointed at that server, its
 * `SHA256_OF_FILE` placeholder replaced by the real digest and `from 'rangeget'` by this
 * build, and must do what it says: exit 0 and leave the file it names, byte-exact.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNode, type Exit } from './helpers/cli.js';
import { sha256File } from './helpers/content.js';
import { serve, type TestServer } from './helpers/server.js';
import { list, tempDir } from './helpers/tmp.js';

const T = { timeout: 40_000 };
const README = fileURLToPath(new URL('../../README.md', import.meta.url));
/** What `from 'rangeget'` resolves to for a user: the package's main export, as built here. */
const INDEX = new URL('../src/index.js', import.meta.url).href;
const SECTION = '## The library';
const ORIGIN = 'https://example.com';
const PLACEHOLDER = 'SHA256_OF_FILE';
/** Served at every path an example asks for: over 4 MiB, fetched over several ranges. */
const SIZE = 5 * 1024 * 1024 + 7;

/** The ```js blocks between `heading` and the next `## ` heading. */
function jsBlocks(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `README.md has no "${heading}" section`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
  const section = lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
  return [...section.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** The paths of the example.com URLs in `code`, each once. */
function examplePaths(code: string): string[] {
  const escaped = ORIGIN.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return [...new Set([...code.matchAll(new RegExp(`${escaped}(/[^'"\`\\s]*)`, 'g'))].map((m) => m[1]!))];
}

interface Example {
  server: TestServer;
  /** The temp dir the example runs in, by its real path (as the child's process.cwd() reports it). */
  dir: string;
  /** The one path the example downloads. */
  path: string;
  /** Run the example (again) to its end. */
  run(): Promise<Exit>;
}

/** Serve what `code` asks for, write it as example.mjs in a fresh temp dir, ready to run. */
async function prepare(t: TestContext, code: string): Promise<Example> {
  assert.match(code, /from 'rangeget';/, 'the example imports rangeget by its package name');
  const paths = examplePaths(code);
  assert.equal(paths.length, 1, `one ${ORIGIN} URL in the example, got ${paths.join(', ')}`);
  const path = paths[0]!;
  const server = await serve(t, { [path]: { size: SIZE } });
  const dir = await realpath(await tempDir(t, 'rangeget-readme-'));
  const runnable = code
    .replaceAll(`from 'rangeget'`, `from '${INDEX}'`)
    .replaceAll(ORIGIN, server.origin)
    .replaceAll(PLACEHOLDER, server.sha256(path));
  assert.ok(!runnable.includes('example.com'), runnable);
  const script = join(dir, 'example.mjs');
  await writeFile(script, runnable);
  return { server, dir, path, run: () => runNode(t, [script], { cwd: dir }) };
}

/** Run the example to its end; it must exit 0 with nothing on stderr. Resolves with its stdout. */
async function succeeds(example: Example): Promise<string> {
  const r = await example.run();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout;
}

async function assertSaved(example: Example, name: string): Promise<void> {
  assert.equal(await sha256File(join(example.dir, name)), example.server.sha256(example.path), `${name} is byte-exact ${example.path}`);
  assert.deepEqual(await list(example.dir), ['example.mjs', name].sort(), 'nothing else left in the directory');
}

/** What each block of the section claims, in README order. */
const CLAIMS: Array<{ what: string; marker: string; check: (t: TestContext, example: Example) => Promise<void> }> = [
  {
    what: 'download() with a checksum and progress saves the file and prints where, how big, how long, which digest',
    marker: 'onProgress',
    async check(t, example) {
      const stdout = await succeeds(example);
      await assertSaved(example, 'big.iso');
      const lines = stdout.split('\n');
      assert.equal(lines.pop(), '', 'output ends with a newline');
      const last = lines.pop();
      assert.ok(last !== undefined, 'the result line');
      const [path, size, duration, digest, ...rest] = last.split(' ');
      assert.equal(path, join(example.dir, 'big.iso'));
      assert.equal(size, String(SIZE));
      assert.ok(Number(duration) >= 0, `duration ${duration}`);
      assert.equal(digest, example.server.sha256(example.path));
      assert.deepEqual(rest, []);
      // Any earlier line is a progress line: downloaded, total, speed.
      for (const line of lines) {
        const [downloaded, total, speed, ...more] = line.split(' ').map(Number);
        assert.ok(downloaded !== undefined && downloaded >= 0 && downloaded <= SIZE, `progress line ${line}`);
        assert.equal(total, SIZE, `progress line ${line}`);
        assert.ok(speed !== undefined && speed >= 0, `progress line ${line}`);
        assert.deepEqual(more, [], `progress line ${line}`);
      }
      t.diagnostic(`${lines.length} progress lines`);
    },
  },
  {
    what: "a RangegetError's code tells an existing file (EEXIST) from other failures",
    marker: "'EEXIST'",
    async check(_t, example) {
      assert.equal(await succeeds(example), '', 'the first run downloads quietly');
      await assertSaved(example, 'file.bin');
      assert.equal(await succeeds(example), 'already there\n', 'the second run finds the file there');
      await assertSaved(example, 'file.bin');
    },
  },
  {
    what: 'downloadStream() piped into a file gives the file byte-exact, and its result the verified digest',
    marker: 'downloadStream(',
    async check(_t, example) {
      assert.equal(await succeeds(example), `${example.server.sha256(example.path)}\n`);
      await assertSaved(example, 'backup.tar');
    },
  },
];

describe(`README.md "${SECTION}": the examples run as written`, () => {
  const blocks = jsBlocks(readFileSync(README, 'utf8'), SECTION);

  it('every ```js block of the section has its check here, in order', () => {
    assert.equal(blocks.length, CLAIMS.length, `${blocks.length} blocks, ${CLAIMS.length} checks: a new example needs its check in test/readme.test.ts`);
    blocks.forEach((code, i) => assert.ok(code.includes(CLAIMS[i]!.marker), `block ${i + 1} is not the one about: ${CLAIMS[i]!.what}`));
  });

  CLAIMS.forEach((claim, i) => {
    it(`block ${i + 1}: ${claim.what}`, T, async (t) => {
      const code = blocks[i];
      assert.ok(code !== undefined, `README.md has no block ${i + 1} in "${SECTION}"`);
      await claim.check(t, await prepare(t, code));
    });
  });
});
