/**
 * ONNX model bytes from plain objects, encoded by protobufjs with the message types of
 * onnx.proto (schema/onnxSchema.ts). Only the parts of ModelProto the converter fills.
 */
import protobuf from 'protobufjs';
import { onnxSchema } from './schema/onnxSchema.js';

/** TensorProto.DataType values (onnx.proto). */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type DataTypeValue = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values. */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

export interface OnnxTensor {
  name: string;
  data_type: DataTypeValue;
  dims: number[];
  raw_data: Uint8Array;
}

export interface OnnxAttribute {
  name: string;
  type: number;
  i?: number;
  ints?: number[];
  f?: number;
  s?: Uint8Array;
}

export interface OnnxNode {
  name: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: OnnxAttribute[];
}

/** A value's type: element type and shape, where a string dimension is symbolic (the batch). */
export interface OnnxValueInfo {
  name: string;
  elemType: DataTypeValue;
  shape: Array<number | string>;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Operator sets by domain ('' is ai.onnx). */
  opsets: Record<string, number>;
  metadata: Record<string, string>;
}

export function intAttribute(name: string, value: number): OnnxAttribute {
  return { name, type: AttributeType.INT, i: value };
}

export function intsAttribute(name: string, values: number[]): OnnxAttribute {
  return { name, type: AttributeType.INTS, ints: values };
}

function valueInfo(v: OnnxValueInfo): object {
  const dim = v.shape.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d }));
  return { name: v.name, type: { tensor_type: { elem_type: v.elemType, shape: { dim } } } };
}

export function encodeModel(graph: OnnxGraph, producerVersion: string): Uint8Array {
  const ModelProto = protobuf.Root.fromJSON(onnxSchema).lookupType('onnx.ModelProto');
  const model = {
    // IR version 8 with opset 13: read by every onnxruntime since 1.10.
    ir_version: 8,
    producer_name: 'edge-imprint',
    producer_version: producerVersion,
    opset_import: Object.entries(graph.opsets).map(([domain, version]) => ({ domain, version })),
    metadata_props: Object.entries(graph.metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      node: graph.nodes,
      initializer: graph.initializers,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  };
  const problem = ModelProto.verify(model);
  if (problem) throw new Error(`invalid ONNX model: ${problem}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

/** The metadata_props of encoded ONNX bytes (e.g. the source's sha256). */
export function readMetadata(bytes: Uint8Array): Record<string, string> {
  const ModelProto = protobuf.Root.fromJSON(onnxSchema).lookupType('onnx.ModelProto');
  const decoded = ModelProto.toObject(ModelProto.decode(bytes), { defaults: false }) as {
    metadata_props?: Array<{ key?: string; value?: string }>;
  };
  const out: Record<string, string> = {};
  for (const p of decoded.metadata_props ?? []) if (p.key !== undefined) out[p.key] = p.value ?? '';
  return out;
}
