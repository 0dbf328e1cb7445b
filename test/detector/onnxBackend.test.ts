import assert from 'node:assert/strict';
import { fork as nodeFork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { DetectorConfig } from '../../src/config/types.js';
import { chooseBackend, cpuRuntime } from '../../src/detector/backendChoice.js';
import { prepareImage } from '../../src/media/image.js';
import { sessionOptions } from '../../src/detector/onnxBackend.js';
import type { ToChild } from '../../src/detector/protocol.js';
import { SupervisedDetector } from '../../src/detector/supervisedDetector.js';
import { dot } from '../../src/recognition/vector.js';
import { loadManifest } from '../../src/models/manifest.js';
import { onnxPathFor } from '../../src/models/onnx/cache.js';
import { CONVERTER_VERSION } from '../../src/models/onnx/convert.js';
import { DataType, encodeModel } from '../../src/models/onnx/onnxWriter.js';
import { CPU_MODEL, image, MODEL_DIR, tempDir } from '../helpers/env.js';

const CPU_FILE = 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite';

function config(overrides: Partial<DetectorConfig> = {}): DetectorConfig {
  return {
    type: 'cpu',
    backend: 'auto',
    device: '',
    threads: 2,
    model: { cpu: CPU_FILE, edgetpu: 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite' },
    edgetpu_library: 'libedgetpu.so.1',
    inference_timeout_ms: 5000,
    ...overrides,
  };
}

function capture(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino({ level: 'info' }, { write: (line: string) => lines.push(line) }), lines };
}

function detector(cfg: DetectorConfig, logger: pino.Logger, fork?: typeof nodeFork): SupervisedDetector {
  return new SupervisedDetector({
    config: cfg,
    modelDir: MODEL_DIR,
    manifest: loadManifest(),
    logger,
    backoff: { initialMs: 50, maxMs: 500 },
    ...(fork ? { fork } : {}),
  });
}

/** A fork that records the type of every message sent to the child, with its crop count. */
function recordingFork(sent: string[]): typeof nodeFork {
  return ((...args: Parameters<typeof nodeFork>) => {
    const child = nodeFork(...args);
    const send = child.send.bind(child) as (m: ToChild) => boolean;
    child.send = ((m: ToChild) => {
      sent.push(m.type === 'embedBatch' ? `embedBatch ${m.rgbs.length}` : m.type);
      return send(m);
    }) as typeof child.send;
    return child;
  }) as typeof nodeFork;
}

async function embedFile(d: SupervisedDetector, name: string): Promise<Float32Array> {
  const prepared = await prepareImage(readFileSync(image(name)), d.inputSize, { maxBytes: 8 << 20, maxMegapixels: 40 });
  return d.embed(prepared.rgb);
}

describe('detector.backend and detector.type together', () => {
  const none = { corals: { usb: 0, pci: 0 }, edgetpuModelPresent: true };
  const coral = { corals: { usb: 1, pci: 0 }, edgetpuModelPresent: true };

  it('auto: a Coral when one answers, else the CPU on ONNX Runtime', () => {
    assert.equal(chooseBackend(config({ type: 'auto' }), coral).kind, 'edgetpu');
    assert.equal(chooseBackend(config({ type: 'auto' }), none).kind, 'cpu');
    assert.equal(cpuRuntime(config()), 'onnx');
  });

  it('type cpu with backend auto runs ONNX Runtime; backend tflite the reference', () => {
    assert.equal(chooseBackend(config({ type: 'cpu' }), coral).kind, 'cpu');
    assert.equal(cpuRuntime(config({ type: 'cpu' })), 'onnx');
    assert.equal(cpuRuntime(config({ backend: 'tflite' })), 'tflite');
  });

  it('backend onnx or tflite never uses a Coral; backend coral is type edgetpu', () => {
    assert.deepEqual(chooseBackend(config({ type: 'auto', backend: 'onnx' }), coral), { kind: 'cpu', reason: 'detector.backend is onnx' });
    assert.equal(chooseBackend(config({ type: 'edgetpu', backend: 'tflite' }), coral).kind, 'cpu');
    assert.deepEqual(chooseBackend(config({ type: 'auto', backend: 'coral' }), none), { kind: 'edgetpu', reason: 'detector.backend is coral' });
  });

  it('chooses threads from the core count and turns the idle spinning off on small machines', () => {
    assert.equal(sessionOptions(4, 2).intraOpNumThreads, 2);
    assert.deepEqual(sessionOptions(2, 2).extra, { session: { intra_op: { allow_spinning: '0' } } });
    assert.equal(sessionOptions(2, 16).extra, undefined);
  });
});

describe('SupervisedDetector on ONNX Runtime and on TFLite', () => {
  const onnx = capture();
  const tflite = capture();
  const sent: string[] = [];
  const onOnnx = detector(config(), onnx.logger, recordingFork(sent));
  const onTflite = detector(config({ backend: 'tflite' }), tflite.logger);
  before(() => Promise.all([onOnnx.start(), onTflite.start()]));
  after(() => Promise.all([onOnnx.stop(), onTflite.stop()]));

  it('says which CPU runtime runs, in the log and in info()', () => {
    assert.equal(onOnnx.info().backend, 'onnx');
    assert.equal(onTflite.info().backend, 'tflite');
    assert.ok(onnx.lines.some((l) => l.includes('it runs on ONNX Runtime')));
    assert.ok(tflite.lines.some((l) => l.includes('it runs on TFLite')));
  });

  it('gives embeddings that count as the same model (cosine ≥ 0.999) with the same model id', async () => {
    for (const name of ['cat_test_0.jpg', 'hotdog_train_1.jpg']) {
      const a = await embedFile(onOnnx, name);
      const b = await embedFile(onTflite, name);
      assert.ok(dot(a, b) >= 0.999, `${name}: ${dot(a, b)}`);
    }
    assert.equal(onOnnx.modelId(), onTflite.modelId());
  });

  it('runs crops asked for together (a frame with 4 zones) in one inference, each with its own embedding', async () => {
    const names = ['cat_test_0.jpg', 'dog_test_0.jpg', 'owl.jpg', 'parrot.jpg'];
    const crops = await Promise.all(
      names.map(async (n) => (await prepareImage(readFileSync(image(n)), onOnnx.inputSize, { maxBytes: 8 << 20, maxMegapixels: 40 })).rgb),
    );
    sent.length = 0;
    const together = await Promise.all(crops.map((rgb) => onOnnx.embed(rgb)));
    assert.deepEqual(sent, ['embedBatch 4']);
    for (const [i, n] of names.entries()) assert.ok(dot(together[i]!, await onOnnx.embed(crops[i]!)) > 0.99999, n);
  });
});

describe('SupervisedDetector when ONNX Runtime cannot start', () => {
  const dir = tempDir('edge-imprint-onnx-fallback-');
  const { logger, lines } = capture();
  let d: SupervisedDetector;

  before(async () => {
    const model = join(dir.path, CPU_FILE);
    copyFileSync(CPU_MODEL, model);
    // A cached ONNX file that claims to be current but that onnxruntime refuses.
    const sha = createHash('sha256').update(readFileSync(model)).digest('hex');
    const broken = encodeModel(
      {
        name: 'broken',
        nodes: [{ name: 'n', op_type: 'NoSuchOperator', input: ['input'], output: ['output'], attribute: [] }],
        initializers: [],
        inputs: [{ name: 'input', elemType: DataType.UINT8, shape: ['batch', 224, 224, 3] }],
        outputs: [{ name: 'output', elemType: DataType.UINT8, shape: ['batch', 1, 1, 1024] }],
        opsets: { '': 13 },
        metadata: { source_sha256: sha, converter_version: CONVERTER_VERSION },
      },
      'test',
    );
    writeFileSync(onnxPathFor(model), broken);
    d = detector(config({ model: { cpu: model, edgetpu: 'absent.tflite' } }), logger);
    await d.start();
  });
  after(async () => {
    await d.stop();
    dir.cleanup();
  });

  it('runs the TFLite reference instead, says so in one log line, and answers', async () => {
    assert.equal(d.info().backend, 'tflite');
    assert.equal(lines.filter((l) => l.includes('ONNX Runtime did not start')).length, 1);
    const embedding = await embedFile(d, 'cat_test_0.jpg');
    assert.equal(embedding.length, 1024);
  });
});
