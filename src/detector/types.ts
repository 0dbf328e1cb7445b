/** The small interface every inference backend and the supervised detector share. */
import type { InputSize } from '../media/image.js';
import type { DetectorState } from './state.js';

export interface DetectorInfo {
  type: 'edgetpu' | 'cpu';
  device: string; // e.g. "usb", "pci:0", or "2 threads" for the CPU
  model: string; // file name of the model in use
  model_sha256: string;
  /** What answers inferences: the Edge TPU, or the CPU runtime running now (after any fallback). */
  backend: 'coral' | 'onnx' | 'tflite';
}

export interface DetectorStats {
  inference_ms: number; // moving average
  restarts: number;
}

export interface Detector {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Model input size; frames and images are resized to this before `embed`. */
  readonly inputSize: InputSize;
  /** Whether inferences are answered now; see state.ts. */
  readonly state: DetectorState;
  /** RGB bytes of exactly width*height*3 → L2-normalised float embedding. */
  embed(rgb: Uint8Array): Promise<Float32Array>;
  info(): DetectorInfo;
  stats(): DetectorStats;
}
