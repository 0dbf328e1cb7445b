/**
 * A WebAssembly SIMD kernel for the classifier's one hot loop: the dot product of every
 * weight row with the embedding. V8 does not vectorise plain JS loops, and with 1000
 * classes x 1024 dimensions the scalar loop costs ~0.8 ms; four lanes at a time cut that
 * several-fold. The module is a few dozen bytes, written out below instruction by
 * instruction, so there is no build step and no file to load.
 *
 * exported function dots(matrix, rows, dim, v, out): out[r] = sum_i matrix[r*dim + i] * v[i]
 * (all pointers are byte offsets into the imported memory, dim a multiple of 4, f32 output).
 */

const I32 = 0x7f;
const V128 = 0x7b;
const SIMD = 0xfd;
const op = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  get: 0x20,
  set: 0x21,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Mul: 0x6c,
  i32Shl: 0x74,
  f32Add: 0x92,
  f32Store: 0x38,
};
// Locals: 0 matrix, 1 rows, 2 dim, 3 v, 4 out (params); 5 r, 6 i, 7 row pointer (i32); 8 sum (v128).
const [MATRIX, ROWS, DIM, V, OUT, R, I, ROW, SUM] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(s: string): number[] {
  return [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
}

/** base + index * 4 (a float's byte address). */
function address(base: number, index: number): number[] {
  return [op.get, base, op.get, index, op.i32Const, 2, op.i32Shl, op.i32Add];
}

function body(): number[] {
  const v128Load = [SIMD, 0x00, 2, 0]; // align 2^2, offset 0
  const f32x4Add = [SIMD, 0xe4, 0x01];
  const f32x4Mul = [SIMD, 0xe6, 0x01];
  const lane = (k: number): number[] => [op.get, SUM, SIMD, 0x1f, k]; // f32x4.extract_lane k
  const zero = [SIMD, 0x0c, ...new Array<number>(16).fill(0)]; // v128.const 0
  const inner = [
    op.block, 0x40, op.loop, 0x40,
    op.get, I, op.get, DIM, op.i32GeU, op.brIf, 1,
    op.get, SUM,
    ...address(ROW, I), ...v128Load,
    ...address(V, I), ...v128Load,
    ...f32x4Mul, ...f32x4Add, op.set, SUM,
    op.get, I, op.i32Const, 4, op.i32Add, op.set, I,
    op.br, 0,
    op.end, op.end,
  ]; // prettier-ignore
  const code = [
    op.block, 0x40, op.loop, 0x40,
    op.get, R, op.get, ROWS, op.i32GeU, op.brIf, 1,
    op.get, MATRIX, op.get, R, op.get, DIM, op.i32Mul, op.i32Const, 2, op.i32Shl, op.i32Add, op.set, ROW,
    ...zero, op.set, SUM,
    op.i32Const, 0, op.set, I,
    ...inner,
    ...address(OUT, R),
    ...lane(0), ...lane(1), op.f32Add, ...lane(2), op.f32Add, ...lane(3), op.f32Add,
    op.f32Store, 2, 0,
    op.get, R, op.i32Const, 1, op.i32Add, op.set, R,
    op.br, 0,
    op.end, op.end,
    op.end,
  ]; // prettier-ignore
  const locals = [2, 3, I32, 1, V128]; // two groups: 3 x i32, 1 x v128
  const fn = [...locals, ...code];
  return [...uleb(fn.length), ...fn];
}

function moduleBytes(): Uint8Array {
  const types = section(1, [1, 0x60, 5, I32, I32, I32, I32, I32, 0]);
  const imports = section(2, [1, ...name('e'), ...name('m'), 0x02, 0x00, 0x00]); // memory, min 0 pages
  const functions = section(3, [1, 0]);
  const exports = section(7, [1, ...name('dots'), 0x00, 0]);
  const code = section(10, [1, ...body()]);
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...functions, ...exports, ...code]);
}

/** The part of the WebAssembly global used here (the project's lib settings do not declare it). */
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

function wasmApi(): WasmApi | undefined {
  return (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
}

/** Row-major weights held in WebAssembly memory, scored four lanes at a time. */
export class SimdDots {
  private readonly matrixView: Float32Array;
  private readonly vView: Float32Array;
  private readonly outView: Float32Array;
  private readonly dots: (m: number, rows: number, dim: number, v: number, out: number) => void;

  private constructor(
    wasm: WasmApi,
    private readonly rows: number,
    private readonly dim: number,
    matrix: Float32Array,
  ) {
    const matrixBytes = rows * dim * 4;
    const total = matrixBytes + dim * 4 + rows * 4;
    const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(total / 65536)) });
    const instance = new wasm.Instance(new wasm.Module(moduleBytes()), { e: { m: memory } });
    this.dots = instance.exports.dots as SimdDots['dots'];
    this.matrixView = new Float32Array(memory.buffer, 0, rows * dim);
    this.vView = new Float32Array(memory.buffer, matrixBytes, dim);
    this.outView = new Float32Array(memory.buffer, matrixBytes + dim * 4, rows);
    this.matrixView.set(matrix);
  }

  /** A kernel for this matrix, or undefined when SIMD WebAssembly is unavailable or dim is not a multiple of 4. */
  static create(matrix: Float32Array, rows: number, dim: number): SimdDots | undefined {
    const wasm = wasmApi();
    if (dim % 4 !== 0 || rows === 0 || !wasm) return undefined;
    try {
      return new SimdDots(wasm, rows, dim, matrix);
    } catch {
      return undefined;
    }
  }

  /** out[r] = row r . v */
  score(v: Float32Array, out: Float64Array): void {
    this.vView.set(v);
    this.dots(0, this.rows, this.dim, this.matrixView.byteLength, this.matrixView.byteLength + this.dim * 4);
    for (let r = 0; r < this.rows; r++) out[r] = this.outView[r]!;
  }
}
