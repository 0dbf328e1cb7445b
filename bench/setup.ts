import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { installModelCache, MODEL_CACHE } from '../scripts/modelCache.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The tests' model cache (.cache/models, or EDGE_IMPRINT_TEST_MODEL_DIR); see installBenchModels. */
export const MODEL_DIR = MODEL_CACHE;
/** The committed test photos (Open Images, CC BY 2.0: see COPYRIGHT there). */
export const FIXTURE_IMAGES = join(ROOT, 'test', 'fixtures', 'images');

/** Installs the model files into MODEL_DIR with `edge-imprint models`, as the tests do. */
export function installBenchModels(): void {
  installModelCache();
}

export function benchLogger(): Logger {
  return pino({ level: process.env.EDGE_IMPRINT_BENCH_LOG ?? 'silent' });
}

export function tempDir(): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'edge-imprint-bench-'));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
