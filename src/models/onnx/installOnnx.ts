/**
 * At model install: the CPU model's ONNX twin, converted once and cached beside it. A model
 * the converter does not know is no failure: the CPU then runs it on TFLite.
 */
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import type { ModelFile } from '../manifest.js';
import { loadOrConvert } from './cache.js';

export type ConvertOutcome = 'converted' | 'present' | 'not converted';

export async function convertCpuModels(modelDir: string, files: ModelFile[], logger: Logger): Promise<Record<string, ConvertOutcome>> {
  const outcomes: Record<string, ConvertOutcome> = {};
  for (const file of files.filter((f) => f.role === 'cpu')) {
    try {
      const model = await loadOrConvert(join(modelDir, file.name));
      if (model.cacheError) throw new Error(`cannot write ${model.path}: ${model.cacheError}`);
      outcomes[basename(model.path)] = model.converted ? 'converted' : 'present';
      logger.info({ file: basename(model.path), outcome: outcomes[basename(model.path)] }, 'ONNX model ready');
    } catch (err) {
      outcomes[file.name.replace(/\.tflite$/, '.onnx')] = 'not converted';
      logger.warn(`${file.name} not converted to ONNX (${err instanceof Error ? err.message : String(err)}): the CPU will run it on TFLite`);
    }
  }
  return outcomes;
}
