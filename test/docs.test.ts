/**
 * Documentation where users look, generated from the commander program (src/cli/flags.ts):
 * the man page (src/cli/manpage.ts, rendered by man(1)), the shell completions
 * (src/cli/completion.ts, run in a real bash), `--help`'s examples, and a `--version` that
 * loads no undici.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildProgram } from '../src/cli/flags.js';
import { flagSpecs } from '../src/cli/completion.js';
import { manPage } from '../src/cli/manpage.js';
import { VERSION } from '../src/constants.js';
import { runCli, runNode } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const T = { timeout: 30_000 };

const program = () => buildProgram({ stdout: process.stdout, stderr: process.stderr, isTTY: false }, async () => 0);
/** Every long flag of the program: a flag added to flags.ts must reach every document. */
const longFlags = flagSpecs(program()).flatMap((f) => (f.long ? [f.long] : []));

describe('man page', () => {
  it('dist/rangeget.1 is what the program generates, and package.json ships it as rangeget(1)', T, async () => {
    const built = await readFile(join(ROOT, 'dist/rangeget.1'), 'utf8');
    assert.equal(built, manPage(program(), VERSION));
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { man: string; version: string; files: string[] };
    assert.equal(pkg.man, './dist/rangeget.1');
    assert.ok(pkg.files.includes('dist/rangeget.1'));
    assert.equal(pkg.version, VERSION, 'src/constants.ts VERSION must be package.json version');
  });

  it('renders with man -l, without groff warnings, with every flag, the commands and the examples', T, async (t) => {
    if (!existsSync('/usr/bin/man')) return t.skip('man(1) is not installed');
    const page = join(ROOT, 'dist/rangeget.1');
    const { stdout } = await exec('man', ['-l', page], { env: { ...process.env, MANWIDTH: '100', MANPAGER: 'cat', PAGER: 'cat' } });
    const text = stdout.replace(/.\x08/g, ''); // man's overstrike bold, should a pager-less man keep it
    assert.match(text, /^RANGEGET\(1\)/m);
    for (const section of ['NAME', 'SYNOPSIS', 'OPTIONS', 'COMMANDS', 'EXIT CODES', 'EXAMPLES']) assert.match(text, new RegExp(`^${section}$`, 'm'));
    for (const flag of longFlags) assert.ok(text.includes(flag), `${flag} missing from the rendered page`);
    assert.match(text, /rangeget completion \[options\] <shell>/);
    assert.match(text, /rangeget -c 16 -o debian\.iso URL/);
    const { stderr } = await exec('groff', ['-man', '-Tutf8', '-ww', '-z', page]);
    assert.equal(stderr, '');
  });
});

describe('--help and --version', () => {
  it('--help ends with examples', T, async (t) => {
    const r = await runCli(t, ['--help'], { cwd: ROOT });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /\nExamples:\n {2}rangeget https:\/\/example\.com\/big\.iso[^\n]+\n(  rangeget [^\n]+\n){5,}$/);
  });

  it('--version, --help and completion load neither undici nor the engine', T, async (t) => {
    // The CLI's main() in a child, then the CommonJS cache (where undici would be) inspected.
    const script = `
      import { createRequire } from 'node:module';
      const { main } = await import(${JSON.stringify(new URL('../src/cli/main.js', import.meta.url).href)});
      const sink = { write: () => true };
      for (const argv of [['--version'], ['--help'], ['completion', 'bash']]) {
        const code = await main(argv, { stdout: sink, stderr: sink, isTTY: false });
        if (code !== 0) throw new Error(argv + ' exited ' + code);
      }
      console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
    const r = await runNode(t, ['--input-type=module', '-e', script], { cwd: ROOT });
    assert.equal(r.code, 0, r.stderr);
    const loaded = JSON.parse(r.stdout) as string[];
    assert.ok(loaded.some((p) => p.includes('commander')), 'commander is loaded (the check sees CommonJS modules)');
    assert.deepEqual(loaded.filter((p) => /undici|cli-progress|p-limit/.test(p)), []);
  });
});

/** What bash's programmable completion offers for the words typed so far (the last being completed). */
async function complete(script: string, cwd: string, words: string[]): Promise<string[]> {
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const { stdout } = await exec(
    'bash',
    [
      '--norc',
      '-c',
      `source ${script}; spec=$(complete -p rangeget); COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; ` +
        `fn=\${spec#*-F }; \${fn%% *}; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { cwd },
  );
  return stdout.split('\n').filter((l) => l !== '').sort();
}

describe('shell completion', () => {
  it('bash: flags after -, file names after -o and -i, directories after -d, shells after completion', T, async (t) => {
    const dir = await tempDir(t, 'rangeget-completion-');
    const gen = await runCli(t, ['completion', 'bash'], { cwd: dir });
    assert.equal(gen.code, 0, gen.stderr);
    const script = join(dir, 'rangeget.bash');
    await writeFile(script, gen.stdout);
    await writeFile(join(dir, 'alpha.iso'), '');
    await mkdir(join(dir, 'alps'));

    const { stdout: spec } = await exec('bash', ['--norc', '-c', `source ${script}; complete -p rangeget`]);
    assert.match(spec, /^complete -o filenames -F _rangeget rangeget$/m);

    assert.deepEqual(await complete(script, dir, ['rangeget', '--out']), ['--output']);
    assert.deepEqual(await complete(script, dir, ['rangeget', '--o']), ['--output', '--overwrite']);
    const all = await complete(script, dir, ['rangeget', '--']);
    for (const flag of longFlags) assert.ok(all.includes(flag), `${flag} not completed`);
    assert.deepEqual(await complete(script, dir, ['rangeget', '-o', 'al']), ['alpha.iso', 'alps']);
    assert.deepEqual(await complete(script, dir, ['rangeget', '--input-file', '=', 'alp']), ['alpha.iso', 'alps']);
    assert.deepEqual(await complete(script, dir, ['rangeget', '-d', 'al']), ['alps']);
    assert.deepEqual(await complete(script, dir, ['rangeget', '-c', '']), []);
    assert.deepEqual(await complete(script, dir, ['rangeget', 'comp']), ['completion']);
    assert.deepEqual(await complete(script, dir, ['rangeget', 'completion', '']), ['bash', 'fish', 'zsh']);
    assert.deepEqual(await complete(script, dir, ['rangeget', 'demo', '--c']), ['--connections']);
  });

  it('zsh and fish scripts name every flag; an unknown shell is a usage error', T, async (t) => {
    for (const shell of ['zsh', 'fish']) {
      const r = await runCli(t, ['completion', shell], { cwd: ROOT });
      assert.equal(r.code, 0, r.stderr);
      for (const flag of longFlags) {
        const found = shell === 'fish' ? r.stdout.includes(`-l ${flag.slice(2)} `) : new RegExp(`'\\*?${flag}\\[`).test(r.stdout);
        assert.ok(found, `${shell}: ${flag} missing`);
      }
    }
    const bad = await runCli(t, ['completion', 'tcsh'], { cwd: ROOT });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^rangeget: .*'tcsh'.*bash, zsh, fish/);
  });

  it('zsh and fish read their scripts, and fish completes flags and shells', T, async (t) => {
    const shells = ['zsh', 'fish'].filter((sh) => existsSync(`/usr/bin/${sh}`));
    if (shells.length === 0) return t.skip('neither zsh nor fish is installed');
    const dir = await tempDir(t, 'rangeget-completion-');
    for (const shell of shells) {
      const script = join(dir, `rangeget.${shell}`);
      await writeFile(script, (await runCli(t, ['completion', shell], { cwd: dir })).stdout);
      await exec(shell, ['-n', script]);
      if (shell !== 'fish') continue;
      const { stdout } = await exec('fish', ['--no-config', '-c', `source ${script}; complete -C 'rangeget --out'; complete -C 'rangeget completion '`]);
      assert.deepEqual(stdout.split('\n').map((l) => l.split('\t')[0]).filter((l) => l !== ''), ['--output', 'bash', 'fish', 'zsh']);
    }
  });
});
