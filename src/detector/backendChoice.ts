import { basename } from 'node:path';
import { modelPath } from '../models/manifest.js';
import type { DetectorConfig } from '../config/types.js';
import { coralPresent } from './coralProbe.js';
import type { BackendKind, BackendSpec } from './protocol.js';
import type { DetectorInfo } from './types.js';

export interface Choice {
  kind: BackendKind;
  reason: string;
}

export interface ChoiceFacts {
  corals: { usb: number; pci: number };
  edgetpuModelPresent: boolean;
}

/** Pure decision for `detector.type`, with the reason that goes into the log line. */
export function chooseBackend(config: DetectorConfig, facts: ChoiceFacts): Choice {
  if (config.type === 'cpu') return { kind: 'cpu', reason: 'detector.type is cpu' };
  if (!facts.edgetpuModelPresent) {
    return { kind: 'cpu', reason: `the Edge TPU model ${config.model.edgetpu} is not installed (run: npx edge-imprint models)` };
  }
  if (config.type === 'edgetpu') return { kind: 'edgetpu', reason: 'detector.type is edgetpu' };
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
    device: config.device,
    library: config.edgetpu_library,
  };
}

/** What the logs, `state` and `stats` say about a backend: derived from its spec alone. */
export function backendInfo(spec: BackendSpec): DetectorInfo {
  return {
    type: spec.kind,
    device: spec.kind === 'cpu' ? `${spec.threads} threads` : spec.device || 'auto',
    model: basename(spec.modelPath),
    model_sha256: spec.modelSha256,
  };
}
