/**
 * The per-frame decision for one zone of a fixed camera, scene-aware.
 *
 * On a fixed camera most of a zone is the same scene whatever walks in, so whole-frame
 * embeddings of "scene + cat", "scene + dog" and the empty scene are all close (raw cosines
 * 0.9+). The decision therefore works on the frame's RESIDUAL against the zone's own scene:
 * r = normalise(x - s), s the scene prototype (or user background shot) nearest to x. What
 * is left is what differs from the scene - the object - and a class weight is the mean of
 * its shots' residuals, taken against the scene when the shot was taken (see residualShot).
 * Residuals of unrelated objects still share a common "something appeared here" direction;
 * it is subtracted too (SimpleShot-style centring with the shipped residual mean, see
 * centring.ts), which is what separates a never-enrolled object from an enrolled one.
 *
 * A frame is a class only when
 *   - it differs from the scene at all: |x - s| >= minResidual (else `none`, reason `scene`);
 *   - its residual points at the class: cos(r, w_c) >= the class's threshold;
 *   - that class leads the runner-up by `margin`;
 *   - no frame a user rejected as that class in this zone comes within negativeMargin of
 *     the class's score: cos(r, n) < cos(r, w_c) - negativeMargin (reason `negative`). A
 *     rejected look-alike seen again from another side is still closer to its own rejected
 *     frame than the real class's appearances are.
 * Only the zone's allowed classes compete. Pure: no I/O, no clock.
 */
import { centre } from './centring.js';
import { NONE, UNKNOWN } from './types.js';
import { dot, l2Normalize } from './vector.js';

export interface DecisionClass {
  label: string;
  /** Unit weight in residual space (classWeight of its residual shots). */
  weight: Float32Array;
  /** Effective threshold on cos(residual, weight) (classThresholds). */
  threshold: number;
}

/** A frame a user rejected as `label` in this zone, as its residual. */
export interface Negative {
  label: string;
  residual: Float32Array;
}

export interface ZoneView {
  classes: readonly DecisionClass[];
  /**
   * What the zone looks like empty, raw unit embeddings: the scene model's prototypes plus
   * the shots of user background classes.
   */
  scene: readonly Float32Array[];
  /** Labels this zone may report; null = every class. */
  allowed: ReadonlySet<string> | null;
  negatives: readonly Negative[];
  /** The model's residual mean (EmbeddingMean.residualMean); null = no centring. */
  residualMean: Float32Array | null;
}

export interface DecisionOptions {
  /** Lead the best class needs over the runner-up (residual cosines). */
  margin: number;
  /** Smallest |x - s| of a frame that shows something (unit embeddings, so 0..2). */
  minResidual: number;
  /** The class's score must beat its nearest negative's by this much. */
  negativeMargin: number;
}

export type DecisionReason = 'match' | 'no_scene' | 'no_classes' | 'scene' | 'below_threshold' | 'margin' | 'negative';

export interface Decision {
  /** A class label, `unknown` (something, no class) or `none` (the scene). */
  label: string;
  /** Residual cosine of the best allowed class (0 when there is none). */
  score: number;
  /** Residual cosine per allowed class. */
  scores: Record<string, number>;
  reason: DecisionReason;
  /** |x - s|: how far the frame is from its nearest scene look. */
  residual: number;
  /** Raw cosine to the nearest scene look. */
  sceneScore: number;
  /**
   * The frame's residual (null without a scene): what an event keeps, so that a later
   * reject makes it a negative and a confirm makes it a shot, both against the scene as it
   * was when the frame was seen.
   */
  vector: Float32Array | null;
}

/** centre(normalise(x - s), residualMean) and |x - s|. */
export function residual(x: Float32Array, scene: Float32Array, residualMean: Float32Array | null): { vector: Float32Array; norm: number } {
  if (x.length !== scene.length) throw new Error(`embedding has ${x.length} values, the scene has ${scene.length}`);
  const d = new Float32Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    d[i] = x[i]! - scene[i]!;
    sum += d[i]! * d[i]!;
  }
  return { vector: centre(l2Normalize(d), residualMean), norm: Math.sqrt(sum) };
}

/** The scene look nearest to x (raw cosine), or null when there is none. */
export function nearestScene(x: Float32Array, scene: readonly Float32Array[]): { vector: Float32Array; score: number } | null {
  let best: Float32Array | null = null;
  let score = -Infinity;
  for (const s of scene) {
    const c = dot(s, x);
    if (c > score) {
      score = c;
      best = s;
    }
  }
  return best ? { vector: best, score } : null;
}

/**
 * A shot as a class stores it for zone decisions: its residual against the zone's scene at the
 * time it was taken (null when the zone has no scene yet).
 */
export function residualShot(x: Float32Array, scene: readonly Float32Array[], residualMean: Float32Array | null): Float32Array | null {
  const s = nearestScene(x, scene);
  return s ? residual(x, s.vector, residualMean).vector : null;
}

export function decide(x: Float32Array, zone: ZoneView, opts: DecisionOptions): Decision {
  const dim = zone.scene[0]?.length ?? zone.classes[0]?.weight.length ?? x.length;
  if (x.length !== dim) throw new Error(`embedding has ${x.length} values, the scene has ${dim}`);
  const s = nearestScene(x, zone.scene);
  if (!s) return { label: NONE, score: 0, scores: {}, reason: 'no_scene', residual: 0, sceneScore: 0, vector: null };
  const r = residual(x, s.vector, zone.residualMean);
  const base = { residual: r.norm, sceneScore: s.score, vector: r.vector };
  const classes = zone.classes.filter((c) => !zone.allowed || zone.allowed.has(c.label));
  const scores: Record<string, number> = {};
  let best: DecisionClass | null = null;
  let bestScore = -Infinity;
  let second = -Infinity;
  for (const c of classes) {
    const v = dot(c.weight, r.vector);
    scores[c.label] = v;
    if (v > bestScore) {
      second = bestScore;
      bestScore = v;
      best = c;
    } else if (v > second) {
      second = v;
    }
  }
  if (r.norm < opts.minResidual) return { label: NONE, score: best ? bestScore : 0, scores, reason: 'scene', ...base };
  if (!best) return { label: UNKNOWN, score: 0, scores, reason: 'no_classes', ...base };
  const out = (label: string, reason: DecisionReason): Decision => ({ label, score: bestScore, scores, reason, ...base });
  if (bestScore < best.threshold) return out(UNKNOWN, 'below_threshold');
  if (bestScore - second < opts.margin) return out(UNKNOWN, 'margin');
  for (const n of zone.negatives) {
    if (n.label === best.label && dot(n.residual, r.vector) >= bestScore - opts.negativeMargin) return out(UNKNOWN, 'negative');
  }
  return out(best.label, 'match');
}
