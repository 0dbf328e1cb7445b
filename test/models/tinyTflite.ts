/**
 * A small quantised .tflite built in the test with flatc's builders: int8 per-channel
 * CONV_2D (fused RELU6) → DEPTHWISE_CONV_2D (stride 2) → AVERAGE_POOL_2D → RESHAPE, the
 * paths the MobileNet model does not take (it is uint8 per tensor). A float reference of
 * the same integers checks the conversion.
 */
import * as flatbuffers from 'flatbuffers';
import {
  ActivationFunctionType,
  Buffer as TfBuffer,
  BuiltinOperator,
  BuiltinOptions,
  BuiltinOptions2,
  Conv2DOptions,
  CustomOptionsFormat,
  DepthwiseConv2DOptions,
  Model,
  Operator,
  OperatorCode,
  Padding,
  Pool2DOptions,
  QuantizationDetails,
  QuantizationParameters,
  ReshapeOptions,
  SubGraph,
  Tensor,
  TensorType,
} from '../../src/models/onnx/schema/tfliteSchema.js';

export interface TinyTensor {
  shape: number[];
  type: TensorType;
  scale: number[];
  zeroPoint: number[];
  quantizedDimension?: number;
  data?: Int8Array | Int32Array;
}

/** Deterministic pseudo-random integers in [lo, hi]. */
export function ints(n: number, lo: number, hi: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return lo + (s % (hi - lo + 1));
  });
}

export const IN = { shape: [1, 4, 4, 2], scale: 0.05, zp: -3 };
export const CONV = { outScale: 0.04, outZp: -10, wScales: [0.01, 0.02, 0.03] };
export const DW = { outScale: 0.05, outZp: 0, wScales: [0.02, 0.01, 0.015] };

export function tinyTensors(): TinyTensor[] {
  const convW = Int8Array.from(ints(3 * 3 * 3 * 2, -90, 90, 1));
  const convB = Int32Array.from(ints(3, -400, 400, 2));
  const dwW = Int8Array.from(ints(3 * 3 * 3, -100, 100, 3));
  const dwB = Int32Array.from(ints(3, -300, 300, 4));
  const i8 = TensorType.INT8;
  return [
    { shape: IN.shape, type: i8, scale: [IN.scale], zeroPoint: [IN.zp] },
    { shape: [3, 3, 3, 2], type: i8, scale: CONV.wScales, zeroPoint: [0, 0, 0], quantizedDimension: 0, data: convW },
    { shape: [3], type: TensorType.INT32, scale: CONV.wScales.map((s) => s * IN.scale), zeroPoint: [0, 0, 0], data: convB },
    { shape: [1, 4, 4, 3], type: i8, scale: [CONV.outScale], zeroPoint: [CONV.outZp] },
    { shape: [1, 3, 3, 3], type: i8, scale: DW.wScales, zeroPoint: [0, 0, 0], quantizedDimension: 3, data: dwW },
    { shape: [3], type: TensorType.INT32, scale: DW.wScales.map((s) => s * CONV.outScale), zeroPoint: [0, 0, 0], data: dwB },
    { shape: [1, 2, 2, 3], type: i8, scale: [DW.outScale], zeroPoint: [DW.outZp] },
    { shape: [1, 1, 1, 3], type: i8, scale: [DW.outScale], zeroPoint: [DW.outZp] },
    { shape: [1, 3], type: i8, scale: [DW.outScale], zeroPoint: [DW.outZp] },
  ];
}

function bytesOf(data: Int8Array | Int32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensor(b: flatbuffers.Builder, t: TinyTensor, index: number): flatbuffers.Offset {
  const q = QuantizationParameters.createQuantizationParameters(
    b,
    0,
    0,
    QuantizationParameters.createScaleVector(b, t.scale),
    QuantizationParameters.createZeroPointVector(b, t.zeroPoint.map(BigInt)),
    QuantizationDetails.NONE,
    0,
    t.quantizedDimension ?? 0,
  );
  const shape = Tensor.createShapeVector(b, t.shape);
  const name = b.createString(`t${index}`);
  Tensor.startTensor(b);
  Tensor.addShape(b, shape);
  Tensor.addType(b, t.type);
  // Buffer 0 is the empty sentinel; tensor i keeps its constant bytes in buffer i + 1.
  Tensor.addBuffer(b, index + 1);
  Tensor.addName(b, name);
  Tensor.addQuantization(b, q);
  return Tensor.endTensor(b);
}

function operator(b: flatbuffers.Builder, code: number, inputs: number[], outputs: number[], type: BuiltinOptions, options: flatbuffers.Offset) {
  return Operator.createOperator(
    b,
    code,
    Operator.createInputsVector(b, inputs),
    Operator.createOutputsVector(b, outputs),
    type,
    options,
    0,
    CustomOptionsFormat.FLEXBUFFERS,
    0,
    0,
    0n,
    0n,
    BuiltinOptions2.NONE,
    0,
  );
}

/** The model's bytes; `ops` may swap an operator code to test refusals. */
export function buildTinyTflite(ops = [BuiltinOperator.CONV_2D, BuiltinOperator.DEPTHWISE_CONV_2D, BuiltinOperator.AVERAGE_POOL_2D, BuiltinOperator.RESHAPE]): Uint8Array {
  const b = new flatbuffers.Builder(4096);
  const tensors = tinyTensors();
  const buffers = [TfBuffer.createBuffer(b, 0, 0n, 0n)];
  for (const t of tensors) buffers.push(TfBuffer.createBuffer(b, t.data ? TfBuffer.createDataVector(b, bytesOf(t.data)) : 0, 0n, 0n));
  const tensorOffsets = tensors.map((t, i) => tensor(b, t, i));
  const codes = ops.map((op) => OperatorCode.createOperatorCode(b, Math.min(op, 127), 0, 1, op));
  const conv = Conv2DOptions.createConv2DOptions(b, Padding.SAME, 1, 1, ActivationFunctionType.RELU6, 1, 1, TensorType.FLOAT32);
  const dw = DepthwiseConv2DOptions.createDepthwiseConv2DOptions(b, Padding.SAME, 2, 2, 1, ActivationFunctionType.NONE, 1, 1);
  const pool = Pool2DOptions.createPool2DOptions(b, Padding.VALID, 2, 2, 2, 2, ActivationFunctionType.NONE);
  const reshape = ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, [1, 3]));
  const operators = [
    operator(b, 0, [0, 1, 2], [3], BuiltinOptions.Conv2DOptions, conv),
    operator(b, 1, [3, 4, 5], [6], BuiltinOptions.DepthwiseConv2DOptions, dw),
    operator(b, 2, [6], [7], BuiltinOptions.Pool2DOptions, pool),
    operator(b, 3, [7], [8], BuiltinOptions.ReshapeOptions, reshape),
  ];
  const subgraph = SubGraph.createSubGraph(
    b,
    SubGraph.createTensorsVector(b, tensorOffsets),
    SubGraph.createInputsVector(b, [0]),
    SubGraph.createOutputsVector(b, [8]),
    SubGraph.createOperatorsVector(b, operators),
    b.createString('tiny'),
  );
  const model = Model.createModel(
    b,
    3,
    Model.createOperatorCodesVector(b, codes),
    Model.createSubgraphsVector(b, [subgraph]),
    b.createString('test model'),
    Model.createBuffersVector(b, buffers),
    0,
    0,
    0,
  );
  Model.finishModelBuffer(b, model);
  return b.asUint8Array().slice();
}
