/**
 * Pure helpers the class store uses to turn values into column values and back.
 * Kept apart from the store so they can be tested without a database.
 */
import { endianness } from 'node:os';

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** Float32Array -> little-endian bytes, independent of the host's byte order. */
export function encodeFloat32(v: Float32Array): Buffer {
  if (LITTLE_ENDIAN_HOST) {
    // Copy, so the blob never aliases memory the caller may still change.
    return Buffer.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  const out = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) out.writeFloatLE(v[i]!, i * 4);
  return out;
}

/**
 * Little-endian bytes -> a fresh Float32Array that owns its memory. A Buffer from SQLite
 * may sit at any offset of a shared pool, so viewing it in place could be misaligned.
 * Returns undefined when the length is not a whole number of floats (a corrupt blob).
 */
export function decodeFloat32(bytes: Uint8Array): Float32Array | undefined {
  if (bytes.byteLength % 4 !== 0) return undefined;
  const out = new Float32Array(bytes.byteLength / 4);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** True when every element is a finite number (NaN or Infinity would poison a class sum). */
export function allFinite(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}

/**
 * Sums vectors in float64 and rounds once to float32, so a sum recomputed from many shots
 * does not pick up the rounding error of adding float32 values one at a time.
 */
export function sumFloat32(vectors: readonly Float32Array[], dim: number, start?: Float32Array): Float32Array {
  const acc = new Float64Array(dim);
  if (start) for (let i = 0; i < dim; i++) acc[i] = start[i]!;
  for (const v of vectors) for (let i = 0; i < dim; i++) acc[i]! += v[i]!;
  return Float32Array.from(acc);
}

/**
 * A JS string with an unpaired surrogate cannot be stored as UTF-8 faithfully: it would be
 * replaced by U+FFFD, so two different labels could silently become one. The store refuses
 * such strings instead of aliasing them.
 */
export function isWellFormedText(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** ISO 8601 UTC with milliseconds, the format of every stored time. */
export function isoTime(d: Date): string {
  return d.toISOString();
}
