import sharp, { type Metadata } from 'sharp';
import { AppError } from '../errors.js';
import type { InputSize } from './types.js';

export interface ImageLimits {
  maxBytes: number;
  maxMegapixels: number;
}

export interface PreparedImage {
  /** RGB bytes at the model's input size (stretched, as camera frames are). */
  rgb: Buffer;
  /**
   * The model input as a small JPEG, kept with the shot: exactly what the model saw, so
   * re-embedding it with another model (after an upgrade) reproduces the shot faithfully.
   */
  thumbnail: Buffer;
  width: number;
  height: number;
}

const ACCEPTED = new Set(['jpeg', 'png', 'webp']);
const WORKING_SIZE = 512;
const THUMBNAIL_QUALITY = 95;

async function readMetadata(image: Buffer, limits: ImageLimits): Promise<Metadata> {
  if (image.length === 0) throw new AppError('bad_image', 'image is empty');
  if (image.length > limits.maxBytes) {
    throw new AppError('too_large', `image is ${image.length} bytes, over the limit of ${limits.maxBytes}`);
  }
  let meta: Metadata;
  try {
    // Only the header is read here, so no pixel limit yet: the check below gives the clearer error.
    meta = await sharp(image, { limitInputPixels: false }).metadata();
  } catch {
    throw new AppError('bad_image', 'not an image (expected JPEG, PNG or WebP)');
  }
  if (!meta.format || !ACCEPTED.has(meta.format)) {
    throw new AppError('bad_image', `unsupported image format ${meta.format ?? 'unknown'} (expected JPEG, PNG or WebP)`);
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels === 0) throw new AppError('bad_image', 'image has no pixels');
  if (pixels > limits.maxMegapixels * 1e6) {
    throw new AppError(
      'too_large',
      `image is ${meta.width}x${meta.height} (${(pixels / 1e6).toFixed(1)} MP), over the limit of ${limits.maxMegapixels} MP`,
    );
  }
  return meta;
}

/**
 * Decodes a JPEG/PNG/WebP (EXIF orientation applied), checks it against the limits
 * before decoding pixels, and returns the model input and a thumbnail.
 */
export async function prepareImage(image: Buffer, size: InputSize, limits: ImageLimits): Promise<PreparedImage> {
  const meta = await readMetadata(image, limits);
  try {
    // Decode once, shrunk on load to a working size, then derive both outputs from it:
    // decoding a 1080p JPEG twice would cost more than the two small resizes.
    // failOn 'error' rejects truncated files instead of padding them with grey.
    const { data, info } = await sharp(image, { failOn: 'error', limitInputPixels: limits.maxMegapixels * 1e6 })
      .rotate()
      .resize(WORKING_SIZE, WORKING_SIZE, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#808080' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { raw: { width: info.width, height: info.height, channels: info.channels } } as const;
    const rgb = await sharp(data, raw).resize(size.width, size.height, { fit: 'fill' }).raw().toBuffer();
    return { rgb, thumbnail: await inputThumbnail(rgb, size), width: meta.width ?? 0, height: meta.height ?? 0 };
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new AppError('bad_image', `image could not be decoded (truncated or corrupt): ${reason}`);
  }
}

/** JPEG of model-sized RGB bytes (the stored thumbnail of a shot). */
export function inputThumbnail(rgb: Uint8Array, size: InputSize): Promise<Buffer> {
  return sharp(rgb, { raw: { width: size.width, height: size.height, channels: 3 } })
    .jpeg({ quality: THUMBNAIL_QUALITY })
    .toBuffer();
}

/** Model input from a thumbnail or snapshot JPEG already validated (re-embedding). */
export async function jpegToInput(jpeg: Buffer, size: InputSize): Promise<Buffer> {
  return sharp(jpeg).resize(size.width, size.height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
}
