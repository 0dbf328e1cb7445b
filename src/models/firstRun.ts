import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/types.js';
import { AppError, errorMessage } from '../errors.js';
import { modelPath } from './manifest.js';
import { installModels } from './install.js';
import { loadManifest } from './manifest.js';

/**
 * First run: when the CPU model is missing, install the models — copied from the mirror
 * folder (EDGE_IMPRINT_MODEL_MIRROR) or downloaded — or fail with one clear message.
 */
export async function ensureModels(opts: { config: AppConfig; logger: Logger; mirror?: string }): Promise<void> {
  const { config, logger, mirror } = opts;
  if (existsSync(modelPath(config.model_dir, config.detector.model.cpu))) return;
  logger.info(
    mirror
      ? `model files not found in ${config.model_dir}: copying them from ${mirror}`
      : `model files not found in ${config.model_dir}: downloading Coral's official files`,
  );
  try {
    await installModels({ modelDir: config.model_dir, files: loadManifest(), logger, ...(mirror ? { from: mirror } : {}) });
  } catch (err) {
    throw new AppError(
      'model_missing',
      `could not install the model files into ${config.model_dir} (${errorMessage(err)}). ` +
        'Copy them from a folder with EDGE_IMPRINT_MODEL_MIRROR=/path/to/models, or run `npx edge-imprint models --from DIR`.',
    );
  }
}
