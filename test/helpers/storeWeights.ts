/**
 * What the tests read of a class store beyond its API: each class's weights (the float64 sum of
 * its shots rounded once, as the classifier builds them) and the models of its shots.
 */
import type { ClassWeights } from '../../src/recognition/types.js';
import type { ClassStore } from '../../src/storage/classStore.js';
import { sumFloat32 } from '../../src/storage/codec.js';

/** Per class, ordered by label; `count` is the class row's own count, so tests still check it. */
export function weightsOf(store: ClassStore): ClassWeights[] {
  const shots = new Map(store.shotEmbeddings().map((c) => [c.label, c.shots]));
  return store.listClasses().map((c) => {
    const mine = shots.get(c.label) ?? [];
    return { label: c.label, background: c.background, sum: sumFloat32(mine, mine[0]?.length ?? 0), count: c.shots };
  });
}

/** Distinct models of the stored shots, sorted. */
export function modelsOf(store: ClassStore): string[] {
  return [...new Set(store.shots().map((s) => s.model))].sort();
}
