/** Messages between the supervising agent and the inference child (IPC, advanced serialisation). */
import type { InputSize } from '../media/image.js';

export type BackendKind = 'cpu' | 'edgetpu';
/** What runs the CPU model: onnxruntime on its exact ONNX conversion, or TFLite (the reference). */
export type CpuRuntime = 'onnx' | 'tflite';
/** What answers inferences: the Edge TPU (through TFLite), or a CPU runtime. */
export type RunningBackend = 'coral' | CpuRuntime;

export interface BackendSpec {
  kind: BackendKind;
  modelPath: string;
  modelSha256: string;
  threads: number;
  /** CPU only: the runtime asked for; (default TFLite) the child falls back to TFLite when onnxruntime fails. */
  runtime?: CpuRuntime;
  /** Edge TPU only: `detector.device` and `detector.edgetpu_library` (empty: the platform's name). */
  device: string;
  library: string;
}

export type ToChild =
  | { type: 'init'; spec: BackendSpec }
  | { type: 'embed'; id: number; rgb: Uint8Array }
  /** Several crops (a frame's zones) in one inference; answered by one `results`. */
  | { type: 'embedBatch'; id: number; rgbs: Uint8Array[] };

export type FromChild =
  /** `fallback`: why the runtime asked for did not start and TFLite runs instead. */
  | { type: 'ready'; inputSize: InputSize; backend: RunningBackend; fallback?: string }
  | { type: 'result'; id: number; embedding: Float32Array; inferenceMs: number }
  | { type: 'results'; id: number; embeddings: Float32Array[]; inferenceMs: number }
  | { type: 'failed'; id: number; message: string }
  /** The backend cannot run here at all (no libedgetpu, no model); retrying will not help soon. */
  | { type: 'unavailable'; message: string };
