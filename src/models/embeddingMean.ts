/**
 * The shipped mean embeddings (models/*.mean.json, derived by bench/embeddingMean.ts), one
 * file per model: centring subtracts them. Looked up by the model's sha256, so a mean can
 * never centre another model's embeddings.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseEmbeddingMean, type EmbeddingMean } from '../recognition/centring.js';

/** The package's models/ folder (from src/models under tsx, dist/models when built). */
const MEANS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));

/** The mean for the model with this sha256, or null when none ships for it. Throws on a corrupt file. */
export function loadEmbeddingMean(modelSha256: string, dir = MEANS_DIR): EmbeddingMean | null {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.mean.json'));
  } catch {
    return null;
  }
  for (const file of files) {
    let mean: EmbeddingMean;
    try {
      mean = parseEmbeddingMean(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    } catch (err) {
      throw new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (mean.model === modelSha256) return mean;
  }
  return null;
}
