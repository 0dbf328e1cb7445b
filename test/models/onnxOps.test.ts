import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { TFLiteNodeModelRunner } from 'tfjs-tflite-node';
import { convertTfliteToOnnx, UnsupportedModelError } from '../../src/models/onnx/convert.js';
import { BuiltinOperator } from '../../src/models/onnx/schema/tfliteSchema.js';
import { buildTinyTflite, IN, ints } from './tinyTflite.js';

type TensorView = { data(): Int8Array };

describe('TFLite → ONNX conversion of int8 per-channel models', () => {
  it('gives TFLite’s integers (±1 for rounding) through CONV_2D + RELU6, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, RESHAPE', async () => {
    const tflite = buildTinyTflite();
    const session = await ort.InferenceSession.create(convertTfliteToOnnx(tflite));
    const runner = new TFLiteNodeModelRunner(new Uint8Array(tflite).buffer, { threads: 1 });
    const size = IN.shape.reduce((a, b) => a * b, 1);
    let exact = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const input = Int8Array.from(ints(size, -128, 127, seed));
      const outputs = await session.run({ [session.inputNames[0]!]: new ort.Tensor('int8', input, IN.shape) });
      const onnx = outputs[session.outputNames[0]!]!;
      (runner.getInputs() as unknown as TensorView[])[0]!.data().set(input);
      runner.infer();
      const expected = Array.from((runner.getOutputs() as unknown as TensorView[])[0]!.data());
      assert.deepEqual(onnx.dims, [1, 3]);
      const got = Array.from(onnx.data as Int8Array);
      got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= 1, `seed ${seed}: ${got} vs ${expected}`));
      if (got.every((v, i) => v === expected[i])) exact++;
    }
    assert.ok(exact >= 10, `${exact} of 20 exactly equal`);
    await session.release();
  });

  it('refuses an operator it does not know, naming it', () => {
    const softmax = buildTinyTflite([BuiltinOperator.CONV_2D, BuiltinOperator.DEPTHWISE_CONV_2D, BuiltinOperator.AVERAGE_POOL_2D, BuiltinOperator.SOFTMAX]);
    assert.throws(() => convertTfliteToOnnx(softmax), (err: unknown) => err instanceof UnsupportedModelError && /unsupported TFLite operator SOFTMAX/.test(err.message));
  });
});
