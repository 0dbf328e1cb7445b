/**
 * Per-class thresholds from data instead of one global number.
 *
 * For class c with unit weight w_c (mean direction of its shots):
 *   genuine  = the lowest leave-one-out cosine of one of its shots to the mean of the others
 *              (how far a real appearance can stray; unknown with a single shot);
 *   impostor = the highest cosine of w_c to anything that is NOT c: the other classes' shots
 *              and the frames users rejected as c in this zone. (Residuals of the empty
 *              scene were tried as impostors too; they never came close enough to matter.)
 * threshold = impostor + impostorMargin, lowered to the midpoint of impostor and genuine when
 * that would reject the class's own shots, and never below `floor` (classifier.threshold in
 * this space). A per-class override (class/set) replaces the computation.
 * Pure: recomputed whenever a class's shots, the classes or a zone's negatives change.
 */
import type { DecisionClass } from './decision.js';
import { dot, meanDirection } from './vector.js';

export interface ThresholdClass {
  label: string;
  /** Unit vectors in the decision space (residual shots). */
  shots: readonly Float32Array[];
  /** The user's per-class threshold; replaces the computed one. */
  override?: number;
}

export interface ThresholdOptions {
  floor: number;
  /** How far above the closest impostor the threshold sits. */
  impostorMargin: number;
  /** Upper limit, so a class that looks like everything stays reachable at all. */
  ceiling: number;
}

export interface ClassThreshold {
  label: string;
  threshold: number;
  source: 'override' | 'data' | 'floor';
  /** Lowest leave-one-out shot cosine; null with one shot. */
  genuine: number | null;
  /** Highest cosine of an impostor to the class weight; null when there is none. */
  impostor: number | null;
}

/** The class weight used by the decision: the mean direction of the (residual) shots. */
export function classWeight(shots: readonly Float32Array[]): Float32Array {
  const dim = shots[0]?.length ?? 0;
  return meanDirection(shots, dim);
}

function genuineOf(shots: readonly Float32Array[]): number | null {
  if (shots.length < 2) return null;
  let low = Infinity;
  shots.forEach((s, i) => low = Math.min(low, dot(s, classWeight(shots.filter((_, j) => j !== i)))));
  return low;
}

export function classThresholds(
  classes: readonly ThresholdClass[],
  negatives: ReadonlyArray<{ label: string; residual: Float32Array }>,
  opts: ThresholdOptions,
): ClassThreshold[] {
  return classes.map((c) => {
    const w = classWeight(c.shots);
    const genuine = genuineOf(c.shots);
    const others = [
      ...classes.filter((o) => o.label !== c.label).flatMap((o) => o.shots),
      ...negatives.filter((n) => n.label === c.label).map((n) => n.residual),
    ];
    const impostor = others.length === 0 ? null : Math.max(...others.map((v) => dot(w, v)));
    if (c.override !== undefined) return { label: c.label, threshold: c.override, source: 'override', genuine, impostor };
    if (impostor === null) return { label: c.label, threshold: opts.floor, source: 'floor', genuine, impostor };
    let t = impostor + opts.impostorMargin;
    if (genuine !== null && t > genuine) t = (impostor + genuine) / 2;
    t = Math.min(opts.ceiling, t);
    return t > opts.floor
      ? { label: c.label, threshold: t, source: 'data', genuine, impostor }
      : { label: c.label, threshold: opts.floor, source: 'floor', genuine, impostor };
  });
}

/**
 * What a zone's decision needs from its classes: each class's weight and effective threshold
 * (data, override or floor), plus the thresholds' details to publish in `classes`. Only
 * classes with at least one residual shot take part. `perClass: false` gives every class the
 * floor (or its override), as one global threshold would.
 */
export function decisionClasses(
  classes: readonly ThresholdClass[],
  negatives: ReadonlyArray<{ label: string; residual: Float32Array }>,
  opts: ThresholdOptions & { perClass: boolean },
): { classes: DecisionClass[]; thresholds: ClassThreshold[] } {
  const live = classes.filter((c) => c.shots.length > 0);
  const thresholds = opts.perClass
    ? classThresholds(live, negatives, opts)
    : live.map((c): ClassThreshold => ({ label: c.label, threshold: c.override ?? opts.floor, source: c.override === undefined ? 'floor' : 'override', genuine: null, impostor: null }));
  return { classes: live.map((c, i) => ({ label: c.label, weight: classWeight(c.shots), threshold: thresholds[i]!.threshold })), thresholds };
}
