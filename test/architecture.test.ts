/**
 * The shape of src/, checked: imports go one way (cli → public API → engine → http, storage →
 * primitives), http and storage never import each other, no import cycles, and no file grows
 * past what one reading takes in. ARCHITECTURE.md describes the same layers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
/** Lines a module may have; the brief says ~300. */
const MAX_LINES = 310;

/** Each folder's rank: a module may import only modules of a lower rank, or of its own folder. */
const RANK: Record<string, number> = { cli: 4, api: 3, engine: 2, http: 1, storage: 1, primitives: 0 };

function layer(file: string): string {
  const folder = relative(SRC, file).split('/')[0]!;
  return folder.endsWith('.ts') ? 'api' : folder;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The src/ modules a file imports (static and dynamic, type-only included). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
}

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('architecture', () => {
  it('finds the layers it checks', () => {
    const seen = new Set(files.map(layer));
    assert.deepEqual([...seen].sort(), Object.keys(RANK).sort());
  });

  it('imports go one way, and http and storage never import each other', () => {
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports) {
        const from = layer(file);
        const to = layer(target);
        if (from === to) continue;
        if (RANK[to]! >= RANK[from]!) wrong.push(`${relative(SRC, file)} (${from}) imports ${relative(SRC, target)} (${to})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('every import names a module that exists', () => {
    const missing = [...graph].flatMap(([file, imports]) => imports.filter((t) => !graph.has(t)).map((t) => `${relative(SRC, file)} → ${relative(SRC, t)}`));
    // The worker's entry point is loaded by URL (new Worker), not imported; anything else is a typo.
    assert.deepEqual(missing, []);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const walk = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const next of graph.get(file) ?? []) walk(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of files) walk(file, []);
    assert.deepEqual(cycles, []);
  });

  it('ARCHITECTURE.md names every module, and every module it names exists', () => {
    const map = readFileSync(join(SRC, '..', 'ARCHITECTURE.md'), 'utf8');
    const unnamed = files
      .map((f) => relative(SRC, f).replace(/\.ts$/, ''))
      .filter((m) => !map.includes(`\`${m.split('/').pop()}\``) && !map.includes(`${m}.ts`));
    assert.deepEqual(unnamed, [], 'modules the map does not mention');
    const named = [...map.matchAll(/`((?:cli|engine|http|storage|primitives)\/[a-z-]+\.ts)`/g)].map((m) => m[1]!);
    assert.ok(named.length > 10, 'the map names modules by path');
    assert.deepEqual(named.filter((m) => !graph.has(join(SRC, m))), [], 'paths in the map that are not in src/');
  });

  it(`no module is longer than ${MAX_LINES} lines`, () => {
    const long = files.flatMap((f) => {
      const lines = readFileSync(f, 'utf8').split('\n').length;
      return lines > MAX_LINES ? [`${relative(SRC, f)}: ${lines} lines`] : [];
    });
    assert.deepEqual(long, []);
  });
});
