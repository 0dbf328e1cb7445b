/**
 * Default values of the scene-aware zone decision (src/recognition/decision.ts), chosen on the
 * field benchmark's tuning clips (bench/field.ts; method, grid and figures on the held-out
 * clips in docs/field-accuracy.md). The outcome is flat around them: floor 0.45-0.5,
 * impostor margin 0.1 (0.05 lets more never-enrolled objects through), margin 0.1 (0.05
 * gives wrong labels between two enrolled classes), negative margin 0.25 (below 0.2, or
 * 0.2 with augmented shots, a rejected look-alike can come back from another angle; 0.28
 * and above cost recall).
 * minResidual and the scene model's options changed nothing measurable in 0-0.2,
 * 0.85-0.95 (merge) and 30-600 s (tau).
 */
import type { ThresholdOptions } from './classThresholds.js';
import type { DecisionOptions } from './decision.js';

/** Lowest residual cosine that counts as a class (classifier.threshold's role in residual space). */
export const DEFAULT_ZONE_FLOOR = 0.45;

export const DEFAULT_DECISION: DecisionOptions = {
  margin: 0.1,
  minResidual: 0.1,
  negativeMargin: 0.25,
};

export const DEFAULT_CLASS_THRESHOLDS: ThresholdOptions = {
  floor: DEFAULT_ZONE_FLOOR,
  impostorMargin: 0.1,
  ceiling: 0.8,
};
