/** Cutting a region out of a scene JPEG into the model's input, as ffmpeg does for zones. */
import sharp from 'sharp';
import type { Roi } from '../config/types.js';
import type { InputSize } from './image.js';
import { fieldError } from '../errors.js';
import { toPixels } from './snapshots.js';
import { objectView, type Raster } from '../recognition/foreground.js';
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
  return squareCropsOf(await decodeRaster(jpeg), boxes, size);
}

/** A JPEG (or any image sharp reads) as RGB pixels, resized to `size` when given (decoded shrinking, never whole first). */
export async function decodeRaster(image: Buffer, size?: { width: number; height: number }): Promise<Raster> {
  const img = size ? sharp(image).resize(size.width, size.height, { fit: 'fill' }) : sharp(image);
  const { data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/**
 * A photo as RGB pixels no larger than `maxSide` (EXIF orientation applied, as the whole
 * photo's shot has it), with its alpha channel when it has one (a cut-out: see photoObject.ts).
 */
export async function decodePhoto(image: Buffer, maxSide: number): Promise<{ raster: Raster; alpha: Uint8Array | null }> {
  const img = sharp(image).rotate().resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true });
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  const n = info.width * info.height;
  if (info.channels === 3) return { raster: { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height }, alpha: null };
  const rgb = new Uint8Array(n * 3);
  const alpha = new Uint8Array(n);
  const ch = info.channels;
  for (let i = 0; i < n; i++) {
    rgb[i * 3] = data[i * ch]!;
    // Grey and grey-with-alpha images have one colour channel.
    rgb[i * 3 + 1] = data[i * ch + (ch >= 3 ? 1 : 0)]!;
    rgb[i * 3 + 2] = data[i * ch + (ch >= 3 ? 2 : 0)]!;
    alpha[i] = ch === 4 || ch === 2 ? data[i * ch + ch - 1]! : 255;
  }
  return { raster: { data: rgb, width: info.width, height: info.height }, alpha: ch === 4 || ch === 2 ? alpha : null };
}

/** An image's size from its header alone (nothing decoded), or null when it is no image sharp reads. */
export async function imageSize(image: Buffer): Promise<{ width: number; height: number } | null> {
  const meta = await sharp(image).metadata().catch(() => null);
  return meta?.width && meta.height ? { width: meta.width, height: meta.height } : null;
}

/** Model-input pixels as a PNG (a shot cut from a frame, enrolled like a photo). */
export function inputToPng(rgb: Uint8Array, size: InputSize): Promise<Buffer> {
  return sharp(rgb, { raw: { width: size.width, height: size.height, channels: 3 } }).png().toBuffer();
}

/** A raster resized to the model's input. */
export async function rasterToInput(r: Raster, size: InputSize): Promise<Uint8Array> {
  const rgb = await sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } }).resize(size.width, size.height, { fit: 'fill' }).raw().toBuffer();
  return new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength);
}

/**
 * The objects in `boxes` (fractions) of `frame`, cut out against the camera's `empty` view
 * (recognition/foreground.ts) at the model's input, each with the object's own box and its
 * square as the camera saw it (`plain`: photo classes are matched with that). A box in
 * which nothing differs at full resolution was noise of the coarse proposal and is left out.
 * Without a usable empty view (none, or another size) the boxes are cut as plain squares.
 */
export async function objectCrops(frame: Raster, empty: Raster | null, boxes: readonly Box[], size: InputSize): Promise<Array<{ box: Box; rgb: Uint8Array; plain?: Uint8Array }>> {
  if (!empty || empty.width !== frame.width || empty.height !== frame.height) return squareCropsOf(frame, boxes, size);
  const views = boxes.flatMap((b) => {
    const v = objectView(frame, empty, b);
    return v ? [v] : [];
  });
  return Promise.all(views.map(async (v) => ({ box: v.box, rgb: await rasterToInput(v.square, size), plain: await rasterToInput(v.plain, size) })));
}

async function squareCropsOf(frame: Raster, boxes: readonly Box[], size: InputSize): Promise<Array<{ box: Box; rgb: Uint8Array }>> {
  const raw = { raw: { width: frame.width, height: frame.height, channels: 3 as const } };
  return Promise.all(boxes.map(async (b) => {
    const sq = squareBox(b, frame.width / frame.height);
    const left = Math.min(frame.width - 2, Math.max(0, Math.round(sq.x * frame.width)));
    const top = Math.min(frame.height - 2, Math.max(0, Math.round(sq.y * frame.height)));
    const width = Math.max(2, Math.min(frame.width - left, Math.round(sq.width * frame.width)));
    const height = Math.max(2, Math.min(frame.height - top, Math.round(sq.height * frame.height)));
    const rgb = await sharp(frame.data, raw).extract({ left, top, width, height }).resize(size.width, size.height, { fit: 'fill' }).raw().toBuffer();
    return { box: b, rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength) };
  }));
}
