/**
 * The ONNX twin of a .tflite, cached beside it as `<name>.onnx`. Its metadata records the
 * source's sha256 and the converter version: a changed model or converter converts again.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { CONVERTER_VERSION, convertTfliteToOnnx } from './convert.js';
import { readMetadata } from './onnxWriter.js';

export function onnxPathFor(tflitePath: string): string {
  return join(dirname(tflitePath), `${basename(tflitePath, extname(tflitePath))}.onnx`);
}

export interface OnnxModel {
  bytes: Uint8Array;
  path: string;
  /** Whether it was converted now (else read from the cache). */
  converted: boolean;
  /** Why the cache could not be written, when it could not (the model is then used from memory). */
  cacheError?: string;
}

/** Whether the cached file was converted from these exact source bytes by this converter. */
export function isCurrent(onnx: Uint8Array, sourceSha256: string): boolean {
  try {
    const meta = readMetadata(onnx);
    return meta.source_sha256 === sourceSha256 && meta.converter_version === CONVERTER_VERSION;
  } catch {
    return false;
  }
}

/** The cached conversion when it is current, else a new one written to the cache (best effort). */
export async function loadOrConvert(tflitePath: string): Promise<OnnxModel> {
  const tflite = await readFile(tflitePath);
  const sha = createHash('sha256').update(tflite).digest('hex');
  const path = onnxPathFor(tflitePath);
  const cached = await readFile(path).catch(() => null);
  if (cached && isCurrent(cached, sha)) return { bytes: cached, path, converted: false };
  const bytes = convertTfliteToOnnx(tflite, { sourceSha256: sha });
  const cacheError = await writeAtomically(path, bytes);
  return cacheError ? { bytes, path, converted: true, cacheError } : { bytes, path, converted: true };
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<string | undefined> {
  // A reader (another agent, the bench) never sees half a file: write aside, then rename.
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
    return undefined;
  } catch (err) {
    await rm(tmp, { force: true });
    return err instanceof Error ? err.message : String(err);
  }
}
