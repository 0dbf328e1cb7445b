import { enrollCounts } from '../helpers/enrollAnswer.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Commands } from '../../src/commands/commands.js';
import { CameraManager } from '../../src/pipeline/cameraManager.js';
import { testLogger, waitFor } from '../helpers/env.js';
import { startImprinting } from '../helpers/imprinting.js';
import { startRtspServer } from '../helpers/rtspServer.js';
import { cameraConfig, dogInGardenClip, DOG_BOX } from './fixtures.js';
import { cameraRig } from './rig.js';

const rig = cameraRig('edge-imprint-box-');
const { dir } = rig;

/** A garden (the empty scene); a dog stands in its right part at 16-26 s and again from 34 s on
 * (the camera's unit takes its first scene look after 10 s of the garden). */
const sceneClip = (): string => dogInGardenClip(`${dir.path}/scene.mp4`, 'between(t,16,26)+gte(t,34)', 50);

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
  const job = commands.job('class/enroll', { label: 'rex', camera: 'door', box: DOG_BOX, frames: 1 });
  assert.deepEqual(enrollCounts(await job.run(new AbortController().signal)), { label: 'rex', shots: 1, added: 1 });

  // The dog leaves (the garden again), then comes back: the camera's unit knows it now.
  const left = labels.length;
  await waitFor(() => labels.indexOf('none', left) >= 0, 20_000, () => `the dog to leave (labels: ${labels.join(' ')})`);
  const back = labels.indexOf('none', left);
  await waitFor(() => labels.indexOf('rex', back) >= 0, 25_000, () => `rex reported when back (labels after it left: ${labels.slice(back).join(' ')})`);
});
