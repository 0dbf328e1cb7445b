import { spawnSync } from 'node:child_process';
import { defaultCameraConfig } from '../../src/config/load.js';
import type { CameraConfig, ClassifierConfig } from '../../src/config/types.js';
import { image } from '../helpers/env.js';

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

/**
 * A 640x480 garden (the empty scene) in which a dog stands in the right part (x 384-608,
 * y 208-432) while `dogOn` (an ffmpeg `enable` expression of t) holds, for `seconds`.
 */
export function dogInGardenClip(file: string, dogOn: string, seconds: number): string {
  const t = String(seconds);
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-loop', '1', '-framerate', '10', '-t', t, '-i', image('sunflower.jpg'),
    '-loop', '1', '-framerate', '10', '-t', t, '-i', image('dog_test_0.jpg'),
    '-filter_complex',
    `[0:v]scale=640:480,setsar=1[wall];[1:v]scale=224:224:force_original_aspect_ratio=increase,crop=224:224[dog];[wall][dog]overlay=x=384:y=208:enable='${dogOn}',format=yuv420p[out]`,
    '-map', '[out]', '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-bf', '0', '-g', '10', file,
  ], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ffmpeg failed: ${result.stderr}`);
  return file;
}

/** Where dogInGardenClip's dog stands, as fractions of the frame. */
export const DOG_BOX = { x: 384 / 640, y: 208 / 480, width: 224 / 640, height: 224 / 480 };
