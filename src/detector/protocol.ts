/** Messages between the supervising agent and the inference child (IPC, advanced serialisation). */
import type { InputSize } from '../media/image.js';

export type BackendKind = 'cpu' | 'edgetpu';

export interface BackendSpec {
  kind: BackendKind;
  modelPath: string;
  modelSha256: string;
  threads: number;
  /** Edge TPU only: `detector.device` and `detector.edgetpu_library` (empty: the platform's name). */
  device: string;
  library: string;
}

export type ToChild = { type: 'init'; spec: BackendSpec } | { type: 'embed'; id: number; rgb: Uint8Array };

export type FromChild =
  | { type: 'ready'; inputSize: InputSize }
  | { type: 'result'; id: number; embedding: Float32Array; inferenceMs: number }
  | { type: 'failed'; id: number; message: string }
  /** The backend cannot run here at all (no libedgetpu, no model); retrying will not help soon. */
  | { type: 'unavailable'; message: string };
