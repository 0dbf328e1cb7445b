import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { CameraManager } from '../../src/pipeline/cameraManager.js';
import { image, tempDir, testLogger, waitFor } from '../helpers/env.js';
import { startImprinting, type StartedImprinting } from '../helpers/imprinting.js';
import { buildTestClip, startRtspServer, type RtspServer } from '../helpers/rtspServer.js';
import { cameraConfig } from './fixtures.js';

const dir = tempDir('edge-imprint-seed-');
let server: RtspServer | null = null;
let core: StartedImprinting | null = null;
let manager: CameraManager | null = null;

after(async () => {
  await manager?.stop().catch(() => undefined);
  await core?.stop().catch(() => undefined);
  await server?.stop().catch(() => undefined);
  dir.cleanup();
});

// Issue 16: the seed's own check through a camera, with the shipped defaults (no lowered floor).
void test('one *_train_* photo per class, the *_test_* photos shown full frame over RTSP: each is reported', async () => {
  const clip = buildTestClip(dir.path, 'seed', {
    images: ['dog_test_0.jpg', 'cat_test_0.jpg', 'hotdog_test_0.jpg'].map(image),
    secondsEach: 4,
  });
  core = await startImprinting({ dataDir: dir.path });
  const imp = core.imprinter;
  for (const label of ['dog', 'cat', 'hotdog']) {
    await imp.enrollImages(label, [readFileSync(image(`${label}_train_0.jpg`))], { source: 'mqtt' });
  }
  const labels: string[] = [];
  const best = new Map<string, number>();
  core.bus.on('cameraResult', (r) => {
    if (labels.at(-1) !== r.label) labels.push(r.label);
    for (const [l, s] of Object.entries(r.scores ?? {})) best.set(l, Math.max(best.get(l) ?? -1, s));
  });
  const reported = new Set<string>();
  core.bus.on('detectionEvent', (e) => void (e.type === 'start' && reported.add(e.label)));
  server = await startRtspServer({ file: clip });
  // Wired as the app wires it: the camera's one unit (no zones), scene-aware, learning its scene.
  manager = new CameraManager({
    config: { cameras: { porch: cameraConfig({ url: server.url, fps: 5, stall_timeout: 5 }) }, classifier: core.config.classifier },
    bus: core.bus,
    logger: testLogger(),
    classify: (rgb, unit) => imp.classifyPixels(rgb, unit),
    observe: (unit, result, active) => imp.observe(unit, result, active),
    inputSize: core.detector.inputSize,
  });
  await manager.start();
  const scores = () => [...best].map(([l, s]) => `${l} ${s.toFixed(3)}`).join(', ');
  await waitFor(
    () => ['dog', 'cat', 'hotdog'].every((l) => reported.has(l)),
    30_000,
    () => `dog, cat and hotdog reported (reported: ${[...reported].join(' ')}; labels: ${labels.join(' ')}; best scores: ${scores()})`,
  );
});
