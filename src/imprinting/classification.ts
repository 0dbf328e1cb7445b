import type { LimitsConfig } from '../config/types.js';
import { imageLimitsOf, imageToInput } from '../media/image.js';
import type { Detector } from '../detector/types.js';
import type { Recognizer } from './recognizer.js';
import type { SceneBook } from './sceneBook.js';
import { NONE, UNKNOWN, type Classification, type UnitRef } from '../recognition/types.js';

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
  async classifyPixels(rgb: Uint8Array, unit?: UnitRef): Promise<Classification> {
    return this.classifyEmbedding(await this.deps.detector.embed(rgb), unit);
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
