import type { CameraConfig, ClassifierConfig } from '../../src/config/types.js';

/** A camera config with the project's defaults, for tests. */
export function cameraConfig(overrides: Partial<CameraConfig> = {}): CameraConfig {
  return {
    url: 'rtsp://127.0.0.1:8554/cam',
    transport: 'tcp',
    fps: 5,
    roi: null,
    motion: { enabled: false, threshold: 0.02, max_skip_s: 5 },
    snapshot: { enabled: true, quality: 80, width: 640 },
    decode: 'all',
    input_args: [],
    hwaccel_args: [],
    stall_timeout: 20,
    enabled: true,
    ...overrides,
  };
}

export function classifierConfig(overrides: Partial<ClassifierConfig> = {}): ClassifierConfig {
  return {
    threshold: 0.5,
    margin: 0.02,
    fine_tune: false,
    vote: { window: 5, min_hits: 3 },
    off_delay_s: 3,
    ...overrides,
  };
}

export const INPUT_SIZE = { width: 224, height: 224 };
