/**
 * Fine-tuning of imprinted weights (Qi, Brown & Lowe 2018, section 3.3): softmax
 * regression over scaled cosines, logits = s * cos(w_c, x), started from the imprinted
 * weights and trained on the stored shots. The weights stay unit vectors afterwards, so
 * scores remain cosines and the threshold and margin keep their meaning.
 *
 * Pure and deterministic: full-batch gradient descent (no sampling), a seeded split for
 * the held-out check. Each shot is contrasted with its own class and the `negatives`
 * classes nearest to it, which keeps one epoch O(shots x negatives x dim) instead of
 * O(shots x classes x dim) with 1000 classes.
 */
import type { ClassWeights } from './types.js';
import { dotRows, l2Normalize, meanDirection, seededRandom, shuffled } from './vector.js';

export interface LabelledShots {
  label: string;
  background?: boolean;
  /** L2-normalised embeddings. */
  shots: Float32Array[];
}

export interface FineTuneOptions {
  /** Cosine scale s of the logits; larger makes the softmax sharper. */
  scale: number;
  epochs: number;
  learningRate: number;
  /** Nearest other classes each shot is contrasted with. */
  negatives: number;
  /** Pull towards the imprinted weights (L2 weight decay to the start); 0 by default, it did not help on the benchmark. */
  anchor: number;
  /** Share of each class's shots held out to check fine-tuning against imprinting. */
  heldOutFraction: number;
  seed: number;
}

export const DEFAULT_FINE_TUNE: FineTuneOptions = {
  scale: 16,
  epochs: 20,
  learningRate: 0.3,
  negatives: 20,
  anchor: 0,
  heldOutFraction: 0.2,
  seed: 1,
};

export interface HeldOutCheck {
  shots: number;
  imprintAccuracy: number;
  fineTunedAccuracy: number;
  imprintMargin: number;
  fineTunedMargin: number;
}

export interface FineTuneResult {
  /** Fine-tuned weights when `used`, else the plain imprinted ones. `sum` holds the unit weight. */
  weights: ClassWeights[];
  used: boolean;
  heldOut: HeldOutCheck | null;
  reason: string;
}

/** Trains unit class weights from imprinted starts; returns one weight per class, in order. */
export function trainSoftmax(classes: readonly LabelledShots[], opts: FineTuneOptions): Float32Array[] {
  const dim = classes.find((c) => c.shots.length > 0)?.shots[0]?.length ?? 0;
  const start = classes.map((c) => meanDirection(c.shots, dim));
  const samples = classes.flatMap((c, y) => c.shots.map((x) => ({ x, y })));
  if (samples.length === 0 || classes.length < 2) return start;
  // One contiguous matrix each for weights, starts and gradients: the loops below are the cost.
  const w = new Float64Array(classes.length * dim);
  start.forEach((v, c) => w.set(v, c * dim));
  const w0 = Float64Array.from(w);
  const grads = new Float64Array(w.length);
  const norms = new Float64Array(classes.length);
  const startMatrix = new Float32Array(classes.length * dim);
  start.forEach((v, c) => startMatrix.set(v, c * dim));
  const candidates = samples.map((s) => candidateClasses(startMatrix, classes.length, s.x, s.y, opts.negatives));
  const step = opts.learningRate / samples.length;
  let previousLoss = Infinity;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    grads.fill(0);
    for (let c = 0; c < classes.length; c++) norms[c] = rowNorm(w, c * dim, dim);
    let loss = 0;
    samples.forEach((s, i) => (loss += accumulate(grads, w, norms, s.x, s.y, candidates[i]!, opts.scale)));
    // Stalled (e.g. classes already far apart): further epochs would change nothing visible.
    const gain = previousLoss - loss;
    if (gain >= 0 && gain < 1e-4 * samples.length) break;
    previousLoss = loss;
    for (let i = 0; i < w.length; i++) w[i]! -= step * grads[i]! + opts.learningRate * opts.anchor * (w[i]! - w0[i]!);
  }
  return classes.map((_, c) => l2Normalize(Float32Array.from(w.subarray(c * dim, (c + 1) * dim))));
}

/** The shot's own class first, then the `negatives` other classes most similar to it. */
function candidateClasses(matrix: Float32Array, classes: number, x: Float32Array, y: number, negatives: number): Int32Array {
  const scores = new Float64Array(classes);
  dotRows(matrix, classes, x, scores);
  // Partial selection: keep the best `negatives` in a small sorted list (negatives << classes).
  const top: number[] = [];
  for (let c = 0; c < classes; c++) {
    if (c === y) continue;
    if (top.length === negatives && scores[c]! <= scores[top[top.length - 1]!]!) continue;
    let at = top.length;
    while (at > 0 && scores[top[at - 1]!]! < scores[c]!) at--;
    top.splice(at, 0, c);
    if (top.length > negatives) top.pop();
  }
  return Int32Array.from([y, ...top]);
}

function rowNorm(m: Float64Array, base: number, dim: number): number {
  let s = 0;
  for (let i = base; i < base + dim; i++) s += m[i]! * m[i]!;
  return Math.sqrt(s) || 1;
}

/**
 * Adds one shot's cross-entropy gradient, dL/dw_c = (p_c - [c=y]) * s * (x - cos_c * w_c/|w_c|) / |w_c|,
 * and returns its loss -log p_y.
 */
function accumulate(
  grads: Float64Array,
  w: Float64Array,
  norms: Float64Array,
  x: Float32Array,
  y: number,
  candidates: Int32Array,
  scale: number,
): number {
  const dim = x.length;
  const cosines = new Float64Array(candidates.length);
  let top = -Infinity;
  for (let k = 0; k < candidates.length; k++) {
    const base = candidates[k]! * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) s += w[base + d]! * x[d]!;
    cosines[k] = s / norms[candidates[k]!]!;
    if (cosines[k]! > top) top = cosines[k]!;
  }
  let total = 0;
  const exps = cosines.map((cs) => Math.exp(scale * (cs - top)));
  for (const e of exps) total += e;
  for (let k = 0; k < candidates.length; k++) {
    const c = candidates[k]!;
    const n = norms[c]!;
    const coef = ((exps[k]! / total - (c === y ? 1 : 0)) * scale) / n;
    const cosOverNorm = cosines[k]! / n;
    const base = c * dim;
    for (let d = 0; d < dim; d++) grads[base + d]! += coef * (x[d]! - cosOverNorm * w[base + d]!);
  }
  return -Math.log(exps[0]! / total);
}

/** Closed-set top-1 accuracy and mean lead of the true class over the best other class. */
export function evaluate(weights: readonly Float32Array[], queries: ReadonlyArray<{ x: Float32Array; y: number }>): {
  accuracy: number;
  margin: number;
} {
  const dim = weights[0]?.length ?? 0;
  const matrix = new Float32Array(weights.length * dim);
  weights.forEach((w, i) => matrix.set(w, i * dim));
  let correct = 0;
  let margin = 0;
  const scores = new Float64Array(weights.length);
  for (const q of queries) {
    dotRows(matrix, weights.length, q.x, scores);
    const own = scores[q.y]!;
    let other = -Infinity;
    for (let c = 0; c < weights.length; c++) if (c !== q.y && scores[c]! > other) other = scores[c]!;
    if (own > other) correct++;
    margin += own - other;
  }
  const n = Math.max(1, queries.length);
  return { accuracy: correct / n, margin: margin / n };
}

/** Holds out a seeded share of each class's shots (classes with one shot keep it). */
function split(classes: readonly LabelledShots[], opts: FineTuneOptions): {
  train: LabelledShots[];
  heldOut: Array<{ x: Float32Array; y: number }>;
} {
  const random = seededRandom(opts.seed);
  const heldOut: Array<{ x: Float32Array; y: number }> = [];
  const train = classes.map((c, y) => {
    if (c.shots.length < 2) return { label: c.label, shots: c.shots };
    const order = shuffled(c.shots, random);
    const n = Math.min(order.length - 1, Math.max(1, Math.round(order.length * opts.heldOutFraction)));
    for (const x of order.slice(0, n)) heldOut.push({ x, y });
    return { label: c.label, shots: order.slice(n) };
  });
  return { train, heldOut };
}

function asWeights(classes: readonly LabelledShots[], unit: readonly Float32Array[]): ClassWeights[] {
  return classes.map((c, i) => ({
    label: c.label,
    background: c.background ?? false,
    sum: unit[i]!,
    count: c.shots.length,
  }));
}

/**
 * Fine-tunes on demand, but only keeps the result when, trained without a held-out share of
 * the shots, it classifies those held-out shots at least as well as plain imprinting.
 * Otherwise returns the imprinted weights.
 */
export function fineTune(classes: readonly LabelledShots[], options: Partial<FineTuneOptions> = {}): FineTuneResult {
  const opts = { ...DEFAULT_FINE_TUNE, ...options };
  const live = classes.filter((c) => c.shots.length > 0);
  const dim = live[0]?.shots[0]?.length ?? 0;
  const imprinted = asWeights(live, live.map((c) => meanDirection(c.shots, dim)));
  if (live.length < 2) return { weights: imprinted, used: false, heldOut: null, reason: 'fewer than two classes' };
  const { train, heldOut } = split(live, opts);
  if (heldOut.length === 0) {
    return { weights: imprinted, used: false, heldOut: null, reason: 'no class has two shots to hold one out' };
  }
  const plain = evaluate(train.map((c) => meanDirection(c.shots, dim)), heldOut);
  const tuned = evaluate(trainSoftmax(train, opts), heldOut);
  const check: HeldOutCheck = {
    shots: heldOut.length,
    imprintAccuracy: plain.accuracy,
    fineTunedAccuracy: tuned.accuracy,
    imprintMargin: plain.margin,
    fineTunedMargin: tuned.margin,
  };
  if (tuned.accuracy < plain.accuracy) return { weights: imprinted, used: false, heldOut: check, reason: 'fine-tuning scored below imprinting on held-out shots' };
  return { weights: asWeights(live, trainSoftmax(live, opts)), used: true, heldOut: check, reason: 'fine-tuning held up on held-out shots' };
}
