import { NONE, UNKNOWN, type Classification, type ClassWeights } from './types.js';
import { SimdDots } from './simdKernel.js';
import { dotRows, l2Normalize } from './vector.js';

export interface ClassifierOptions {
  /** Minimum cosine similarity for the best class to be reported. */
  threshold: number;
  /** Minimum lead of the best class over the runner-up. */
  margin: number;
}

interface ClassEntry {
  label: string;
  background: boolean;
}

/**
 * Imprinted-weights classifier (Qi, Brown & Lowe 2018): a class weight is the
 * normalised sum of its normalised shots, and the score is the cosine similarity.
 * A class may instead carry several proxies (multi-proxy); its score is then the best
 * proxy's. All weights live in one contiguous row-major Float32Array so that scoring
 * 1000 classes is one tight pass over memory (WebAssembly SIMD where available).
 */
export class ImprintedClassifier {
  private classes: ClassEntry[] = [];
  /** rows x dim, every row L2-normalised. */
  private matrix = new Float32Array(0);
  /** Class index of each row; a class's rows are adjacent. */
  private rowClass = new Int32Array(0);
  private dim = 0;
  private rowScores = new Float64Array(0);
  /** Per-class thresholds from the data (classThresholds); a class without one uses options.threshold. */
  private perClass = new Map<string, number>();
  /** The same matrix in WebAssembly memory, scored with SIMD; undefined where unavailable (then plain JS). */
  private kernelImpl: SimdDots | undefined;

  constructor(private options: ClassifierOptions) {}

  setOptions(options: ClassifierOptions): void {
    this.options = options;
  }

  setClasses(classes: ClassWeights[]): void {
    const kept = classes.filter((c) => c.count > 0);
    const rows = kept.map((c) => (c.proxies && c.proxies.length > 0 ? c.proxies : [c.sum]));
    const dim = rows[0]?.[0]?.length ?? 0;
    const total = rows.reduce((n, r) => n + r.length, 0);
    const matrix = new Float32Array(total * dim);
    const rowClass = new Int32Array(total);
    let row = 0;
    rows.forEach((weights, classIndex) => {
      for (const w of weights) {
        if (w.length !== dim) throw new Error(`class ${kept[classIndex]!.label} has a ${w.length}-d weight, expected ${dim}`);
        matrix.set(l2Normalize(w), row * dim);
        rowClass[row++] = classIndex;
      }
    });
    this.classes = kept.map((c) => ({ label: c.label, background: c.background }));
    this.matrix = matrix;
    this.rowClass = rowClass;
    this.dim = dim;
    this.rowScores = new Float64Array(total);
    this.kernelImpl = SimdDots.create(matrix, total, dim);
  }

  /** The threshold a class must reach: its own, or the configured one. */
  threshold(label: string): number {
    return this.perClass.get(label) ?? this.options.threshold;
  }

  /** Each class's own threshold (from its data, or the user's override). */
  setThresholds(thresholds: ReadonlyMap<string, number>): void {
    this.perClass = new Map(thresholds);
  }

  /** Which scoring loop runs: WebAssembly SIMD, or the plain JS fallback. */
  kernel(): 'wasm-simd' | 'js' {
    return this.kernelImpl ? 'wasm-simd' : 'js';
  }

  labels(): string[] {
    return this.classes.map((c) => c.label);
  }

  /**
   * `embedding` must already be L2-normalised. With `allowed` (a zone's class list) only
   * those classes and the background classes compete; the others are not scored at all.
   * `allowance` lowers every threshold (camera frames of a photo-taught class, see defaults.ts).
   */
  classify(embedding: Float32Array, allowed?: ReadonlySet<string>, allowance = 0): Classification {
    const scores: Record<string, number> = {};
    if (this.classes.length === 0) return { label: UNKNOWN, score: 0, scores };
    if (embedding.length !== this.dim) {
      throw new Error(`embedding has ${embedding.length} values, the classes have ${this.dim}`);
    }
    const perClass = this.scoreClasses(embedding);
    let best = -1;
    let bestScore = -Infinity;
    let secondScore = -Infinity;
    for (let c = 0; c < perClass.length; c++) {
      const entry = this.classes[c]!;
      if (allowed && allowed.size > 0 && !entry.background && !allowed.has(entry.label)) continue;
      const s = perClass[c]!;
      scores[entry.label] = s;
      if (s > bestScore) {
        secondScore = bestScore;
        bestScore = s;
        best = c;
      } else if (s > secondScore) {
        secondScore = s;
      }
    }
    if (best < 0) return { label: UNKNOWN, score: 0, scores };
    return { label: this.decide(this.classes[best]!, bestScore, secondScore, allowance), score: bestScore, scores };
  }

  /** Best cosine per class (max over its proxies), in class order. */
  private scoreClasses(embedding: Float32Array): Float64Array {
    const rows = this.rowClass.length;
    if (this.kernelImpl) this.kernelImpl.score(embedding, this.rowScores);
    else dotRows(this.matrix, rows, embedding, this.rowScores);
    const perClass = new Float64Array(this.classes.length).fill(-Infinity);
    for (let r = 0; r < rows; r++) {
      const c = this.rowClass[r]!;
      if (this.rowScores[r]! > perClass[c]!) perClass[c] = this.rowScores[r]!;
    }
    return perClass;
  }

  private decide(best: ClassEntry, bestScore: number, secondScore: number, allowance: number): string {
    const lead = secondScore === -Infinity ? Infinity : bestScore - secondScore;
    if (bestScore < this.threshold(best.label) - allowance || lead < this.options.margin) return UNKNOWN;
    return best.background ? NONE : best.label;
  }
}
