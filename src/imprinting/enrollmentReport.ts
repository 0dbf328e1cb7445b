/**
 * What an enrollment taught, told in its answer (contract round 3): where the class can fire
 * now (`recognised_in`) and what deserves a look (`warning`), the enrollment still `ok`.
 *
 * - looks_like_scene: a camera frame within its unit's empty scene (|x - s| below the
 *   decision's minResidual: the unit would call that frame `none`), or a photo the recognizer
 *   calls `none` (a background class wins). Such a class later fires on whatever differs.
 * - no_scene: the unit has not learned its empty scene yet; the class is known there by its look only.
 * - duplicates_class: a new shot whose centred cosine to another class's weight reaches that
 *   class's threshold (with the weights and thresholds in use before the enrollment): that
 *   class already claims the shot, so the two will compete for the same things.
 * - raises_thresholds: other classes whose threshold in effect went up with this enrollment
 *   (a learned threshold sits above the nearest other class, now perhaps this one), photo
 *   thresholds and each unit's, named with the numbers before and after.
 * Reads the recognizer only: before the store transaction, and after the reload.
 */
import type { Recognizer } from './recognizer.js';
import { NONE, type EnrollWarning, type RecognisedIn, type UnitRef } from '../recognition/types.js';

export interface ReportUnits {
  /** Every camera unit configured (each zone, or the whole frame of a camera without zones). */
  units: () => UnitRef[];
  /** The classes a unit may report (empty: every class). */
  unitClasses?: (unit: UnitRef) => string[];
}

/** The recognizer's view before the enrollment is stored. */
export interface BeforeEnrollment {
  photo: Map<string, number>;
  units: Record<string, Record<string, number>>;
  warnings: EnrollWarning[];
}

const where = (unit: UnitRef): string => (unit.zone === null ? `camera "${unit.camera}"` : `zone "${unit.zone}" of camera "${unit.camera}"`);
const n2 = (x: number): string => x.toFixed(2);

export function beforeEnrollment(recognizer: Recognizer, label: string, embeddings: readonly Float32Array[], unit?: UnitRef): BeforeEnrollment {
  const photo = new Map(recognizer.labels().map((l) => [l, recognizer.threshold(l)]));
  return { photo, units: recognizer.unitThresholds(), warnings: [...sceneWarnings(recognizer, embeddings, unit), ...duplicates(recognizer, label, embeddings)] };
}

function sceneWarnings(recognizer: Recognizer, embeddings: readonly Float32Array[], unit?: UnitRef): EnrollWarning[] {
  if (unit) {
    const seen = embeddings.map((x) => recognizer.sceneDistance(unit, x));
    if (seen.every((s) => s === null)) {
      return [{ code: 'no_scene', message: `${where(unit)} has not learned its empty scene yet: the class is recognised there by its look only, like a photo` }];
    }
    const within = seen.filter((s) => s?.within);
    if (within.length === 0) return [];
    const closest = Math.min(...within.map((s) => s!.distance));
    return [{
      code: 'looks_like_scene',
      message: `${within.length} of ${embeddings.length} frames look like the empty scene of ${where(unit)} (distance ${n2(closest)}, below ${n2(within[0]!.min)}): there was probably nothing to see, and the class may fire on anything else there`,
    }];
  }
  const empty = embeddings.filter((x) => recognizer.classify(x).label === NONE).length;
  if (empty === 0) return [];
  return [{ code: 'looks_like_scene', message: `${empty} of ${embeddings.length} images match a background class (an empty scene): the class may fire on anything that is not that scene` }];
}

function duplicates(recognizer: Recognizer, label: string, embeddings: readonly Float32Array[]): EnrollWarning[] {
  const best = new Map<string, number>();
  for (const x of embeddings) {
    for (const [other, score] of Object.entries(recognizer.classify(x).scores)) {
      if (other === label || recognizer.isBackground(other) || score < recognizer.threshold(other)) continue;
      best.set(other, Math.max(score, best.get(other) ?? -1));
    }
  }
  return [...best].map(([other, score]) => ({
    code: 'duplicates_class' as const,
    message: `looks like class "${other}" (score ${n2(score)}, its threshold ${n2(recognizer.threshold(other))}): the two will compete for the same things`,
  }));
}

/** The answer's additions, once the recognizer has reloaded with the new shots. */
export function afterEnrollment(
  recognizer: Recognizer,
  label: string,
  before: BeforeEnrollment,
  units: ReportUnits,
): { warning?: EnrollWarning[]; recognised_in: RecognisedIn[] } {
  const raised: string[] = [];
  for (const [other, was] of before.photo) {
    const now = recognizer.threshold(other);
    if (other !== label && now > was + 1e-9) raised.push(`"${other}" ${n2(was)} → ${n2(now)}`);
  }
  const after = recognizer.unitThresholds();
  for (const [key, thresholds] of Object.entries(before.units)) {
    for (const [other, was] of Object.entries(thresholds)) {
      const now = after[key]?.[other];
      if (other !== label && now !== undefined && now > was + 1e-9) raised.push(`"${other}" in ${key} ${n2(was)} → ${n2(now)}`);
    }
  }
  const warnings = [...before.warnings];
  if (raised.length > 0) {
    warnings.push({ code: 'raises_thresholds', message: `raised the threshold of ${raised.join(', ')} ("${label}" is now their closest other class): they are recognised less readily` });
  }
  return { ...(warnings.length > 0 ? { warning: warnings } : {}), recognised_in: recognisedIn(recognizer, label, units) };
}

/**
 * Per configured unit, how the recognizer can report the class there (as recognize() and
 * recognizeRegions() do): by its residual where it was taught, else by its look on the whole
 * frame (not a class cut out of camera frames); and in regions of the frame for a class with
 * photo or box shots (a box class taught in its unit is named both ways).
 */
function recognisedIn(recognizer: Recognizer, label: string, units: ReportUnits): RecognisedIn[] {
  if (recognizer.isBackground(label)) return [];
  const byLook = recognizer.wholeByLook(label);
  return units.units().flatMap((unit): RecognisedIn[] => {
    const allowed = units.unitClasses?.(unit) ?? [];
    if (allowed.length > 0 && !allowed.includes(label)) return [];
    const crop = recognizer.cropClasses(allowed).includes(label) ? [{ ...unit, how: 'crop' as const }] : [];
    if (recognizer.taughtIn(unit, label)) return [{ ...unit, how: 'residual' }, ...crop];
    return byLook ? [{ ...unit, how: 'whole' }, ...crop] : crop;
  });
}
