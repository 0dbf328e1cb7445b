import { NONE, UNKNOWN, type Classification, type ClassWeights } from './types.js';
import { dot, l2Normalize } from './vector.js';

export interface ClassifierOptions {
  /** Minimum cosine similarity for the best class to be reported. */
  threshold: number;
  /** Minimum lead of the best class over the runner-up. */
  margin: number;
}

interface Prototype {
  label: string;
  background: boolean;
  weights: Float32Array[]; // one imprinted weight, or several proxies
}

/**
 * Imprinted-weights classifier (Qi, Brown & Lowe 2018): a class weight is the
 * normalised sum of its normalised shots, and the score is the cosine similarity.
 */
export class ImprintedClassifier {
  private prototypes: Prototype[] = [];

  constructor(private options: ClassifierOptions) {}

  setOptions(options: ClassifierOptions): void {
    this.options = options;
  }

  setClasses(classes: ClassWeights[]): void {
    this.prototypes = classes
      .filter((c) => c.count > 0)
      .map((c) => ({
        label: c.label,
        background: c.background,
        weights: c.proxies && c.proxies.length > 0 ? c.proxies.map(l2Normalize) : [l2Normalize(c.sum)],
      }));
  }

  labels(): string[] {
    return this.prototypes.map((p) => p.label);
  }

  /** `embedding` must already be L2-normalised. */
  classify(embedding: Float32Array): Classification {
    const scores: Record<string, number> = {};
    let best: Prototype | undefined;
    let bestScore = -Infinity;
    let secondScore = -Infinity;
    for (const p of this.prototypes) {
      let s = -Infinity;
      for (const w of p.weights) s = Math.max(s, dot(w, embedding));
      scores[p.label] = s;
      if (s > bestScore) {
        secondScore = bestScore;
        bestScore = s;
        best = p;
      } else if (s > secondScore) {
        secondScore = s;
      }
    }
    if (!best) return { label: UNKNOWN, score: 0, scores };
    return { label: this.decide(best, bestScore, secondScore), score: bestScore, scores };
  }

  private decide(best: Prototype, bestScore: number, secondScore: number): string {
    const lead = secondScore === -Infinity ? Infinity : bestScore - secondScore;
    if (bestScore < this.options.threshold || lead < this.options.margin) return UNKNOWN;
    return best.background ? NONE : best.label;
  }
}
