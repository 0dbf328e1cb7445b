/** Snapshot JPEGs of detection events: the frame that turned a class ON, and where. */
import sharp from 'sharp';
import { isFractional } from '../config/formats.js';
import type { Roi } from '../config/types.js';
import type { InputSize } from './image.js';

/** A JPEG of model-sized RGB (the crop exactly as the model saw it). */
export function rgbToJpeg(rgb: Uint8Array, size: InputSize, quality: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width: size.width, height: size.height, channels: 3 } })
    .jpeg({ quality: Math.min(100, Math.max(1, Math.round(quality))) })
    .toBuffer();
}

/**
 * The scene snapshot with the zone's rectangle drawn on it, so a notification shows where
 * the class was seen. `source` is the stream's size, for zones given in pixels.
 */
export async function outlineZone(jpeg: Buffer, roi: Roi, source: { width: number; height: number } | null, quality: number): Promise<Buffer> {
  const meta = await sharp(jpeg).metadata();
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const box = toPixels(roi, { width, height }, source);
  if (!box || width === 0 || height === 0) return jpeg;
  const stroke = Math.max(2, Math.round(width / 320));
  const svg =
    `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">` +
    `<rect x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}" fill="none" stroke="#ffcc00" stroke-width="${stroke}"/></svg>`;
  return sharp(jpeg).composite([{ input: Buffer.from(svg) }]).jpeg({ quality }).toBuffer();
}

/** A region in the snapshot's pixels; pixel regions need the stream's size to scale. */
export function toPixels(roi: Roi, image: { width: number; height: number }, source: { width: number; height: number } | null): Roi | null {
  if (isFractional(roi)) {
    return { x: roi.x * image.width, y: roi.y * image.height, width: roi.width * image.width, height: roi.height * image.height };
  }
  if (!source) return null;
  const sx = image.width / source.width;
  const sy = image.height / source.height;
  return { x: roi.x * sx, y: roi.y * sy, width: roi.width * sx, height: roi.height * sy };
}
