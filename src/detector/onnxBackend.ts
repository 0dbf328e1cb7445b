/**
 * The CPU backend on onnxruntime: the .tflite converted exactly to ONNX (src/models/onnx),
 * run by onnxruntime-node's CPU kernels. Several crops go through one session.run.
 */
import { availableParallelism } from 'node:os';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { InferenceSession as Session } from 'onnxruntime-node';
import { loadOrConvert } from '../models/onnx/cache.js';
import { parseTflite, type Quantization } from '../models/tfliteInfo.js';
import { dequantizeNormalized, type Backend } from './backend.js';
import type { BackendSpec } from './protocol.js';
import type { InputSize } from '../media/image.js';

/** Machines this small lose more to onnxruntime's spinning threads than they gain. */
const SMALL_MACHINE_CORES = 4;
const WARM_UP_RUNS = 2;

export function sessionOptions(threads: number, cores = availableParallelism()): Session.SessionOptions {
  const options: Session.SessionOptions = {
    intraOpNumThreads: Math.max(1, Math.min(threads, cores)),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  if (cores <= SMALL_MACHINE_CORES) options.extra = { session: { intra_op: { allow_spinning: '0' } } };
  return options;
}

export class OnnxBackend implements Backend {
  private constructor(
    readonly inputSize: InputSize,
    private readonly session: Session,
    private readonly quant: Quantization,
    private readonly ort: typeof import('onnxruntime-node'),
    /** Where the ONNX model came from, for the log. */
    readonly source: string,
  ) {}

  /** Loads (or converts) the ONNX twin of `spec.modelPath` and opens a session on it. */
  static async create(spec: BackendSpec): Promise<OnnxBackend> {
    const description = parseTflite(await readFile(spec.modelPath));
    const inTensor = description.inputs[0];
    const outTensor = description.outputs[0];
    if (!inTensor || !outTensor || inTensor.type !== 'uint8' || inTensor.shape.length !== 4) {
      throw new Error(`${basename(spec.modelPath)} is not a uint8 image model with one input and output`);
    }
    const model = await loadOrConvert(spec.modelPath);
    // Imported here: only a child that runs onnxruntime pays for loading it.
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(model.bytes, sessionOptions(spec.threads));
    const inputSize = { height: inTensor.shape[1] ?? 0, width: inTensor.shape[2] ?? 0 };
    const source = model.converted ? `converted now${model.cacheError ? ` (not cached: ${model.cacheError})` : ''}` : model.path;
    const backend = new OnnxBackend(inputSize, session, outTensor.quantization ?? { scale: 1, zeroPoint: 0 }, ort, source);
    // onnxruntime allocates and plans on the first runs: done before `ready`, so that the
    // first real inference is not mistaken for a hang.
    const blank = new Uint8Array(inputSize.width * inputSize.height * 3);
    for (let i = 0; i < WARM_UP_RUNS; i++) await backend.embed(blank);
    return backend;
  }

  async embed(rgb: Uint8Array): Promise<Float32Array> {
    const [embedding] = await this.embedBatch([rgb]);
    return embedding!;
  }

  /** One session.run over all crops: the batch dimension of the converted model is free. */
  async embedBatch(rgbs: Uint8Array[]): Promise<Float32Array[]> {
    const size = this.inputSize.width * this.inputSize.height * 3;
    const input = new Uint8Array(size * rgbs.length);
    rgbs.forEach((rgb, i) => {
      if (rgb.length !== size) throw new Error(`input has ${rgb.length} bytes, the model takes ${size}`);
      input.set(rgb, i * size);
    });
    const tensor = new this.ort.Tensor('uint8', input, [rgbs.length, this.inputSize.height, this.inputSize.width, 3]);
    const outputs = await this.session.run({ [this.session.inputNames[0]!]: tensor });
    const raw = outputs[this.session.outputNames[0]!]?.data;
    if (!(raw instanceof Uint8Array)) throw new Error('the ONNX model gave no uint8 output');
    const width = raw.length / rgbs.length;
    return rgbs.map((_, i) => dequantizeNormalized(raw.subarray(i * width, (i + 1) * width), this.quant));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
