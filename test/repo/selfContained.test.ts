/**
 * The tests and benchmarks read nothing outside the repository except through documented
 * variables (EDGE_IMPRINT_TEST_MODEL_DIR, EDGE_IMPRINT_MODEL_MIRROR, EDGE_IMPRINT_DATASET_DIR):
 * a fresh clone has no folder beside it. A cheap guard against a path sneaking back in.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../helpers/env.js';

const SELF = fileURLToPath(import.meta.url);
const SOURCE = /\.(ts|mts|mjs|js|py|c|sh)$/;

/** What a file must not contain: a path beside or above the repository. */
const OUTSIDE: Array<[RegExp, string]> = [
  [/\.\.[\\/]+shared\b/, '../shared'],
  [/['"]\.\.['"]\s*,\s*['"]shared['"]/, "join('..', 'shared')"],
  [/(^|[^\w.])\/work\//, 'an absolute /work/ path'],
  [/EDGE_IMPRINT_SHARED\b/, 'EDGE_IMPRINT_SHARED'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return SOURCE.test(name) ? [path] : [];
  });
}

/** The reasons `text` reads outside the repository, one per line that does. */
export function outsideReads(text: string): string[] {
  return text.split('\n').flatMap((line, i) => OUTSIDE.filter(([re]) => re.test(line)).map(([, what]) => `line ${i + 1}: ${what}`));
}

void describe('tests and benchmarks are self-contained', () => {
  void it('recognises each way of reading outside the repository', () => {
    assert.deepEqual(outsideReads("const m = '../shared/models';"), ['line 1: ../shared']);
    assert.deepEqual(outsideReads("resolve(ROOT, '..', 'shared')"), ["line 1: join('..', 'shared')"]);
    assert.deepEqual(outsideReads("x\nreadFileSync('/work/shared/images/cat.jpg')"), ['line 2: an absolute /work/ path']);
    assert.deepEqual(outsideReads('process.env.EDGE_IMPRINT_SHARED'), ['line 1: EDGE_IMPRINT_SHARED']);
    assert.deepEqual(outsideReads("join(ROOT, 'test', 'fixtures', 'images') // a shared pool"), []);
  });

  void it('no file under test/, bench/ or scripts/ reads ../shared or an absolute /work path', () => {
    const files = ['test', 'bench', 'scripts'].flatMap((d) => sourceFiles(join(ROOT, d))).filter((f) => f !== SELF);
    assert.ok(files.length > 50, `only ${files.length} files found`);
    const found = files.flatMap((f) => outsideReads(readFileSync(f, 'utf8')).map((r) => `${relative(ROOT, f)} ${r}`));
    assert.deepEqual(found, []);
  });
});
