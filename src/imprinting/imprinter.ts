import type { Classification, ClassInfo, EnrollResult } from './types.js';

/**
 * A frame already at the model's input size, and the camera's snapshot JPEG of it (for
 * callers that show it; the stored thumbnail is made from `rgb`, what the model saw).
 */
export interface PixelShot {
  rgb: Uint8Array;
  jpeg: Buffer;
}

/**
 * What the CLI, the camera pipeline and the MQTT API use to learn and recognise classes.
 * Implemented by ImprintingService (src/imprinting/service.ts). Methods throw AppError.
 */
export interface Imprinter {
  enrollImages(
    label: string,
    images: Buffer[],
    opts: { background?: boolean; source: string },
  ): Promise<EnrollResult>;
  enrollPixels(
    label: string,
    shots: PixelShot[],
    opts: { background?: boolean; source: string },
  ): Promise<EnrollResult>;
  classifyImage(image: Buffer): Promise<Classification>;
  /** `rgb` at the model's input size (camera frames). */
  classifyPixels(rgb: Uint8Array): Promise<Classification>;
  list(): ClassInfo[];
  remove(label: string): { label: string };
  rename(label: string, to: string): { label: string; to: string };
  undo(label: string): { label: string; shots: number };
}
