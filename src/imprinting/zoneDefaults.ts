/**
 * Default values of the scene-aware zone decision (src/imprinting/decision.ts), calibrated on
 * the field benchmark (bench/field.ts; method and figures in docs/field-accuracy.md).
 */
import type { ThresholdOptions } from './classThresholds.js';
import type { DecisionOptions } from './decision.js';

/** Lowest residual cosine that counts as a class (classifier.threshold's role in residual space). */
export const DEFAULT_ZONE_FLOOR = 0.45;

export const DEFAULT_DECISION: DecisionOptions = {
  margin: 0.1,
  minResidual: 0.1,
  negativeMargin: 0.05,
};

export const DEFAULT_CLASS_THRESHOLDS: ThresholdOptions = {
  floor: DEFAULT_ZONE_FLOOR,
  impostorMargin: 0.1,
  ceiling: 0.8,
};
