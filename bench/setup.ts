import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = process.env.EDGE_IMPRINT_SHARED ?? resolve(ROOT, '..', 'shared');
/** Benchmarks use the installed models when present, else the shared copies. */
export const MODEL_DIR = process.env.EDGE_IMPRINT_MODEL_DIR ?? join(SHARED, 'models');
export const SHARED_IMAGES = join(SHARED, 'images');

export function benchLogger(): Logger {
  return pino({ level: process.env.EDGE_IMPRINT_BENCH_LOG ?? 'silent' });
}

export function tempDir(): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'edge-imprint-bench-'));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
