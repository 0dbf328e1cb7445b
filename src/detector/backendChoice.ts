import { basename } from 'node:path';
import { modelPath } from '../models/manifest.js';
import type { DetectorConfig } from '../config/types.js';
import { coralPresent } from './coralProbe.js';
import type { BackendKind, BackendSpec, CpuRuntime, RunningBackend } from './protocol.js';
import type { DetectorInfo } from './types.js';

export interface Choice {
  kind: BackendKind;
  reason: string;
}

export interface ChoiceFacts {
  corals: { usb: number; pci: number };
  edgetpuModelPresent: boolean;
}

/**
 * Pure decision for `detector.type` and `detector.backend`, with the reason that goes into
 * the log line. backend onnx or tflite means the CPU whatever the type; backend coral reads
 * as type edgetpu; backend auto leaves the choice to the type.
 */
export function chooseBackend(config: DetectorConfig, facts: ChoiceFacts): Choice {
  if (config.backend === 'onnx' || config.backend === 'tflite') return { kind: 'cpu', reason: `detector.backend is ${config.backend}` };
  if (config.backend === 'coral') return chooseByType({ ...config, type: 'edgetpu' }, facts, 'detector.backend is coral');
  return chooseByType(config, facts, 'detector.type is edgetpu');
}

/** The CPU runtime: ONNX Runtime unless `detector.backend` asks for the TFLite reference. */
export function cpuRuntime(config: DetectorConfig): CpuRuntime {
  return config.backend === 'tflite' ? 'tflite' : 'onnx';
}

function chooseByType(config: DetectorConfig, facts: ChoiceFacts, edgetpuReason: string): Choice {
  if (config.type === 'cpu') return { kind: 'cpu', reason: 'detector.type is cpu' };
  if (!facts.edgetpuModelPresent) {
    return { kind: 'cpu', reason: `the Edge TPU model ${config.model.edgetpu} is not installed (run: npx edge-imprint models)` };
  }
  if (config.type === 'edgetpu') return { kind: 'edgetpu', reason: edgetpuReason };
  if (!coralPresent(config.device, facts.corals)) {
    const missing = config.device ? `no Coral at ${config.device}` : 'no Coral on USB or PCIe';
    return { kind: 'cpu', reason: `${missing} was found` };
  }
  return { kind: 'edgetpu', reason: `a Coral answered${config.device ? ` at ${config.device}` : ''}` };
}

export function backendSpec(
  kind: BackendKind,
  config: DetectorConfig,
  modelDir: string,
  sha256: Record<BackendKind, string>,
): BackendSpec {
  return {
    kind,
    modelPath: modelPath(modelDir, kind === 'cpu' ? config.model.cpu : config.model.edgetpu),
    modelSha256: sha256[kind],
    threads: config.threads,
    runtime: cpuRuntime(config),
    device: config.device,
    library: config.edgetpu_library,
  };
}

/** What the logs, `state` and `stats` say about a backend: its spec, and what the child runs. */
export function backendInfo(spec: BackendSpec, running?: RunningBackend): DetectorInfo {
  return {
    type: spec.kind,
    device: spec.kind === 'cpu' ? `${spec.threads} threads` : spec.device || 'auto',
    model: basename(spec.modelPath),
    model_sha256: spec.modelSha256,
    backend: running ?? (spec.kind === 'edgetpu' ? 'coral' : (spec.runtime ?? 'tflite')),
  };
}

/** The log line that says which backend runs and why. */
export function choiceLine(choice: Choice, config: DetectorConfig): string {
  if (choice.kind === 'edgetpu') return `using the Edge TPU (${config.device || 'first Coral'}) because ${choice.reason}`;
  return `using the CPU (${config.threads} threads) because ${choice.reason}; it runs on ${cpuRuntime(config) === 'onnx' ? 'ONNX Runtime' : 'TFLite'}`;
}
