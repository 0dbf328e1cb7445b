/**
 * An exact conversion of a quantised TFLite image model to ONNX for onnxruntime's CPU
 * kernels: CONV_2D and DEPTHWISE_CONV_2D become QLinearConv, AVERAGE_POOL_2D
 * com.microsoft.QLinearAveragePool, RESHAPE Reshape; the same integers, scales and zero
 * points as TFLite. The graph takes and gives NHWC like the .tflite (batch dimension
 * free), and runs NCHW inside.
 */
import {
  DataType,
  encodeModel,
  intAttribute,
  intsAttribute,
  type DataTypeValue,
  type OnnxGraph,
  type OnnxNode,
  type OnnxTensor,
} from './onnxWriter.js';
import { readTfliteGraph, type GraphOperator, type GraphTensor, type TfliteGraph } from './tfliteGraph.js';

/** Bumped when the converter's output changes, so that cached .onnx files are rebuilt. */
export const CONVERTER_VERSION = '1';
export const SUPPORTED_OPS = ['CONV_2D', 'DEPTHWISE_CONV_2D', 'AVERAGE_POOL_2D', 'RESHAPE'] as const;

export class UnsupportedModelError extends Error {
  override readonly name = 'UnsupportedModelError';
}

export interface ConvertOptions {
  /** sha256 of the .tflite, recorded in the ONNX metadata (source_sha256). */
  sourceSha256?: string;
}

export function convertTfliteToOnnx(tflite: Uint8Array, options: ConvertOptions = {}): Uint8Array {
  const graph = readTfliteGraph(tflite);
  const unknown = [...new Set(graph.operators.map((o) => o.op))].filter((op) => !(SUPPORTED_OPS as readonly string[]).includes(op));
  if (unknown.length > 0) {
    throw new UnsupportedModelError(
      `cannot convert to ONNX: unsupported TFLite operator ${unknown.join(', ')} (the converter knows ${SUPPORTED_OPS.join(', ')})`,
    );
  }
  const metadata: Record<string, string> = { converter_version: CONVERTER_VERSION };
  if (options.sourceSha256) metadata.source_sha256 = options.sourceSha256;
  return encodeModel(new GraphBuilder(graph).build(metadata), CONVERTER_VERSION);
}

const QUANT_TYPES: Partial<Record<GraphTensor['type'], DataTypeValue>> = { uint8: DataType.UINT8, int8: DataType.INT8 };
const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

/** The layout an ONNX value holds a 4-D TFLite tensor in. */
type Layout = 'nhwc' | 'nchw';

class GraphBuilder {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxTensor[] = [];
  /** ONNX value names of TFLite tensors, by layout. */
  private readonly values = new Map<number, Partial<Record<Layout, string>>>();

  constructor(private readonly graph: TfliteGraph) {}

  build(metadata: Record<string, string>): OnnxGraph {
    const { tensors } = this.graph;
    for (const index of this.graph.inputs) this.values.set(index, { nhwc: `input${index}` });
    this.graph.operators.forEach((op, i) => this.convert(op, i));
    const io = (index: number) => {
      const t = this.tensor(index);
      return { elemType: quantType(t), shape: ['batch', ...t.shape.slice(1)] };
    };
    return {
      name: 'tflite',
      nodes: this.nodes,
      initializers: this.initializers,
      inputs: this.graph.inputs.map((i) => ({ name: this.nhwc(i), ...io(i) })),
      outputs: this.graph.outputs.map((i) => ({ name: this.nhwc(i), ...io(i) })),
      opsets: { '': 13, 'com.microsoft': 1 },
      metadata: { ...metadata, ...outputQuantization(tensors, this.graph.outputs) },
    };
  }

  private tensor(index: number): GraphTensor {
    const t = this.graph.tensors[index];
    if (!t) throw new UnsupportedModelError(`tensor ${index} is missing`);
    return t;
  }

  private convert(op: GraphOperator, position: number): void {
    if (op.op === 'CONV_2D' || op.op === 'DEPTHWISE_CONV_2D') this.conv(op, position);
    else if (op.op === 'AVERAGE_POOL_2D') this.averagePool(op, position);
    else this.reshape(op, position);
  }

  private conv(op: GraphOperator, position: number): void {
    const [xi, wi, bi] = op.inputs;
    const x = this.tensor(xi!);
    const w = this.tensor(wi!);
    const y = this.tensor(op.outputs[0]!);
    const depthwise = op.op === 'DEPTHWISE_CONV_2D';
    const [, kh = 1, kw = 1] = w.shape;
    const outChannels = depthwise ? w.shape[3]! : w.shape[0]!;
    const inputs = [
      this.nchw(xi!),
      ...this.quantParams(`x${position}`, x),
      this.weights(`w${position}`, w, depthwise),
      ...this.weightQuant(`w${position}`, w, outChannels),
      ...this.quantParams(`y${position}`, y),
    ];
    if (bi !== undefined && bi >= 0) inputs.push(this.bias(`b${position}`, this.tensor(bi), outChannels));
    const o = op.options;
    const out = `conv${position}`;
    this.nodes.push({
      name: `${op.op}_${position}`,
      op_type: 'QLinearConv',
      input: inputs,
      output: [out],
      attribute: [
        intsAttribute('kernel_shape', [kh, kw]),
        intsAttribute('strides', [o.strideH, o.strideW]),
        intsAttribute('dilations', [o.dilationH, o.dilationW]),
        intsAttribute('pads', pads(x, y, [kh, kw], o)),
        intAttribute('group', depthwise ? x.shape[3]! : 1),
      ],
    });
    this.setOutput(op.outputs[0]!, this.activation(out, y, o.activation, position));
  }

  private averagePool(op: GraphOperator, position: number): void {
    const x = this.tensor(op.inputs[0]!);
    const y = this.tensor(op.outputs[0]!);
    const o = op.options;
    const out = `pool${position}`;
    this.nodes.push({
      name: `AVERAGE_POOL_2D_${position}`,
      op_type: 'QLinearAveragePool',
      domain: 'com.microsoft',
      input: [this.nchw(op.inputs[0]!), ...this.quantParams(`x${position}`, x), ...this.quantParams(`y${position}`, y)],
      output: [out],
      attribute: [
        intsAttribute('kernel_shape', [o.filterH, o.filterW]),
        intsAttribute('strides', [o.strideH, o.strideW]),
        intsAttribute('pads', pads(x, y, [o.filterH, o.filterW], o)),
        // TFLite averages over the window's pixels inside the image only.
        intAttribute('count_include_pad', 0),
      ],
    });
    this.setOutput(op.outputs[0]!, this.activation(out, y, o.activation, position));
  }

  private reshape(op: GraphOperator, position: number): void {
    const y = this.tensor(op.outputs[0]!);
    // The batch dimension stays free (0 copies it from the input); the rest is the static shape.
    const shape = [0, ...y.shape.slice(1)];
    const name = `shape${position}`;
    this.initializers.push({ name, data_type: DataType.INT64, dims: [shape.length], raw_data: int64Bytes(shape) });
    const out = `reshape${position}`;
    this.nodes.push({ name: `RESHAPE_${position}`, op_type: 'Reshape', input: [this.nhwc(op.inputs[0]!), name], output: [out], attribute: [] });
    this.values.set(op.outputs[0]!, { nhwc: out });
  }

  /** A fused activation as a Clip on the quantised output, when it cuts into the type's range. */
  private activation(value: string, y: GraphTensor, activation: string, position: number): string {
    const range = activationRange(activation, y);
    if (!range) return value;
    const type = quantType(y);
    const [lo, hi] = type === DataType.UINT8 ? [0, 255] : [-128, 127];
    if (range[0] <= lo && range[1] >= hi) return value;
    const min = this.scalar(`clip_min${position}`, type, Math.max(lo, range[0]));
    const max = this.scalar(`clip_max${position}`, type, Math.min(hi, range[1]));
    const out = `act${position}`;
    this.nodes.push({ name: `${activation}_${position}`, op_type: 'Clip', input: [value, min, max], output: [out], attribute: [] });
    return out;
  }

  private setOutput(index: number, nchwName: string): void {
    if (this.tensor(index).shape.length !== 4) throw new UnsupportedModelError(`tensor ${index} is not 4-D after a convolution`);
    this.values.set(index, { nchw: nchwName });
  }

  private nchw(index: number): string {
    return this.layout(index, 'nchw');
  }

  private nhwc(index: number): string {
    return this.layout(index, 'nhwc');
  }

  /** The tensor in the layout asked for, transposed once when it is held in the other. */
  private layout(index: number, want: Layout): string {
    const held = this.values.get(index);
    if (!held) throw new UnsupportedModelError(`tensor ${index} (${this.tensor(index).name}) is used before it is computed`);
    const have = held[want];
    if (have) return have;
    const from = want === 'nchw' ? held.nhwc! : held.nchw!;
    const name = `${from}_${want}`;
    this.nodes.push({
      name: `transpose_${name}`,
      op_type: 'Transpose',
      input: [from],
      output: [name],
      attribute: [intsAttribute('perm', want === 'nchw' ? NHWC_TO_NCHW : NCHW_TO_NHWC)],
    });
    held[want] = name;
    return name;
  }

  /** Per-tensor scale and zero point of an activation, as [scale, zero point] value names. */
  private quantParams(prefix: string, t: GraphTensor): [string, string] {
    const type = quantType(t);
    if (t.scale.length !== 1) throw new UnsupportedModelError(`activation ${t.name} is not quantised per tensor`);
    return [this.floats(`${prefix}_scale`, t.scale, []), this.scalar(`${prefix}_zero_point`, type, t.zeroPoint[0] ?? 0)];
  }

  /**
   * Weights in ONNX's [out, in/group, kh, kw] order. uint8 weights become int8 (w − 128 with
   * the zero point moved alike: the same differences), the form onnxruntime's fast kernels take.
   */
  private weights(name: string, w: GraphTensor, depthwise: boolean): string {
    if (!w.data) throw new UnsupportedModelError(`weights ${w.name} are not constant`);
    const [a = 1, kh = 1, kw = 1, c = 1] = w.shape;
    const shift = quantType(w) === DataType.UINT8 ? 128 : 0;
    const src = w.data;
    const out = new Int8Array(src.length);
    // TFLite: conv [O, kh, kw, I], depthwise [1, kh, kw, O]; ONNX: [O, I, kh, kw] and [O, 1, kh, kw].
    const [outCh, inCh] = depthwise ? [c, 1] : [a, c];
    for (let o = 0; o < outCh; o++) {
      for (let i = 0; i < inCh; i++) {
        for (let y = 0; y < kh; y++) {
          for (let x = 0; x < kw; x++) {
            const from = depthwise ? (y * kw + x) * c + o : ((o * kh + y) * kw + x) * c + i;
            const raw = shift ? src[from]! - shift : (src[from]! << 24) >> 24;
            out[((o * inCh + i) * kh + y) * kw + x] = raw;
          }
        }
      }
    }
    const dims = [outCh, inCh, kh, kw];
    this.initializers.push({ name, data_type: DataType.INT8, dims, raw_data: new Uint8Array(out.buffer) });
    return name;
  }

  /** Weight scales and zero points: one, or one per output channel. */
  private weightQuant(prefix: string, w: GraphTensor, outChannels: number): [string, string] {
    const n = w.scale.length;
    if (n !== 1 && n !== outChannels) throw new UnsupportedModelError(`weights ${w.name} have ${n} scales for ${outChannels} channels`);
    const shift = quantType(w) === DataType.UINT8 ? 128 : 0;
    const zeroPoints = (w.zeroPoint.length === n ? w.zeroPoint : new Array<number>(n).fill(w.zeroPoint[0] ?? 0)).map((z) => z - shift);
    const dims = n === 1 ? [] : [n];
    const zpName = `${prefix}_zero_point`;
    this.initializers.push({ name: zpName, data_type: DataType.INT8, dims, raw_data: new Uint8Array(Int8Array.from(zeroPoints).buffer) });
    return [this.floats(`${prefix}_scale`, w.scale, dims), zpName];
  }

  private bias(name: string, b: GraphTensor, outChannels: number): string {
    if (b.type !== 'int32' || !b.data || b.data.length !== outChannels * 4) {
      throw new UnsupportedModelError(`bias ${b.name} is not a constant int32 vector of ${outChannels}`);
    }
    this.initializers.push({ name, data_type: DataType.INT32, dims: [outChannels], raw_data: b.data.slice() });
    return name;
  }

  private floats(name: string, values: number[], dims: number[]): string {
    this.initializers.push({ name, data_type: DataType.FLOAT, dims, raw_data: new Uint8Array(Float32Array.from(values).buffer) });
    return name;
  }

  private scalar(name: string, type: DataTypeValue, value: number): string {
    const raw = type === DataType.UINT8 ? Uint8Array.of(value) : new Uint8Array(Int8Array.of(value).buffer);
    this.initializers.push({ name, data_type: type, dims: [], raw_data: raw });
    return name;
  }
}

function quantType(t: GraphTensor): DataTypeValue {
  const type = QUANT_TYPES[t.type];
  if (type === undefined) throw new UnsupportedModelError(`tensor ${t.name} is ${t.type}, not uint8 or int8`);
  return type;
}

/** TFLite's padding: SAME puts the odd pixel after (bottom, right), as SAME_UPPER does. */
function pads(x: GraphTensor, y: GraphTensor, kernel: [number, number], o: GraphOperator['options']): number[] {
  if (o.padding === 'valid') return [0, 0, 0, 0];
  const total = (inSize: number, outSize: number, k: number, stride: number, dilation: number) =>
    Math.max((outSize - 1) * stride + (k - 1) * dilation + 1 - inSize, 0);
  const th = total(x.shape[1]!, y.shape[1]!, kernel[0], o.strideH, o.dilationH);
  const tw = total(x.shape[2]!, y.shape[2]!, kernel[1], o.strideW, o.dilationW);
  return [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
}

/** The quantised range a fused activation allows, or null for none. */
function activationRange(activation: string, y: GraphTensor): [number, number] | null {
  const scale = y.scale[0] ?? 1;
  const zp = y.zeroPoint[0] ?? 0;
  const q = (v: number) => zp + Math.round(v / scale);
  if (activation === 'NONE') return null;
  if (activation === 'RELU') return [q(0), Infinity];
  if (activation === 'RELU6') return [q(0), q(6)];
  if (activation === 'RELU_N1_TO_1') return [q(-1), q(1)];
  throw new UnsupportedModelError(`unsupported fused activation ${activation} on ${y.name}`);
}

/** The output's quantisation, so that a runner can dequantise without the .tflite. */
function outputQuantization(tensors: GraphTensor[], outputs: number[]): Record<string, string> {
  const out = tensors[outputs[0] ?? -1];
  if (!out) return {};
  return { output_scale: String(out.scale[0] ?? 1), output_zero_point: String(out.zeroPoint[0] ?? 0) };
}

function int64Bytes(values: number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
}
