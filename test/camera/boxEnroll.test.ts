import { enrollCounts } from '../helpers/enrollAnswer.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Commands } from '../../src/commands/commands.js';
import { CameraManager } from '../../src/pipeline/cameraManager.js';
import { image, testLogger, waitFor } from '../helpers/env.js';
import { startImprinting } from '../helpers/imprinting.js';
import { startRtspServer } from '../helpers/rtspServer.js';
import { cameraConfig } from './fixtures.js';
import { cameraRig } from './rig.js';

const rig = cameraRig('edge-imprint-box-');
const { dir } = rig;

/** A garden (the empty scene); a dog stands in its right part at 16-26 s and again from 34 s on
 * (the camera's unit takes its first scene look after 10 s of the garden). */
function sceneClip(): string {
  const clip = `${dir.path}/scene.mp4`;
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-loop', '1', '-framerate', '10', '-t', '50', '-i', image('sunflower.jpg'),
    '-loop', '1', '-framerate', '10', '-t', '50', '-i', image('dog_test_0.jpg'),
    '-filter_complex',
    "[0:v]scale=640:480,setsar=1[wall];[1:v]scale=224:224:force_original_aspect_ratio=increase,crop=224:224[dog];[wall][dog]overlay=x=384:y=208:enable='between(t,16,26)+gte(t,34)',format=yuv420p[out]",
    '-map', '[out]', '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-bf', '0', '-g', '10', clip,
  ], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return clip;
}

// Issue 16: the Live page's box promised that the camera recognises what it enrolled; it did not.
void test('a box enrolled on a camera without zones: the object leaves, comes back, and the camera reports its label', { timeout: 120_000 }, async () => {
  rig.core = await startImprinting({ dataDir: dir.path });
  const imp = rig.core.imprinter;
  const labels: string[] = [];
  rig.core.bus.on('cameraResult', (r) => void (labels.at(-1) !== r.label && labels.push(r.label)));
  rig.server = await startRtspServer({ file: sceneClip() });
  rig.manager = new CameraManager({
    // A short off delay: the dog's leaving shows as `none` before it comes back.
    config: { cameras: { door: cameraConfig({ url: rig.server.url, fps: 5, stall_timeout: 5 }) }, classifier: { ...rig.core.config.classifier, off_delay_s: 1 } },
    bus: rig.core.bus,
    logger: testLogger(),
    classify: (rgb, unit) => imp.classifyPixels(rgb, unit),
    observe: (unit, result, active) => imp.observe(unit, result, active),
    inputSize: rig.core.detector.inputSize,
  });
  const commands = new Commands({ imprinter: imp, limits: rig.core.config.limits, cameras: rig.manager, classes: imp, corrections: rig.core.core.corrections });
  await rig.manager.start();

  // The garden learned as the empty scene (`none`), then the dog walks in: something, no class yet.
  await waitFor(() => labels.includes('none') && labels.lastIndexOf('unknown') > labels.indexOf('none'), 40_000, () => `the scene learned, then the dog (labels: ${labels.join(' ')})`);
  const box = { x: 384 / 640, y: 208 / 480, width: 224 / 640, height: 224 / 480 };
  const job = commands.job('class/enroll', { label: 'rex', camera: 'door', box, frames: 1 });
  assert.deepEqual(enrollCounts(await job.run(new AbortController().signal)), { label: 'rex', shots: 1, added: 1 });

  // The dog leaves (the garden again), then comes back: the camera's unit knows it now.
  const left = labels.length;
  await waitFor(() => labels.indexOf('none', left) >= 0, 20_000, () => `the dog to leave (labels: ${labels.join(' ')})`);
  const back = labels.indexOf('none', left);
  await waitFor(() => labels.indexOf('rex', back) >= 0, 25_000, () => `rex reported when back (labels after it left: ${labels.slice(back).join(' ')})`);
});
