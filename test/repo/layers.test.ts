/**
 * The rooms of src/ and their order, bottom first: a file may import its own room and the
 * rooms below it, never one beside or above it. Pure recognition maths and storage sit at
 * the bottom; the composition root (app, core) at the top. Also: no source file over 400 lines.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

const LAYERS: readonly string[][] = [
  ['errors', 'version'],
  ['recognition'],
  ['config'],
  ['storage', 'media', 'process', 'models'],
  ['detector'],
  ['eventBus'],
  ['imprinting', 'camera'],
  ['pipeline'],
  ['commands'],
  ['mqtt'],
  ['homeassistant', 'fleet'],
  ['web'],
  ['core', 'mqttApi', 'startupBanner'],
  ['app'],
  ['cli'],
];

const MAX_LINES = 400;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** `src/pipeline/x.ts` → `pipeline`; `src/app.ts` → `app`. */
function roomOf(path: string): string {
  const parts = relative(SRC, path).split(/[\\/]/);
  return parts.length === 1 ? parts[0]!.replace(/\.[jt]s$/, '') : parts[0]!;
}

function layerOf(room: string): number {
  const index = LAYERS.findIndex((rooms) => rooms.includes(room));
  if (index < 0) throw new Error(`room "${room}" has no layer: add it to LAYERS in ${relative(ROOT, fileURLToPath(import.meta.url))}`);
  return index;
}

/** Every relative import (type-only ones too: they are arrows of the graph as well). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => resolve(dirname(file), m[1]!));
}

// The browser's code is its own program (its own tsconfig); it may import only web/ui and the API types.
const server = sourceFiles(SRC).filter((f) => !relative(SRC, f).startsWith(join('web', 'ui')));

describe('rooms of src/', () => {
  it('import only their own room and the rooms below them', () => {
    const upward: string[] = [];
    for (const file of server) {
      const from = roomOf(file);
      for (const target of importsOf(file)) {
        const to = roomOf(target);
        if (to === from) continue;
        if (layerOf(to) >= layerOf(from)) upward.push(`${relative(SRC, file)} → ${relative(SRC, target)} (${from} → ${to})`);
      }
    }
    assert.deepEqual(upward, []);
  });

  it(`have no file over ${MAX_LINES} lines`, () => {
    // Code a generator wrote (the model schemas) is read by no one and rewritten whole.
    const written = sourceFiles(SRC).filter((f) => !readFileSync(f, 'utf8').startsWith('// automatically generated'));
    const long = written
      .map((f) => ({ file: relative(SRC, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.file}: ${f.lines}`);
    assert.deepEqual(long, []);
  });
});
