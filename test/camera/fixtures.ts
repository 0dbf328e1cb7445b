import { defaultCameraConfig } from '../../src/config/load.js';
import type { CameraConfig, ClassifierConfig } from '../../src/config/types.js';

/** A camera config with the project's defaults (at 5 fps), for tests. */
export function cameraConfig(overrides: Partial<CameraConfig> = {}): CameraConfig {
  return { ...defaultCameraConfig('rtsp://127.0.0.1:8554/cam'), fps: 5, ...overrides };
}

export function classifierConfig(overrides: Partial<ClassifierConfig> = {}): ClassifierConfig {
  return {
    threshold: 0.5,
    margin: 0.02,
    zone_threshold: 0.45,
    fine_tune: false,
    vote: { window: 5, min_hits: 3 },
    off_delay_s: 3,
    ...overrides,
  };
}

export const INPUT_SIZE = { width: 224, height: 224 };
