/**
 * What a frame or a photo shows, with everything the agent has learned: the classes'
 * shots, their per-class thresholds, each camera unit's empty scene, and the corrections.
 *
 * - Photos (the `classify` command, the CLI) and classes taught from photos: the imprinted
 *   classifier on centred embeddings (SimpleShot CL2N with the shipped generic mean), each
 *   class with its own threshold from its data (classThresholds) or the user's override.
 * - Camera units (each zone, or the whole frame of a camera without zones), scene-aware
 *   (decision.ts): a frame is compared with the unit's learned empty scene first — close to
 *   it is `none`; otherwise its residual against the scene is matched with the classes
 *   taught in this unit (enrolled from it, or events confirmed there). Classes only taught
 *   from photos are then tried by their look, but only when the frame differs from the scene.
 *
 * Pure apart from the scene book it reads; rebuilt by load() whenever the store changes.
 */
import { classThresholds, decisionClasses } from '../recognition/classThresholds.js';
import { centre, type EmbeddingMean } from '../recognition/centring.js';
import { ImprintedClassifier } from '../recognition/classifier.js';
import { decide, nearestScene, residual, residualShot, type DecisionClass, type DecisionOptions, type Negative } from '../recognition/decision.js';
import { unitKey, type SceneBook } from './sceneBook.js';
import { NONE, UNKNOWN, type Classification, type ClassWeights, type ThresholdSource, type UnitRef } from '../recognition/types.js';
import { meanDirection } from '../recognition/vector.js';
import { DEFAULT_CAMERA_ALLOWANCE, DEFAULT_CROP_FLOOR, NEAR_LEVEL } from '../recognition/defaults.js';
import type { ClassThreshold, ThresholdOptions } from '../recognition/classThresholds.js';
import type { Box } from '../recognition/regions.js';
import { classKinds, type ClassKinds } from '../recognition/classKinds.js';

/** The names `classes` publishes (contract: threshold_source) for classThresholds' sources. */
const SOURCE_NAMES: Record<ClassThreshold['source'], ThresholdSource> = { data: 'learned', override: 'set', floor: 'floor' };

export interface RecognizerClass {
  label: string;
  background: boolean;
  /** Raw unit embeddings of its shots. */
  shots: Float32Array[];
  /** Where each shot came from (Shot.source); absent for shots of other nodes. */
  sources?: string[];
  /** The objects found in its photos (photoObject.ts), raw embeddings; absent or empty: none. */
  objects?: Float32Array[];
  override: number | null;
}

/** A region of a camera frame (regions.ts) embedded on its own; `box` in fractions of the frame. */
export interface RegionEmbedding {
  box: Box;
  /** The region's object cut out (or, without an empty view, the region as seen). */
  embedding: Float32Array;
  /** The region as the camera saw it, when the cut-out differs from it: photo classes match this. */
  plain?: Float32Array;
}

export interface RecognizerData {
  classes: RecognizerClass[];
  /** Residual shots: a class as a camera unit saw it. */
  zoneShots: Array<{ label: string; camera: string; zone: string | null; residual: Float32Array }>;
  /** Corrections: label null = the unit's empty scene; residual null for units without a scene then. */
  negatives: Array<{ label: string | null; camera: string; zone: string | null; embedding: Float32Array; residual: Float32Array | null }>;
  /** Frames users said were not a class, seen by no camera unit here (other nodes' corrections): photo thresholds only. */
  classNegatives?: Array<{ label: string; embedding: Float32Array }>;
}

export interface RecognizerOptions {
  /** The photo classifier's floor and margin in centred space (classifier.threshold/margin). */
  threshold: number;
  margin: number;
  /** Per-class threshold rules (impostor margin, ceiling); the floor comes from `threshold`. */
  classThresholds: Omit<ThresholdOptions, 'floor'>;
  zone: { decision: DecisionOptions; thresholds: ThresholdOptions };
}

interface UnitView {
  classes: DecisionClass[];
  thresholds: Map<string, number>;
  negatives: Negative[];
  /** Frames users said showed nothing here: extra looks of the empty scene. */
  sceneExamples: Float32Array[];
}

export class Recognizer {
  private readonly photos: ImprintedClassifier;
  /** Photo classes by the objects found in their photos: matched with regions' cut-outs. */
  private readonly objects: ImprintedClassifier;
  private units = new Map<string, UnitView>();
  private background: Float32Array[] = [];
  private taughtInUnits = new Map<string, Set<string>>();
  /** How each class may be matched (classKinds.ts). */
  private kinds: ClassKinds = classKinds([]);
  /** Photo classes with an object found in their photos (matched by it, not by the photo as seen). */
  private objectLabels: ReadonlySet<string> = new Set();
  /** Where each photo threshold came from; a class missing here is at the floor. */
  private sources = new Map<string, ThresholdSource>();

  private mean: EmbeddingMean | null = null;

  constructor(
    private readonly opts: RecognizerOptions,
    private readonly scenes: SceneBook,
  ) {
    this.photos = new ImprintedClassifier({ threshold: opts.threshold, margin: opts.margin });
    this.objects = new ImprintedClassifier({ threshold: opts.threshold, margin: opts.margin });
  }

  /** The model's shipped means (null: no centring). Set once the model is known, before load(). */
  setMean(mean: EmbeddingMean | null): void {
    this.mean = mean;
  }

  /** Rebuilds weights, thresholds and unit views from the store's data. */
  load(data: RecognizerData): void {
    this.background = data.classes.filter((c) => c.background).flatMap((c) => c.shots);
    this.kinds = classKinds(data.classes);
    this.loadPhotos(data);
    this.loadObjects(data);
    this.units = new Map();
    this.taughtInUnits = new Map();
    const keys = new Set([...data.zoneShots, ...data.negatives].map((u) => unitKey(u)));
    for (const key of keys) this.units.set(key, this.unitView(key, data));
  }

  /** Fine-tuned weights (centred space) replace the imprinted ones for the photo classifier. */
  setTuned(weights: ClassWeights[]): void {
    this.photos.setClasses(weights);
  }

  /** The centred shots of each class: what fine-tuning trains on. */
  centred(x: Float32Array): Float32Array {
    return centre(x, this.mean?.mean ?? null);
  }

  /** A photo: the imprinted classifier on the centred embedding. */
  classify(x: Float32Array): Classification {
    return { ...this.photos.classify(this.centred(x)), embedding: x };
  }

  /** A camera unit's frame, scene-aware; `allowed`: the zone's class list (empty: every class). */
  recognize(x: Float32Array, unit: UnitRef, allowed: readonly string[]): Classification {
    const key = unitKey(unit);
    const view = this.units.get(key);
    const scene = this.sceneOf(unit);
    const allowedSet = allowed.length > 0 ? new Set(allowed) : null;
    const d = decide(x, { classes: view?.classes ?? [], scene, allowed: allowedSet, negatives: view?.negatives ?? [], residualMean: this.mean?.residualMean ?? null }, this.opts.zone.decision);
    const base = { embedding: x, residual: d.vector };
    // A unit that has not learned its scene yet can still see the classes known from photos.
    const undecided = d.label === UNKNOWN || d.reason === 'no_scene';
    if (!undecided) return { ...base, label: d.label, score: d.score, scores: d.scores, reason: d.reason };
    // Something is there that no class taught here matches: try the classes known only from
    // photos. Not those cut out of camera frames: their look is an object on grey, which a
    // plain grey view (water, a wall) scores as well as the object; regions match them, cut out.
    const taught = this.taughtInUnits.get(key) ?? new Set<string>();
    const byLook = (l: string): boolean => !taught.has(l) && this.wholeByLook(l) && (!allowedSet || allowedSet.has(l));
    const photoAllowed = new Set(this.photos.labels().filter((l) => this.kinds.background.has(l) || byLook(l)));
    // A camera frame of a photo scores a little lower than the photo (codec, scaling, aspect): room for it.
    const photo = photoAllowed.size > 0 ? this.photos.classify(this.centred(x), photoAllowed, DEFAULT_CAMERA_ALLOWANCE) : null;
    const scores = { ...photo?.scores, ...d.scores };
    const score = Math.max(d.score, photo?.score ?? 0);
    if (photo && photo.label !== UNKNOWN) {
      // A class by its look, or a background class's look: the empty scene (`none`).
      return { ...base, label: photo.label, score: photo.score, scores, reason: photo.label === NONE ? 'background' : 'photo_match' };
    }
    // Before a unit knows its scene, a frame no class matches is `unknown`: it may well be empty.
    return { ...base, label: UNKNOWN, score, scores, reason: d.reason };
  }

  /** The classes a unit may match in regions of its frames (photo and box classes it allows). */
  cropClasses(allowed: readonly string[]): string[] {
    return [...this.kinds.crop].filter((l) => allowed.length === 0 || allowed.includes(l));
  }

  /** Whether a unit's whole frame may match the class by its look where it was not taught (not a class cut out of camera frames). */
  wholeByLook(label: string): boolean {
    return this.kinds.look.has(label);
  }

  /** Whether a crop class was taught from photos only (it is matched with regions as the camera saw them, and by its photos' objects). */
  isPhotoCrop(label: string): boolean {
    return this.kinds.photo.has(label);
  }

  /**
   * A unit's result, refined by regions of its frame: the photo and box classes are matched
   * against each region, with the camera's allowance and at least DEFAULT_CROP_FLOOR where
   * both sides are cut out: classes cut out of camera frames against the region's cut-out;
   * photo classes against the region as the camera saw it, and those with an object found in
   * their photos also against the cut-out by those objects (a photo keeps its place, which a
   * small walking object's region hardly shows; a wrong object found adds no miss). When the unit
   * decided no class, the best region that matches one names the class and its box; when it
   * decided a class, a region matching that same class only places it (its box).
   */
  recognizeRegions(unitResult: Classification, regions: readonly RegionEmbedding[], allowed: readonly string[]): Classification {
    const decided = unitResult.label !== UNKNOWN && unitResult.label !== NONE;
    const labels = new Set(this.cropClasses(allowed));
    if (labels.size === 0 || regions.length === 0) return unitResult;
    let best: { label: string; score: number; box: Box } | null = null;
    const scores = { ...unitResult.scores };
    const among = (keep: (l: string) => boolean): Set<string> => new Set([...labels].filter(keep));
    const cutLabels = among((l) => this.kinds.cut.has(l));
    const objectLabels = among((l) => this.objectLabels.has(l));
    const photoLabels = among((l) => this.kinds.photo.has(l));
    for (const region of regions) {
      const views = [
        { x: region.embedding, among: cutLabels, floor: DEFAULT_CROP_FLOOR, by: this.photos },
        { x: region.embedding, among: objectLabels, floor: DEFAULT_CROP_FLOOR, by: this.objects },
        { x: region.plain ?? region.embedding, among: photoLabels, floor: -Infinity, by: this.photos },
      ];
      for (const { x, among, floor, by } of views) {
        if (among.size === 0) continue;
        const c = by.classify(this.centred(x), among, DEFAULT_CAMERA_ALLOWANCE);
        for (const [label, v] of Object.entries(c.scores)) if (among.has(label)) scores[label] = Math.max(v, scores[label] ?? -Infinity);
        if (among.has(c.label) && c.score >= floor && (!best || c.score > best.score)) best = { label: c.label, score: c.score, box: region.box };
      }
    }
    if (decided) return best?.label === unitResult.label ? { ...unitResult, box: best.box } : unitResult;
    if (!best) {
      const near = nearestCrop(scores, labels);
      return { ...unitResult, scores, ...(near ? { near } : {}) };
    }
    return { ...unitResult, label: best.label, score: best.score, scores, box: best.box, reason: 'crop_match' };
  }

  /** A frame enrolled from a unit, as that unit sees it (null before the unit knows its scene). */
  residualFor(unit: UnitRef, x: Float32Array): Float32Array | null {
    return residualShot(x, this.sceneOf(unit), this.mean?.residualMean ?? null);
  }

  /** Every look of a unit's empty scene: its learned prototypes, the background classes' shots, its scene examples. */
  private sceneOf(unit: UnitRef): Float32Array[] {
    return [...this.scenes.prototypes(unit), ...this.background, ...(this.units.get(unitKey(unit))?.sceneExamples ?? [])];
  }

  /** |x - s| to the unit's nearest scene look: below the decision's minResidual a frame is the scene (null: no scene yet). */
  sceneDistance(unit: UnitRef, x: Float32Array): { distance: number; within: boolean; min: number } | null {
    const s = nearestScene(x, this.sceneOf(unit));
    if (!s) return null;
    const distance = residual(x, s.vector, null).norm;
    const min = this.opts.zone.decision.minResidual;
    return { distance, within: distance < min, min };
  }

  /** Whether `label` was taught in this unit (decided there by residual), not just known by its look. */
  taughtIn(unit: UnitRef, label: string): boolean {
    return this.taughtInUnits.get(unitKey(unit))?.has(label) ?? false;
  }

  isBackground(label: string): boolean {
    return this.kinds.background.has(label);
  }

  /** `x`'s residual against one given look of the scene (an augmented shot against the augmented scene). */
  residualAgainst(x: Float32Array, scene: Float32Array): Float32Array {
    return residual(x, scene, this.mean?.residualMean ?? null).vector;
  }

  /** The threshold in effect for photos and photo-taught classes. */
  threshold(label: string): number {
    return this.photos.threshold(label);
  }

  /** Where threshold(label) comes from: the class's data, the user's override (class/set), or the floor. */
  thresholdSource(label: string): ThresholdSource {
    return this.sources.get(label) ?? 'floor';
  }

  /** Per unit, the thresholds of the classes taught there ("door/bin" → {bin_out: 0.52}). */
  unitThresholds(): Record<string, Record<string, number>> {
    return Object.fromEntries([...this.units].map(([key, view]) => [key, Object.fromEntries(view.thresholds)]));
  }

  labels(): string[] {
    return this.photos.labels();
  }

  kernel(): 'wasm-simd' | 'js' {
    return this.photos.kernel();
  }

  /** Photo classes with objects found in their photos: one prototype per class from those alone. */
  private loadObjects(data: RecognizerData): void {
    const withObjects = data.classes.filter((c) => this.kinds.photo.has(c.label) && (c.objects ?? []).length > 0);
    const centred = withObjects.map((c) => ({ label: c.label, shots: (c.objects ?? []).map((o) => this.centred(o)) }));
    const dim = centred[0]?.shots[0]?.length ?? 0;
    this.objects.setClasses(centred.map((c) => ({ label: c.label, background: false, sum: meanDirection(c.shots, dim), count: c.shots.length })));
    this.objectLabels = new Set(centred.map((c) => c.label));
  }

  private loadPhotos(data: RecognizerData): void {
    const centredShots = data.classes.map((c) => ({ ...c, shots: c.shots.map((s) => this.centred(s)) }));
    const dim = centredShots.find((c) => c.shots.length > 0)?.shots[0]?.length ?? 0;
    this.photos.setClasses(centredShots.map((c) => ({ label: c.label, background: c.background, sum: meanDirection(c.shots, dim), count: c.shots.length })));
    const negatives = [...data.negatives, ...(data.classNegatives ?? [])].flatMap((n) => (n.label === null ? [] : [{ label: n.label, residual: this.centred(n.embedding) }]));
    const rules = { ...this.opts.classThresholds, floor: this.opts.threshold };
    const foreground = centredShots.filter((c) => !c.background && c.shots.length > 0);
    const thresholds = classThresholds(foreground.map((c) => ({ label: c.label, shots: c.shots, ...(c.override === null ? {} : { override: c.override }) })), negatives, rules);
    this.photos.setThresholds(new Map(thresholds.map((t) => [t.label, t.threshold])));
    this.sources = new Map(thresholds.map((t) => [t.label, SOURCE_NAMES[t.source]]));
  }

  private unitView(key: string, data: RecognizerData): UnitView {
    const shots = data.zoneShots.filter((s) => unitKey(s) === key);
    const overrides = new Map(data.classes.map((c) => [c.label, c.override]));
    const byLabel = new Map<string, Float32Array[]>();
    for (const s of shots) if (!this.kinds.background.has(s.label)) byLabel.set(s.label, [...(byLabel.get(s.label) ?? []), s.residual]);
    this.taughtInUnits.set(key, new Set(byLabel.keys()));
    const unitNegatives = data.negatives.filter((n) => unitKey(n) === key);
    const negatives = unitNegatives.flatMap((n) => (n.label !== null && n.residual ? [{ label: n.label, residual: n.residual }] : []));
    const thresholdClasses = [...byLabel].map(([label, residuals]) => {
      const override = overrides.get(label);
      return { label, shots: residuals, ...(override === null || override === undefined ? {} : { override }) };
    });
    const built = decisionClasses(thresholdClasses, negatives, { ...this.opts.zone.thresholds, perClass: true });
    return {
      classes: built.classes,
      thresholds: new Map(built.thresholds.map((t) => [t.label, t.threshold])),
      negatives,
      sceneExamples: unitNegatives.filter((n) => n.label === null).map((n) => n.embedding),
    };
  }
}

/**
 * The crop class the regions scored highest, when at `level` or more (Classification.near);
 * bench/voteReplay.ts asks it too, over logged scores.
 */
export function nearestCrop(scores: Readonly<Record<string, number>>, labels: Iterable<string>, level = NEAR_LEVEL): { label: string; score: number } | undefined {
  let top: { label: string; score: number } | undefined;
  for (const label of labels) {
    const score = scores[label] ?? -Infinity;
    if (!top || score > top.score) top = { label, score };
  }
  return top && top.score >= level ? top : undefined;
}
