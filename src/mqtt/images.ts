import sharp from 'sharp';
import { AppError } from '../errors.js';

/** Image checks done before any decoding work is queued. */

const DATA_URL = /^data:[^;,]*;base64,/;
const BASE64 = /^[A-Za-z0-9+/\-_]*={0,2}$/;

/** Recognises JPEG, PNG and WebP by their first bytes. */
export function imageKind(bytes: Buffer): 'jpeg' | 'png' | 'webp' | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a) {
    return 'png';
  }
  if (
    bytes.length >= 12 &&
    bytes.toString('latin1', 0, 4) === 'RIFF' &&
    bytes.toString('latin1', 8, 12) === 'WEBP'
  ) {
    return 'webp';
  }
  return null;
}

/** Decodes a base64 (optionally a data: URL) image string; throws naming the field. */
export function decodeBase64Image(value: string, field: string): Buffer {
  const body = value.replace(DATA_URL, '').replace(/\s+/g, '');
  if (!BASE64.test(body)) throw new AppError('bad_image', `${field}: not valid base64`);
  const bytes = Buffer.from(body, 'base64');
  requireImage(bytes, field);
  return bytes;
}

export function requireImage(bytes: Buffer, field: string): void {
  if (bytes.length === 0) throw new AppError('bad_image', `${field}: empty`);
  if (!imageKind(bytes)) throw new AppError('bad_image', `${field}: not a JPEG, PNG or WebP image`);
}

/** Reads only the header: rejects truncated garbage and images over the pixel budget. */
export async function checkImageSize(bytes: Buffer, field: string, maxMegapixels: number): Promise<void> {
  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await sharp(bytes, { limitInputPixels: false }).metadata());
  } catch {
    throw new AppError('bad_image', `${field}: cannot be read as an image`);
  }
  if (!width || !height) throw new AppError('bad_image', `${field}: image has no size`);
  const megapixels = (width * height) / 1e6;
  if (megapixels > maxMegapixels) {
    throw new AppError(
      'too_large',
      `${field}: ${width}x${height} is ${megapixels.toFixed(1)} megapixels, over the limit of ${maxMegapixels}`,
    );
  }
}
