import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';

/** The repository root. Tests read nothing outside it but the folders named below. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * The model files, installed before the tests by scripts/runTests.mjs with `edge-imprint
 * models` (downloaded, or copied from EDGE_IMPRINT_MODEL_MIRROR). Default .cache/models;
 * EDGE_IMPRINT_TEST_MODEL_DIR points elsewhere (scripts/modelCache.mjs owns this rule).
 */
export const MODEL_DIR = resolve(ROOT, process.env.EDGE_IMPRINT_TEST_MODEL_DIR || join('.cache', 'models'));
export const CPU_MODEL = join(MODEL_DIR, 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite');
export const EDGETPU_MODEL = join(MODEL_DIR, 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite');
/** The committed test photos (Open Images, CC BY 2.0: see COPYRIGHT there). */
export const FIXTURE_IMAGES = join(ROOT, 'test', 'fixtures', 'images');

/** The path of a test photo. */
export function image(name: string): string {
  return join(FIXTURE_IMAGES, name);
}

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = 'edge-imprint-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A TCP port on loopback that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** A logger for tests: silent unless EDGE_IMPRINT_TEST_LOG is set to a level. */
export function testLogger(): Logger {
  return pino({ level: process.env.EDGE_IMPRINT_TEST_LOG ?? 'silent' });
}

export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  /** What was awaited; a function to tell the state at the time out. */
  what: string | (() => string),
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
