import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TfliteBackend } from '../../src/detector/backend.js';
import { jpegToInput } from '../../src/media/image.js';
import { OnnxBackend } from '../../src/detector/onnxBackend.js';
import { dot } from '../../src/recognition/vector.js';
import { convertTfliteToOnnx, CONVERTER_VERSION, UnsupportedModelError } from '../../src/models/onnx/convert.js';
import { readMetadata } from '../../src/models/onnx/onnxWriter.js';
import { CPU_MODEL, EDGETPU_MODEL, FIXTURE_IMAGES, tempDir } from '../helpers/env.js';

/** Embeddings from ONNX and TFLite count as the same model at this cosine (issue 17). */
const SAME_MODEL_COSINE = 0.999;

function spec(modelPath: string) {
  return { kind: 'cpu' as const, modelPath, modelSha256: '', threads: 2, device: '', library: '' };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

describe('TFLite → ONNX conversion', () => {
  const dir = tempDir('edge-imprint-onnx-');
  let onnx: OnnxBackend;
  let tflite: TfliteBackend;
  const photos = readdirSync(FIXTURE_IMAGES).filter((f) => f.endsWith('.jpg'));
  const inputs = new Map<string, Uint8Array>();

  before(async () => {
    // A copy, so that the cached .onnx lands in a temporary folder and not in the model cache.
    const model = join(dir.path, 'model.tflite');
    copyFileSync(CPU_MODEL, model);
    onnx = await OnnxBackend.create(spec(model));
    tflite = new TfliteBackend(spec(model), undefined);
    for (const name of photos) inputs.set(name, await jpegToInput(readFileSync(join(FIXTURE_IMAGES, name)), onnx.inputSize));
  });
  after(async () => {
    await onnx.close();
    dir.cleanup();
  });

  it('gives the embeddings of TFLite on every fixture photo (cosine ≥ 0.999)', async () => {
    assert.ok(photos.length >= 10, 'the fixture photos are there');
    const cosines: Array<[string, number]> = [];
    for (const name of photos) {
      const rgb = inputs.get(name)!;
      cosines.push([name, dot(await onnx.embed(rgb), tflite.embed(rgb))]);
    }
    const values = cosines.map(([, c]) => c);
    console.log(`cosine ONNX vs TFLite over ${values.length} photos: min ${Math.min(...values).toFixed(5)}, median ${median(values).toFixed(5)}`);
    for (const [name, c] of cosines) assert.ok(c >= SAME_MODEL_COSINE, `${name}: cosine ${c}`);
  });

  it('gives the same embeddings for crops batched into one run as one by one', async () => {
    const batch = photos.slice(0, 4).map((name) => inputs.get(name)!);
    const together = await onnx.embedBatch(batch);
    assert.equal(together.length, 4);
    for (let i = 0; i < batch.length; i++) {
      const alone = await onnx.embed(batch[i]!);
      assert.ok(dot(alone, together[i]!) > 0.99999, `crop ${i}`);
    }
  });

  it("records the source's sha256 and the converter version", () => {
    const bytes = readFileSync(CPU_MODEL);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const meta = readMetadata(convertTfliteToOnnx(bytes, { sourceSha256: sha }));
    assert.equal(meta.source_sha256, sha);
    assert.equal(meta.converter_version, CONVERTER_VERSION);
  });

  it('refuses an operator it does not know, naming it', () => {
    assert.throws(
      () => convertTfliteToOnnx(readFileSync(EDGETPU_MODEL)),
      (err: unknown) => err instanceof UnsupportedModelError && /unsupported TFLite operator edgetpu-custom-op/.test(err.message),
    );
  });
});
