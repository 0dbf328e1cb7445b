/**
 * Reads the input and output tensors of a .tflite file straight from its flatbuffer
 * (schema: tensorflow/lite/schema/schema.fbs). tfjs-tflite-node exposes no
 * quantisation parameters, and hard-coding them would silently break with another model.
 */

export interface Quantization {
  scale: number;
  zeroPoint: number;
}

export interface TensorDescription {
  name: string;
  type: string;
  shape: number[];
  quantization: Quantization | null;
}

export interface TfliteInfo {
  inputs: TensorDescription[];
  outputs: TensorDescription[];
  /** Custom operators (e.g. `edgetpu-custom-op`), which need a delegate to run. */
  customOps: string[];
}

const TENSOR_TYPES = ['float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16'];
TENSOR_TYPES[9] = 'int8';

/** A bounds-checked view over flatbuffer tables and vectors. */
class FlatReader {
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private check(pos: number, size: number): void {
    if (pos < 0 || pos + size > this.bytes.byteLength) {
      throw new Error(`offset ${pos} is outside the file (${this.bytes.byteLength} bytes)`);
    }
  }

  u8(pos: number): number {
    this.check(pos, 1);
    return this.view.getUint8(pos);
  }
  u16(pos: number): number {
    this.check(pos, 2);
    return this.view.getUint16(pos, true);
  }
  i32(pos: number): number {
    this.check(pos, 4);
    return this.view.getInt32(pos, true);
  }
  u32(pos: number): number {
    this.check(pos, 4);
    return this.view.getUint32(pos, true);
  }
  f32(pos: number): number {
    this.check(pos, 4);
    return this.view.getFloat32(pos, true);
  }
  i64(pos: number): number {
    this.check(pos, 8);
    return Number(this.view.getBigInt64(pos, true));
  }

  /** Position of a table field, or null when the field is absent (default value). */
  field(table: number, index: number): number | null {
    const vtable = table - this.i32(table);
    const vtableSize = this.u16(vtable);
    const slot = 4 + index * 2;
    if (slot >= vtableSize) return null;
    const offset = this.u16(vtable + slot);
    return offset === 0 ? null : table + offset;
  }

  indirect(pos: number): number {
    return pos + this.u32(pos);
  }

  /** Start and length of a vector referenced from a field. */
  vector(table: number, index: number): { start: number; length: number } | null {
    const pos = this.field(table, index);
    if (pos === null) return null;
    const vec = this.indirect(pos);
    return { start: vec + 4, length: this.u32(vec) };
  }

  tables(table: number, index: number): number[] {
    const vec = this.vector(table, index);
    if (!vec) return [];
    return Array.from({ length: vec.length }, (_, i) => this.indirect(vec.start + i * 4));
  }

  string(table: number, index: number): string {
    const vec = this.vector(table, index);
    if (!vec) return '';
    this.check(vec.start, vec.length);
    return new TextDecoder().decode(this.bytes.subarray(vec.start, vec.start + vec.length));
  }
}

function readQuantization(r: FlatReader, tensor: number): Quantization | null {
  const qPos = r.field(tensor, 4);
  if (qPos === null) return null;
  const q = r.indirect(qPos);
  const scales = r.vector(q, 2);
  const zeros = r.vector(q, 3);
  if (!scales || scales.length === 0) return null;
  // Per-tensor quantisation only: embeddings and inputs are never per-channel.
  const scale = r.f32(scales.start);
  const zeroPoint = zeros && zeros.length > 0 ? r.i64(zeros.start) : 0;
  return { scale, zeroPoint };
}

function readTensor(r: FlatReader, tensor: number): TensorDescription {
  const shapeVec = r.vector(tensor, 0);
  const shape = shapeVec ? Array.from({ length: shapeVec.length }, (_, i) => r.i32(shapeVec.start + i * 4)) : [];
  const typePos = r.field(tensor, 1);
  const typeCode = typePos === null ? 0 : r.u8(typePos);
  return {
    name: r.string(tensor, 3),
    type: TENSOR_TYPES[typeCode] ?? `type${typeCode}`,
    shape,
    quantization: readQuantization(r, tensor),
  };
}

function readIndices(r: FlatReader, table: number, index: number): number[] {
  const vec = r.vector(table, index);
  if (!vec) return [];
  return Array.from({ length: vec.length }, (_, i) => r.i32(vec.start + i * 4));
}

function readCustomOps(r: FlatReader, model: number): string[] {
  // OperatorCode.custom_code is field 1; builtin CUSTOM is 32.
  return r
    .tables(model, 1)
    .map((code) => r.string(code, 1))
    .filter((name) => name.length > 0);
}

export function parseTflite(bytes: Uint8Array): TfliteInfo {
  if (bytes.byteLength < 8) throw new Error('file is too small to be a TFLite model');
  const ident = new TextDecoder().decode(bytes.subarray(4, 8));
  if (ident !== 'TFL3') throw new Error('not a TFLite model (no TFL3 identifier)');
  const r = new FlatReader(bytes);
  const model = r.indirect(0);
  const subgraph = r.tables(model, 2)[0];
  if (subgraph === undefined) throw new Error('TFLite model has no subgraph');
  const tensors = r.tables(subgraph, 0);
  const describe = (i: number): TensorDescription => {
    const t = tensors[i];
    if (t === undefined) throw new Error(`tensor index ${i} out of range`);
    return readTensor(r, t);
  };
  return {
    inputs: readIndices(r, subgraph, 1).map(describe),
    outputs: readIndices(r, subgraph, 2).map(describe),
    customOps: readCustomOps(r, model),
  };
}
