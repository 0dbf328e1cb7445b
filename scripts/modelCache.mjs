// The model files for the tests and the benchmarks, installed by the product's own
// `edge-imprint models` into a cache folder that is not committed (.cache/models, or
// EDGE_IMPRINT_TEST_MODEL_DIR). That command downloads Coral's official files and checks
// their sha256, or copies them from EDGE_IMPRINT_MODEL_MIRROR when it is set; a file
// already there with the right sha256 is kept.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const MODEL_CACHE = resolve(ROOT, process.env.EDGE_IMPRINT_TEST_MODEL_DIR || join('.cache', 'models'));

/** Installs the models into MODEL_CACHE; throws with the command's output when it fails. */
export function installModelCache() {
  mkdirSync(MODEL_CACHE, { recursive: true });
  const cli = join(ROOT, 'src', 'cli', 'main.ts');
  // Run from the cache folder, so a developer's config/config.yaml plays no part.
  const result = spawnSync(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), cli, 'models', '--model-dir', MODEL_CACHE],
    { cwd: MODEL_CACHE, encoding: 'utf8' },
  );
  if (result.status !== 0) {
    throw new Error(
      `could not install the model files into ${MODEL_CACHE} with \`edge-imprint models\`:\n` +
        `${result.stdout}${result.stderr}\n` +
        'On a machine without internet, set EDGE_IMPRINT_MODEL_MIRROR to a folder that has them.',
    );
  }
  return result.stdout.trim();
}
