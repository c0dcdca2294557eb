import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Bottom to top: a folder of src/ may import only itself and the folders before it. */
const LAYERS = ['protocol', 'native', 'config', 'system', 'exec', 'sessions', 'server', 'client', 'doctor', 'mcp', 'cli', 'boot'];
/** The files directly in src/ (the daemon's entry and its supervisor) sit above every folder. */
const TOP = LAYERS.length;

const SRC = resolve(__dirname, '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative specifiers of `import … from`, `export … from`, `import(…)` and `require(…)`. */
function relativeImports(text: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)(['"])(\.[^'"]*)\1/gm;
  for (const m of text.matchAll(pattern)) found.push(m[2]!);
  return found;
}

/** The layer of a file under src/: its folder's rank, or TOP for the files beside main.ts. */
function layerOf(fromSrc: string): number {
  const parts = fromSrc.split(sep);
  if (parts.length === 1) return TOP;
  const rank = LAYERS.indexOf(parts[0]!);
  if (rank < 0) throw new Error(`src/${parts[0]}/ has no place in the layer list of test/unit/layers.test.ts: add it there`);
  return rank;
}

function upwardImports(): string[] {
  const bad = new Set<string>();
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file);
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const to = relative(SRC, resolve(dirname(file), spec));
      if (to.startsWith('..')) continue;
      if (layerOf(to) > layerOf(from)) bad.add(`src/${from} -> src/${to} (import '${spec}')`);
    }
  }
  return [...bad];
}

test('no file under src/ imports a folder above its own', () => {
  const bad = upwardImports();
  assert.deepEqual(bad, [], `imports that run up the layers (${LAYERS.join(' < ')} < src/*.ts):\n${bad.join('\n')}`);
});

test('the scanner finds the imports it must judge', () => {
  const text = "import { a } from './a';\nexport { b } from '../b';\nimport type { C } from \"../c\";\nimport './side';\nconst m = require('../m') as typeof import('../m');";
  assert.deepEqual(relativeImports(text), ['./a', '../b', '../c', './side', '../m', '../m']);
});
