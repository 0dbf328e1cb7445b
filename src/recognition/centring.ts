/**
 * Centring of embeddings (SimpleShot's CL2N, Wang et al. 2019): subtract a mean embedding,
 * then L2-normalise. MobileNet's post-ReLU features share a large common component, so raw
 * cosines of unrelated images are high (0.6-0.7) and crowd the threshold; with the common part
 * removed, cosines spread out and a threshold separates better.
 *
 * The mean is a small derived constant per model (models/*.mean.json, derived from a diverse
 * photo set by bench/embeddingMean.ts), so shots, class weights, scene prototypes and
 * queries must all go through the same transform.
 */
import { l2Normalize } from './vector.js';

export interface EmbeddingMean {
  /** sha256 of the model file whose embeddings it centres. */
  model: string;
  /** How many embeddings it was computed from. */
  count: number;
  /** Mean of whole embeddings: what the classifier's centring subtracts. */
  mean: Float32Array;
  /**
   * Mean of residuals normalise(embedding(scene + object) - embedding(scene)) over many scenes
   * and objects: the common "something appeared" direction the zone decision subtracts.
   */
  residualMean: Float32Array;
  /** How many composites it was computed from. */
  residualCount: number;
}

/** normalise(x - mean); with no mean, x itself (already a unit vector). */
export function centre(x: Float32Array, mean: Float32Array | null): Float32Array {
  if (!mean) return x;
  if (mean.length !== x.length) throw new Error(`embedding has ${x.length} values, the mean has ${mean.length}`);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! - mean[i]!;
  return l2Normalize(out);
}

/** Float64 mean of vectors (not normalised: centring subtracts the mean itself). */
export function meanOf(vectors: readonly Float32Array[]): Float32Array {
  const dim = vectors[0]?.length ?? 0;
  const acc = new Float64Array(dim);
  for (const v of vectors) {
    if (v.length !== dim) throw new Error(`vectors of ${v.length} and ${dim} values cannot be averaged`);
    for (let i = 0; i < dim; i++) acc[i]! += v[i]!;
  }
  return Float32Array.from(acc, (s) => s / Math.max(1, vectors.length));
}

/** The file form: `{model, count, dim, mean: number[]}` (6 significant digits are plenty). */
export function serialiseEmbeddingMean(m: EmbeddingMean): object {
  const round = (v: Float32Array): number[] => Array.from(v, (x) => Number(x.toPrecision(6)));
  return { model: m.model, count: m.count, dim: m.mean.length, mean: round(m.mean), residual_count: m.residualCount, residual_mean: round(m.residualMean) };
}

function vectorField(o: Record<string, unknown>, field: string, dim: unknown): Float32Array {
  const raw = o[field];
  if (!Array.isArray(raw) || raw.length === 0) throw new Error(`embedding mean: ${field} must be a non-empty array of numbers`);
  if (dim !== raw.length) throw new Error(`embedding mean: dim is ${String(dim)} but ${field} has ${raw.length} values`);
  const out = new Float32Array(raw.length);
  raw.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`embedding mean: ${field}[${i}] is not a finite number`);
    out[i] = v;
  });
  return out;
}

/** Parses and checks the file form; errors name the field. */
export function parseEmbeddingMean(json: unknown): EmbeddingMean {
  if (typeof json !== 'object' || json === null) throw new Error('embedding mean: expected an object');
  const o = json as Record<string, unknown>;
  if (typeof o.model !== 'string' || !/^[0-9a-f]{64}$/.test(o.model)) throw new Error('embedding mean: model must be a sha256 (64 hex digits)');
  if (typeof o.count !== 'number' || !Number.isInteger(o.count) || o.count < 1) throw new Error('embedding mean: count must be a positive integer');
  if (typeof o.residual_count !== 'number' || !Number.isInteger(o.residual_count) || o.residual_count < 1) {
    throw new Error('embedding mean: residual_count must be a positive integer');
  }
  const mean = vectorField(o, 'mean', o.dim);
  const residualMean = vectorField(o, 'residual_mean', o.dim);
  return { model: o.model, count: o.count, mean, residualMean, residualCount: o.residual_count };
}
