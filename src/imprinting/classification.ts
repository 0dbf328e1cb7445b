import type { LimitsConfig } from '../config/types.js';
import { imageLimitsOf, imageToInput } from '../media/image.js';
import type { Detector } from '../detector/types.js';
import type { Recognizer } from './recognizer.js';
import type { SceneBook } from './sceneBook.js';
import { NONE, UNKNOWN, type Classification, type UnitRef } from '../recognition/types.js';
import type { RegionSource } from '../recognition/regions.js';

export interface ClassificationDeps {
  detector: Detector;
  recognizer: Recognizer;
  scenes: SceneBook;
  limits: LimitsConfig;
  /** The classes a camera zone may report (empty or absent: every class). */
  unitClasses?: (unit: UnitRef) => string[];
}

/** Recognises photos and camera frames with the classes loaded in the recognizer. */
export class ClassificationService {
  constructor(private readonly deps: ClassificationDeps) {}

  async classifyImage(image: Buffer, field = 'image'): Promise<Classification> {
    // No thumbnail: nothing is stored.
    const input = await imageToInput(image, this.deps.detector.inputSize, imageLimitsOf(this.deps.limits), field);
    return this.classifyPixels(input.rgb);
  }

  /**
   * A photo (no `unit`), or a camera unit's frame decided against that unit's learned scene,
   * with only the zone's classes. The embedding (and residual) come back: events keep them.
   */
  async classifyPixels(rgb: Uint8Array, unit?: UnitRef, regions?: RegionSource): Promise<Classification> {
    const result = this.classifyEmbedding(await this.deps.detector.embed(rgb), unit);
    if (!unit || !regions) return result;
    return this.refineByRegions(result, unit, regions);
  }

  /**
   * A unit that decided no class, or a class that also has photo or box shots (to place it):
   * its regions that differ from its empty scene, embedded (queued together on the detector),
   * matched with the photo and box classes. Cut only when such a class may answer; a region that cannot be cut
   * (snapshot gone) leaves the unit's result as it was.
   */
  private async refineByRegions(result: Classification, unit: UnitRef, regions: RegionSource): Promise<Classification> {
    const allowed = this.deps.unitClasses?.(unit) ?? [];
    const crop = this.deps.recognizer.cropClasses(allowed);
    const undecided = result.label === UNKNOWN || result.label === NONE;
    if (crop.length === 0 || (!undecided && !crop.includes(result.label))) return result;
    const found = await regions().catch(() => []);
    if (found.length === 0) return result;
    // Photo classes match the region as the camera saw it; only embed that view when one may answer.
    const plainToo = crop.some((l) => this.deps.recognizer.isPhotoCrop(l));
    const embed = (rgb: Uint8Array): Promise<Float32Array> => this.deps.detector.embed(rgb);
    const embedded = await Promise.all(found.map(async (r) => ({ box: r.box, embedding: await embed(r.rgb), ...(plainToo && r.plain ? { plain: await embed(r.plain) } : {}) })));
    return this.deps.recognizer.recognizeRegions(result, embedded, allowed);
  }

  /** classifyPixels' second half, for benchmarks that embed once and decide many times. */
  classifyEmbedding(embedding: Float32Array, unit?: UnitRef): Classification {
    if (!unit) return this.deps.recognizer.classify(embedding);
    return this.deps.recognizer.recognize(embedding, unit, this.deps.unitClasses?.(unit) ?? []);
  }

  /**
   * A unit's scene learns only while no class is ON there and never from a matched frame:
   * an object at the door when the agent starts must not become the door's empty scene.
   */
  observe(unit: UnitRef, result: Classification, activeLabels: readonly string[]): void {
    const matched = result.label !== NONE && result.label !== UNKNOWN;
    if (result.embedding) this.deps.scenes.observe(unit, result.embedding, activeLabels.length > 0 || matched);
  }
}
