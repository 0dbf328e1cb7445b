/**
 * How a class may be matched, read once from where its shots came (Shot.source): the
 * Recognizer asks these sets on every frame, so they are derived in one place when the
 * classes load, not filtered again per question. Pure.
 */
import { isCutSource, isObjectSource } from './regions.js';

export interface KindedClass {
  label: string;
  background: boolean;
  /** Where each shot came from; absent for other nodes' shots (then matched by the class's look only). */
  sources?: readonly string[];
}

export interface ClassKinds {
  /** Looks of an empty scene (`none`), never an object. */
  background: ReadonlySet<string>;
  /** With a shot of the object itself (a photo, a drawn box, a snapshot): matched against regions of frames. */
  crop: ReadonlySet<string>;
  /** Crop classes with objects cut out of a camera's frame (isCutSource): they match regions cut out the same way. */
  cut: ReadonlySet<string>;
  /** Crop classes from photos only: matched with regions as the camera saw them (and by their photos' objects). */
  photo: ReadonlySet<string>;
  /** Classes a unit's whole frame may match by their look: all but the cut ones (an object on grey, which a plain grey view scores as well). */
  look: ReadonlySet<string>;
}

export function classKinds(classes: readonly KindedClass[]): ClassKinds {
  const labelsOf = (keep: (c: KindedClass) => boolean): Set<string> => new Set(classes.filter(keep).map((c) => c.label));
  const background = labelsOf((c) => c.background);
  const crop = labelsOf((c) => !c.background && (c.sources ?? []).some(isObjectSource));
  const cut = labelsOf((c) => crop.has(c.label) && (c.sources ?? []).some(isCutSource));
  return {
    background,
    crop,
    cut,
    photo: new Set([...crop].filter((l) => !cut.has(l))),
    look: labelsOf((c) => !cut.has(c.label)),
  };
}
