/** Cutting a region out of a scene JPEG into the model's input, as ffmpeg does for zones. */
import sharp from 'sharp';
import type { Roi } from '../config/types.js';
import type { InputSize } from './image.js';
import { fieldError } from '../errors.js';
import { toPixels } from './snapshots.js';
import { squareBox, type Box } from '../recognition/regions.js';

/**
 * `box` (pixels of the stream, or fractions of the frame) of `jpeg` (the scaled snapshot),
 * resized to the model's input. Pixel boxes are scaled from the stream's size, so they need it.
 */
export async function cropToInput(jpeg: Buffer, box: Roi, source: { width: number; height: number } | null, size: InputSize): Promise<Uint8Array> {
  const meta = await sharp(jpeg).metadata();
  const image = { width: meta.width ?? 0, height: meta.height ?? 0 };
  const px = toPixels(box, image, source);
  if (!px) throw fieldError('not_found', 'box', "is in pixels of the camera's stream, whose size is not known yet; retry in a moment, or give the box as fractions of the frame");
  const left = Math.max(0, Math.floor(px.x));
  const top = Math.max(0, Math.floor(px.y));
  const width = Math.min(image.width - left, Math.round(px.width));
  const height = Math.min(image.height - top, Math.round(px.height));
  if (width < 2 || height < 2) throw fieldError('bad_request', 'box', `lies outside the ${source ? `${source.width}x${source.height} ` : ''}frame or is too small`);
  const rgb = await sharp(jpeg).extract({ left, top, width, height }).resize(size.width, size.height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
  return new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength);
}

/**
 * Index of the first region whose area holds the centre of `box` in `jpeg`'s scene (null: the
 * whole frame), or -1. Boxes and regions are read as cropToInput reads them; a region in
 * pixels without the stream's size cannot be placed and holds nothing.
 */
export async function regionAt(jpeg: Buffer, box: Roi, regions: ReadonlyArray<Roi | null>, source: { width: number; height: number } | null): Promise<number> {
  const meta = await sharp(jpeg).metadata();
  const image = { width: meta.width ?? 0, height: meta.height ?? 0 };
  const b = toPixels(box, image, source) ?? box;
  const cx = b.x + b.width / 2;
  const cy = b.y + b.height / 2;
  return regions.findIndex((roi) => {
    if (roi === null) return true;
    const r = toPixels(roi, image, source);
    return r !== null && cx >= r.x && cx <= r.x + r.width && cy >= r.y && cy <= r.y + r.height;
  });
}

/**
 * Each box (fractions of the frame) of `jpeg` grown to a square in pixels (squareBox) and
 * resized to the model's input; the JPEG is decoded once. Each comes back with its box as given.
 */
export async function squareCrops(jpeg: Buffer, boxes: readonly Box[], size: InputSize): Promise<Array<{ box: Box; rgb: Uint8Array }>> {
  if (boxes.length === 0) return [];
  const { data, info } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  return Promise.all(boxes.map(async (b) => {
    const sq = squareBox(b, info.width / info.height);
    const left = Math.min(info.width - 2, Math.max(0, Math.round(sq.x * info.width)));
    const top = Math.min(info.height - 2, Math.max(0, Math.round(sq.y * info.height)));
    const width = Math.max(2, Math.min(info.width - left, Math.round(sq.width * info.width)));
    const height = Math.max(2, Math.min(info.height - top, Math.round(sq.height * info.height)));
    const rgb = await sharp(data, raw).extract({ left, top, width, height }).resize(size.width, size.height, { fit: 'fill' }).raw().toBuffer();
    return { box: b, rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength) };
  }));
}
