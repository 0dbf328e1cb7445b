/** Shapes shared by the classifier, the store, the CLI and the MQTT API. */

export interface Classification {
  /** A class label, `unknown` (something, no class matches) or `none` (a background class won). */
  label: string;
  /** Cosine similarity of the winning class (or of the best class when `unknown`). */
  score: number;
  /** Cosine similarity per class, every class included. */
  scores: Record<string, number>;
  /** The frame's normalised embedding, when the caller may need it (events, the scene model). */
  embedding?: Float32Array;
  /** A camera unit's frame: its residual against the unit's scene (events keep it for corrections). */
  residual?: Float32Array | null;
  /** Why the decision came out this way (diagnostics), e.g. `below its threshold 0.62`. */
  reason?: string;
  /** A camera unit's frame: the region (fractions of the frame) the class was found in; absent when the whole unit decided. */
  box?: { x: number; y: number; width: number; height: number };
  /**
   * A camera unit's frame that named no class, but whose regions came near one (its score at
   * NEAR_LEVEL or more, the top class there): the vote counts it for that class once a frame
   * reaches it (pipeline/smoother.ts).
   */
  near?: { label: string; score: number };
}

/** A class as the `classes` topic, `class/list` and the CLI show it. */
export interface ClassInfo {
  label: string;
  shots: number;
  background: boolean;
  /** The threshold in effect: the user's override (class/set), else derived from the data. */
  threshold: number;
  /** Why `threshold` is what it is: derived from the shots, set by the user (class/set), or classifier.threshold. */
  threshold_source: ThresholdSource;
  /** The node that enrolled the class first ('' when unknown: enrolled before it was kept). */
  origin: string;
  created_at: string; // ISO 8601 UTC
  updated_at: string;
}

export type ThresholdSource = 'learned' | 'set' | 'floor';

/** A class as the store holds it: the user's threshold override, if any, not the effective one. */
export interface StoredClass extends Omit<ClassInfo, 'threshold' | 'threshold_source'> {
  threshold_override: number | null;
}

export interface EnrollResult {
  label: string;
  shots: number;
  added: number;
  /** Still enrolled, but worth a look (contract round 3); absent when there is nothing to say. */
  warning?: EnrollWarning[];
  /** Where the class can fire now, and how (contract round 3). */
  recognised_in?: RecognisedIn[];
}

export interface EnrollWarning {
  code: 'looks_like_scene' | 'duplicates_class' | 'raises_thresholds' | 'no_scene' | 'object_from_snapshot' | 'no_object_in_photo';
  message: string;
}

/**
 * A camera unit the class can fire in: `residual` against the unit's empty scene (it was
 * taught there), `whole` by its look on the unit's frame (photo-taught), `crop` in a region
 * found in the frame (photo and box classes: regions that differ from the unit's empty scene).
 */
export interface RecognisedIn extends UnitRef {
  how: 'crop' | 'residual' | 'whole';
}

/** One stored example: an L2-normalised embedding and where it came from. */
export interface Shot {
  id: number;
  label: string;
  embedding: Float32Array;
  model: string; // sha256 of the model file that produced the embedding
  thumbnail: Buffer; // small JPEG
  source: string; // e.g. "file:cat.jpg", "mqtt", "camera:door"
  created_at: string;
}

/** A shot as a gallery lists it. */
export type ShotInfo = Pick<Shot, 'id' | 'label' | 'source' | 'created_at'>;

export interface NewShot {
  embedding: Float32Array;
  /** A photo's object cut out of it (recognition/photoObject.ts), embedded by the same model: regions of camera frames are matched with it. */
  object?: Float32Array;
  thumbnail: Buffer;
  source: string;
}

/** Per class imprinting state: the float sum of normalised embeddings, and their count. */
export interface ClassWeights {
  label: string;
  background: boolean;
  sum: Float32Array;
  count: number;
  /** Optional extra prototypes (multi-proxy); when present, score = max over them. */
  proxies?: Float32Array[];
}

export const RESERVED_LABELS = ['unknown', 'none'] as const;
export const UNKNOWN = 'unknown';
export const NONE = 'none';

/** A camera and one of its zones (null: the camera's whole frame, for a camera without zones). */
export interface UnitRef {
  camera: string;
  zone: string | null;
}
