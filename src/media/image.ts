import sharp, { type Metadata } from 'sharp';
import type { LimitsConfig } from '../config/types.js';
import { fieldError } from '../errors.js';

/** Width and height of the model's input: every image and frame is resized to exactly this. */
export interface InputSize {
  width: number;
  height: number;
}

export interface ImageLimits {
  maxBytes: number;
  maxMegapixels: number;
}

/** The configured limits an image is held to. */
export function imageLimitsOf(limits: Pick<LimitsConfig, 'max_payload_bytes' | 'max_megapixels'>): ImageLimits {
  return { maxBytes: limits.max_payload_bytes, maxMegapixels: limits.max_megapixels };
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

const THUMBNAIL_QUALITY = 95;
const ACCEPTED = 'expected a JPEG, PNG or WebP image';

/** Recognises JPEG, PNG and WebP by their first bytes. */
export function imageKind(bytes: Uint8Array): 'jpeg' | 'png' | 'webp' | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return null;
}

/** Size and kind, before any decoding: every image (MQTT, CLI, dashboard) is checked here once. */
function checkImageBytes(image: Uint8Array, field: string, limits: ImageLimits): void {
  if (image.length === 0) throw fieldError('bad_image', field, 'empty');
  if (image.length > limits.maxBytes) {
    throw fieldError('too_large', field, `${image.length} bytes, over the limit of ${limits.maxBytes} (limits.max_payload_bytes)`);
  }
  if (!imageKind(image)) throw fieldError('bad_image', field, `not an image (${ACCEPTED})`);
}

/** The header (no pixels decoded yet): a size within the megapixel limit. */
async function readMetadata(image: Buffer, field: string, limits: ImageLimits): Promise<Metadata> {
  checkImageBytes(image, field, limits);
  let meta: Metadata;
  try {
    // Only the header is read here, so no pixel limit yet: the check below gives the clearer error.
    meta = await sharp(image, { limitInputPixels: false }).metadata();
  } catch {
    throw fieldError('bad_image', field, `cannot be read as an image (${ACCEPTED})`);
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels === 0) throw fieldError('bad_image', field, 'image has no pixels');
  if (pixels > limits.maxMegapixels * 1e6) {
    const mp = (pixels / 1e6).toFixed(1);
    throw fieldError('too_large', field, `${meta.width}x${meta.height} is ${mp} megapixels, over the limit of ${limits.maxMegapixels} (limits.max_megapixels)`);
  }
  return meta;
}

/** The model input of a checked image, with the image's own size. */
export interface ImageInput {
  rgb: Buffer;
  width: number;
  height: number;
}

/**
 * Decodes a JPEG/PNG/WebP (EXIF orientation applied), checks it against the limits
 * before decoding pixels, and returns the model input. Classifying needs no more.
 */
export async function imageToInput(image: Buffer, size: InputSize, limits: ImageLimits, field = 'image'): Promise<ImageInput> {
  const meta = await readMetadata(image, field, limits);
  try {
    // One pipeline straight to the input size: JPEG shrink-on-load decodes at 1/2, 1/4 or 1/8
    // scale, so a big photo is never decoded whole. Enrolled shots take this same path.
    // failOn 'error' rejects truncated files instead of padding them with grey.
    const rgb = await sharp(image, { failOn: 'error', limitInputPixels: limits.maxMegapixels * 1e6 })
      .rotate()
      .resize(size.width, size.height, { fit: 'fill' })
      .flatten({ background: '#808080' })
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    return { rgb, width: meta.width ?? 0, height: meta.height ?? 0 };
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw fieldError('bad_image', field, `could not be decoded (truncated or corrupt): ${reason}`);
  }
}

/** imageToInput plus the thumbnail an enrolled shot keeps. */
export async function prepareImage(image: Buffer, size: InputSize, limits: ImageLimits, field = 'image'): Promise<PreparedImage> {
  const input = await imageToInput(image, size, limits, field);
  return { ...input, thumbnail: await inputThumbnail(input.rgb, size) };
}

/** JPEG of model-sized RGB bytes (the stored thumbnail of a shot). */
export function inputThumbnail(rgb: Uint8Array, size: InputSize): Promise<Buffer> {
  return sharp(rgb, { raw: { width: size.width, height: size.height, channels: 3 } })
    .jpeg({ quality: THUMBNAIL_QUALITY })
    .toBuffer();
}

/**
 * Model input from an image another party made (a peer's gallery thumbnail): the image
 * checks and the pixel limit first, as for a request, since the broker lets anyone publish.
 */
export async function untrustedToInput(image: Buffer, size: InputSize, limits: ImageLimits, field = 'thumbnail'): Promise<Buffer> {
  return (await imageToInput(image, size, limits, field)).rgb;
}

/** Model input from a thumbnail or snapshot JPEG already validated (re-embedding). */
export async function jpegToInput(jpeg: Buffer, size: InputSize): Promise<Buffer> {
  return sharp(jpeg).resize(size.width, size.height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
}
