import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { installModels } from '../../src/models/install.js';
import { loadManifest } from '../../src/models/manifest.js';
import { loadOrConvert, onnxPathFor } from '../../src/models/onnx/cache.js';
import { convertTfliteToOnnx } from '../../src/models/onnx/convert.js';
import { convertCpuModels } from '../../src/models/onnx/installOnnx.js';
import { readMetadata } from '../../src/models/onnx/onnxWriter.js';
import { CPU_MODEL, EDGETPU_MODEL, MODEL_DIR, tempDir, testLogger } from '../helpers/env.js';

const ONNX_NAME = 'mobilenet_v1_1.0_224_quant_embedding_extractor.onnx';

describe('the ONNX model at install', () => {
  const dir = tempDir('edge-imprint-onnx-install-');
  after(() => dir.cleanup());
  const files = loadManifest();
  const cpuSha = files.find((f) => f.role === 'cpu')!.sha256;

  it('is converted beside the CPU model with its sha256, then kept while current', async () => {
    const first = await installModels({ modelDir: dir.path, from: MODEL_DIR, files, logger: testLogger() });
    assert.equal(first[ONNX_NAME], 'converted');
    const onnx = join(dir.path, ONNX_NAME);
    assert.equal(readMetadata(readFileSync(onnx)).source_sha256, cpuSha);
    const second = await installModels({ modelDir: dir.path, from: MODEL_DIR, files, logger: testLogger() });
    assert.equal(second[ONNX_NAME], 'present');
  });

  it('is converted again when the source changed', async () => {
    const model = join(dir.path, 'changed.tflite');
    copyFileSync(CPU_MODEL, model);
    writeFileSync(onnxPathFor(model), convertTfliteToOnnx(readFileSync(model), { sourceSha256: 'an older model' }));
    const again = await loadOrConvert(model);
    assert.equal(again.converted, true);
    assert.equal(readMetadata(readFileSync(onnxPathFor(model))).source_sha256, cpuSha);
  });

  it('leaves a model it cannot convert to TFLite, naming the operator in one warning', async () => {
    copyFileSync(EDGETPU_MODEL, join(dir.path, basename(EDGETPU_MODEL)));
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const entry = { role: 'cpu' as const, name: basename(EDGETPU_MODEL), url: '', sha256: '' };
    const outcomes = await convertCpuModels(dir.path, [entry], logger);
    assert.deepEqual(Object.values(outcomes), ['not converted']);
    assert.equal(lines.filter((l) => l.includes('edgetpu-custom-op') && l.includes('TFLite')).length, 1);
    assert.equal(existsSync(onnxPathFor(join(dir.path, entry.name))), false);
  });
});
