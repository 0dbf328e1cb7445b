/**
 * The first subgraph of a .tflite file as plain data: tensors with their quantisation
 * and constant bytes, operators with their builtin name and options. Read through the
 * code flatc generates from TFLite's schema.fbs (schema/tfliteSchema.ts).
 */
import * as flatbuffers from 'flatbuffers';
import {
  ActivationFunctionType,
  BuiltinOperator,
  BuiltinOptions,
  Conv2DOptions,
  DepthwiseConv2DOptions,
  Model,
  Padding,
  Pool2DOptions,
  ReshapeOptions,
  TensorType,
  type Operator,
  type SubGraph,
} from './schema/tfliteSchema.js';

export type ElementType = 'uint8' | 'int8' | 'int32' | 'float32' | 'other';

export interface GraphTensor {
  index: number;
  name: string;
  type: ElementType;
  shape: number[];
  /** One scale and zero point (per tensor) or one per channel along `quantizedDimension`. */
  scale: number[];
  zeroPoint: number[];
  quantizedDimension: number;
  /** Constant bytes (weights, bias), or null for activations. */
  data: Uint8Array | null;
}

export interface SpatialOptions {
  padding: 'same' | 'valid';
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  activation: string;
  /** Depthwise only. */
  depthMultiplier: number;
  /** Pooling only. */
  filterH: number;
  filterW: number;
  /** Reshape only (may be empty: the shape is then the second input). */
  newShape: number[];
}

export interface GraphOperator {
  /** BuiltinOperator name (CONV_2D…), or the custom code of a custom operator. */
  op: string;
  inputs: number[];
  outputs: number[];
  options: SpatialOptions;
}

export interface TfliteGraph {
  tensors: GraphTensor[];
  operators: GraphOperator[];
  inputs: number[];
  outputs: number[];
}

const ELEMENT_TYPES: Partial<Record<TensorType, ElementType>> = {
  [TensorType.UINT8]: 'uint8',
  [TensorType.INT8]: 'int8',
  [TensorType.INT32]: 'int32',
  [TensorType.FLOAT32]: 'float32',
};

export function readTfliteGraph(bytes: Uint8Array): TfliteGraph {
  const model = Model.getRootAsModel(new flatbuffers.ByteBuffer(bytes));
  const graph = model.subgraphs(0);
  if (!graph) throw new Error('the .tflite file has no subgraph');
  const tensors: GraphTensor[] = [];
  for (let i = 0; i < graph.tensorsLength(); i++) tensors.push(readTensor(model, graph, i));
  const operators: GraphOperator[] = [];
  for (let i = 0; i < graph.operatorsLength(); i++) operators.push(readOperator(model, graph.operators(i)!));
  return {
    tensors,
    operators,
    inputs: Array.from(graph.inputsArray() ?? []),
    outputs: Array.from(graph.outputsArray() ?? []),
  };
}

function readTensor(model: Model, graph: SubGraph, index: number): GraphTensor {
  const tensor = graph.tensors(index)!;
  const q = tensor.quantization();
  const scale = Array.from(q?.scaleArray() ?? []);
  const zeroPoint: number[] = [];
  for (let i = 0; i < (q?.zeroPointLength() ?? 0); i++) zeroPoint.push(Number(q!.zeroPoint(i)));
  const data = model.buffers(tensor.buffer())?.dataArray() ?? null;
  return {
    index,
    name: tensor.name() ?? `tensor${index}`,
    type: ELEMENT_TYPES[tensor.type()] ?? 'other',
    shape: Array.from(tensor.shapeArray() ?? []),
    scale,
    zeroPoint,
    quantizedDimension: q?.quantizedDimension() ?? 0,
    data: data && data.length > 0 ? data : null,
  };
}

function operatorName(model: Model, op: Operator): string {
  const code = model.operatorCodes(op.opcodeIndex());
  if (!code) return 'unknown';
  // Schema v3a: codes past 127 live in builtin_code; older files only fill the deprecated byte.
  const builtin = Math.max(code.builtinCode(), code.deprecatedBuiltinCode());
  if (builtin === BuiltinOperator.CUSTOM) return code.customCode() ?? 'CUSTOM';
  return BuiltinOperator[builtin] ?? `builtin ${builtin}`;
}

const ACTIVATIONS = ActivationFunctionType as unknown as Record<number, string>;

function readOperator(model: Model, op: Operator): GraphOperator {
  const options: SpatialOptions = {
    padding: 'valid',
    strideH: 1,
    strideW: 1,
    dilationH: 1,
    dilationW: 1,
    activation: 'NONE',
    depthMultiplier: 1,
    filterH: 1,
    filterW: 1,
    newShape: [],
  };
  const type = op.builtinOptionsType();
  if (type === BuiltinOptions.Conv2DOptions) {
    const o = op.builtinOptions(new Conv2DOptions()) as Conv2DOptions;
    Object.assign(options, spatial(o.padding(), o.strideH(), o.strideW(), o.fusedActivationFunction()));
    Object.assign(options, { dilationH: o.dilationHFactor(), dilationW: o.dilationWFactor() });
  } else if (type === BuiltinOptions.DepthwiseConv2DOptions) {
    const o = op.builtinOptions(new DepthwiseConv2DOptions()) as DepthwiseConv2DOptions;
    Object.assign(options, spatial(o.padding(), o.strideH(), o.strideW(), o.fusedActivationFunction()));
    Object.assign(options, { dilationH: o.dilationHFactor(), dilationW: o.dilationWFactor(), depthMultiplier: o.depthMultiplier() });
  } else if (type === BuiltinOptions.Pool2DOptions) {
    const o = op.builtinOptions(new Pool2DOptions()) as Pool2DOptions;
    Object.assign(options, spatial(o.padding(), o.strideH(), o.strideW(), o.fusedActivationFunction()));
    Object.assign(options, { filterH: o.filterHeight(), filterW: o.filterWidth() });
  } else if (type === BuiltinOptions.ReshapeOptions) {
    const o = op.builtinOptions(new ReshapeOptions()) as ReshapeOptions;
    options.newShape = Array.from(o.newShapeArray() ?? []);
  }
  return {
    op: operatorName(model, op),
    inputs: Array.from(op.inputsArray() ?? []),
    outputs: Array.from(op.outputsArray() ?? []),
    options,
  };
}

function spatial(padding: Padding, strideH: number, strideW: number, activation: ActivationFunctionType): Partial<SpatialOptions> {
  return {
    padding: padding === Padding.SAME ? 'same' : 'valid',
    strideH,
    strideW,
    activation: ACTIVATIONS[activation] ?? `activation ${activation}`,
  };
}
