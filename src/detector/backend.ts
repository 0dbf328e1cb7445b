import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { TFLiteNodeModelRunner } from 'tfjs-tflite-node';
import { parseTflite, type Quantization } from '../models/tfliteInfo.js';
import type { DelegateSpec } from './coralDelegate.js';
import type { BackendSpec } from './protocol.js';
import type { InputSize } from '../media/image.js';

/** An interpreter that turns model-sized RGB bytes into an L2-normalised embedding. */
export interface Backend {
  readonly inputSize: InputSize;
  /** Synchronous on TFLite; onnxruntime's session.run is asynchronous. */
  embed(rgb: Uint8Array): Float32Array | Promise<Float32Array>;
  /** Several crops in one inference, when the backend can. */
  embedBatch?(rgbs: Uint8Array[]): Promise<Float32Array[]>;
}

type TensorView = { data(): Uint8Array | Float32Array };

/**
 * One TFLite interpreter. Pixels are copied straight into the interpreter's input
 * buffer, and the uint8 output is dequantised with the scale and zero point read
 * from the model file.
 */
export class TfliteBackend implements Backend {
  readonly inputSize: InputSize;
  private readonly input: Uint8Array;
  private readonly output: TensorView;
  private readonly runner: { infer(): void };
  private readonly quant: Quantization;

  constructor(spec: BackendSpec, delegate: DelegateSpec | undefined) {
    const bytes = readFileSync(spec.modelPath);
    const description = parseTflite(bytes);
    const inTensor = description.inputs[0];
    const outTensor = description.outputs[0];
    if (!inTensor || !outTensor || inTensor.type !== 'uint8' || inTensor.shape.length !== 4) {
      throw new Error(`${basename(spec.modelPath)} is not a uint8 image model with one input and output`);
    }
    this.inputSize = { height: inTensor.shape[1] ?? 0, width: inTensor.shape[2] ?? 0 };
    this.quant = outTensor.quantization ?? { scale: 1, zeroPoint: 0 };
    const model = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const runner = new TFLiteNodeModelRunner(model, delegate ? { threads: spec.threads, delegate } : { threads: spec.threads });
    this.runner = runner;
    const inputs = runner.getInputs() as unknown as TensorView[];
    const outputs = runner.getOutputs() as unknown as TensorView[];
    const inputData = inputs[0]?.data();
    if (!(inputData instanceof Uint8Array) || !outputs[0]) throw new Error('interpreter has no uint8 input');
    this.input = inputData;
    this.output = outputs[0];
  }

  embed(rgb: Uint8Array): Float32Array {
    if (rgb.length !== this.input.length) {
      throw new Error(`input has ${rgb.length} bytes, the model takes ${this.input.length}`);
    }
    this.input.set(rgb);
    this.runner.infer();
    return dequantizeNormalized(this.output.data(), this.quant);
  }
}

/** (q - zero_point) * scale, then L2-normalised (the scale cancels, the zero point does not). */
export function dequantizeNormalized(raw: Uint8Array | Float32Array, q: Quantization): Float32Array {
  const out = new Float32Array(raw.length);
  let sum = 0;
  for (let i = 0; i < raw.length; i++) {
    const v = (raw[i]! - q.zeroPoint) * q.scale;
    out[i] = v;
    sum += v * v;
  }
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i]! /= norm;
  return out;
}
