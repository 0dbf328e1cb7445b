import type { Classification, ClassInfo, EnrollResult, EnrollWarning, UnitRef } from '../recognition/types.js';
import type { RegionSource } from '../recognition/regions.js';

/** A frame already at the model's input size (the stored thumbnail is made from it). */
export interface PixelShot {
  rgb: Uint8Array;
  /**
   * A box of a unit's scene: the unit's own frame of the same moment. The unit learns the
   * class from it (its residual), the class's shot is the box.
   */
  unitRgb?: Uint8Array;
}

export interface EnrollOptions {
  background?: boolean;
  /** Where the shots came from, stored with them (`mqtt`, `cli:cat.jpg`, `camera:door`). */
  source: string;
  /** Aborted: nothing is stored (checked last, right before the one store transaction). */
  signal?: AbortSignal;
  /** What each image is called in errors (file paths for the CLI); default `images[i]` / `image`. */
  names?: string[];
  /** enrollPixels: the camera unit the frames come from (the unit learns the class against its scene). */
  unit?: UnitRef;
  /** enrollPixels with a unit: a recent frame of the unit while empty (augmented shots need it). */
  sceneRgb?: Uint8Array;
  /** Said in the answer's `warning` before what the enrollment finds (how the shots were made). */
  notes?: EnrollWarning[];
}

/**
 * What the CLI, the camera pipeline and the MQTT API use to learn and recognise classes.
 * Implemented by ImprintingService (src/imprinting/service.ts). Methods throw AppError.
 */
export interface Imprinter {
  enrollImages(label: string, images: Buffer[], opts: EnrollOptions): Promise<EnrollResult>;
  enrollPixels(label: string, shots: PixelShot[], opts: EnrollOptions): Promise<EnrollResult>;
  /** `field` names the image in errors (`image`, `payload`, a file name). */
  classifyImage(image: Buffer, field?: string): Promise<Classification>;
  /** `rgb` at the model's input size (camera frames); `unit`: the camera zone it comes from. */
  classifyPixels(rgb: Uint8Array, unit?: UnitRef, regions?: RegionSource): Promise<Classification>;
  /** A unit's fresh frame after smoothing, with the classes ON there: the unit's scene learns from it. */
  observe(unit: UnitRef, result: Classification, activeLabels: readonly string[]): void;
  list(): ClassInfo[];
  remove(label: string): { label: string };
  rename(label: string, to: string): { label: string; to: string };
  undo(label: string): { label: string; shots: number };
}
