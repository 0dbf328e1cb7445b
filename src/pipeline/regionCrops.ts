/** The regions of a camera unit's frame, cut from the frame's snapshot (more pixels than the unit's 224 × 224 crop). */
import { isFractional } from '../config/formats.js';
import type { Roi } from '../config/types.js';
import type { RawFrame } from '../camera/cameraSource.js';
import { squareCrops } from '../media/crops.js';
import type { InputSize } from '../media/image.js';
import { toPixels } from '../media/snapshots.js';
import { boxInFrame, type Box, type PixelRegion } from '../recognition/regions.js';

/**
 * `boxes` (fractions of the unit's crop) as squares of the frame's snapshot at the model's
 * input size, each with its box in fractions of the whole frame; none without a snapshot,
 * or for a pixel zone before the stream's size is known.
 */
export async function cutRegions(frame: RawFrame, boxes: readonly Box[], roi: Roi | null, source: { width: number; height: number } | null, size: InputSize): Promise<PixelRegion[]> {
  const place = unitPlace(roi, source);
  if (!place || boxes.length === 0) return [];
  const jpeg = await frame.snapshot();
  if (!jpeg) return [];
  return squareCrops(jpeg, boxes.map((b) => boxInFrame(b, place)), size);
}

/** Where a unit (its roi: pixels or fractions; null the whole frame) lies, as fractions of the frame. */
function unitPlace(roi: Roi | null, source: { width: number; height: number } | null): Box | null {
  if (!roi) return { x: 0, y: 0, width: 1, height: 1 };
  if (isFractional(roi)) return roi;
  return source ? toPixels(roi, { width: 1, height: 1 }, source) : null;
}
