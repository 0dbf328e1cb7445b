import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CameraManager } from '../../src/pipeline/cameraManager.js';
import { image, testLogger, waitFor } from '../helpers/env.js';
import { startImprinting } from '../helpers/imprinting.js';
import { buildTestClip, startRtspServer } from '../helpers/rtspServer.js';
import { cameraConfig } from './fixtures.js';
import { cameraRig } from './rig.js';

const rig = cameraRig('edge-imprint-seed-');
const { dir } = rig;

// Issue 16: the seed's own check through a camera, with the shipped defaults (no lowered floor).
void test('one *_train_* photo per class, the *_test_* photos shown full frame over RTSP: each is reported', async () => {
  const clip = buildTestClip(dir.path, 'seed', {
    images: ['dog_test_0.jpg', 'cat_test_0.jpg', 'hotdog_test_0.jpg'].map(image),
    secondsEach: 4,
  });
  rig.core = await startImprinting({ dataDir: dir.path });
  const imp = rig.core.imprinter;
  for (const label of ['dog', 'cat', 'hotdog']) {
    await imp.enrollImages(label, [readFileSync(image(`${label}_train_0.jpg`))], { source: 'mqtt' });
  }
  const labels: string[] = [];
  const best = new Map<string, number>();
  rig.core.bus.on('cameraResult', (r) => {
    if (labels.at(-1) !== r.label) labels.push(r.label);
    for (const [l, s] of Object.entries(r.scores ?? {})) best.set(l, Math.max(best.get(l) ?? -1, s));
  });
  const reported = new Set<string>();
  rig.core.bus.on('detectionEvent', (e) => void (e.type === 'start' && reported.add(e.label)));
  rig.server = await startRtspServer({ file: clip });
  // Wired as the app wires it: the camera's one unit (no zones), scene-aware, learning its scene.
  rig.manager = new CameraManager({
    config: { cameras: { porch: cameraConfig({ url: rig.server.url, fps: 5, stall_timeout: 5 }) }, classifier: rig.core.config.classifier },
    bus: rig.core.bus,
    logger: testLogger(),
    classify: (rgb, unit) => imp.classifyPixels(rgb, unit),
    observe: (unit, result, active) => imp.observe(unit, result, active),
    inputSize: rig.core.detector.inputSize,
  });
  await rig.manager.start();
  const scores = () => [...best].map(([l, s]) => `${l} ${s.toFixed(3)}`).join(', ');
  await waitFor(
    () => ['dog', 'cat', 'hotdog'].every((l) => reported.has(l)),
    30_000,
    () => `dog, cat and hotdog reported (reported: ${[...reported].join(' ')}; labels: ${labels.join(' ')}; best scores: ${scores()})`,
  );
});
