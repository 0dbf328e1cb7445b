import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const DEMO_CAMERA = 'demo';

/**
 * A short looping clip of ffmpeg's test pattern, made once in the data dir, so that a
 * first run with no camera configured still shows the whole pipeline working.
 */
export async function ensureDemoClip(dataDir: string, ffmpeg = 'ffmpeg'): Promise<string> {
  const path = join(dataDir, 'demo-camera.mkv');
  if (existsSync(path)) return path;
  await mkdir(dataDir, { recursive: true });
  const temp = `${path}.${process.pid}.tmp.mkv`;
  try {
    await run(ffmpeg, [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=10',
      '-t', '20', '-c:v', 'mjpeg', '-q:v', '5', temp,
    ]);
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
  return path;
}
