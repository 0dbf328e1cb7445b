/**
 * A pixel `box` (class/enroll with a camera) means pixels of the camera's stream on every
 * camera, not pixels of its 640-px snapshot (issue 18, item 8): a real 1280x720 RTSP stream,
 * a camera without zones, the top-left quadrant in pixels cut as the same quadrant in fractions.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { isAppError } from '../../src/errors.js';
import { EventBus } from '../../src/eventBus.js';
import { cropToInput } from '../../src/media/crops.js';
import { CameraManager } from '../../src/pipeline/cameraManager.js';
import type { Classification } from '../../src/recognition/types.js';
import { image, tempDir, testLogger, waitFor } from '../helpers/env.js';
import { buildTestClip, startRtspServer, type RtspServer } from '../helpers/rtspServer.js';
import { cameraConfig, classifierConfig, INPUT_SIZE } from '../camera/fixtures.js';

const dir = tempDir('edge-imprint-pixelbox-');
let server: RtspServer;

before(async () => {
  // One still picture, so every snapshot shows the same scene.
  const clip = buildTestClip(dir.path, 'wide', { images: [image('cat_test_0.jpg')], width: 1280, height: 720, secondsEach: 4, repeat: 20 });
  server = await startRtspServer({ file: clip });
});

after(async () => {
  await server?.stop().catch(() => undefined);
  dir.cleanup();
});

async function nothing(): Promise<Classification> {
  return { label: 'none', score: 0, scores: {} };
}

/** Mean absolute difference of two model inputs, per byte. */
function difference(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

void test('a pixel box on a camera without pixel zones is read in the stream\'s pixels, not the snapshot\'s', async () => {
  const manager = new CameraManager({
    config: { cameras: { door: cameraConfig({ url: server.url, fps: 5 }) }, classifier: classifierConfig() },
    bus: new EventBus(testLogger()),
    logger: testLogger(),
    classify: nothing,
    inputSize: INPUT_SIZE,
  });
  try {
    await manager.start();
    const snapshot = await waitFor(() => manager.latestSnapshot('door') ?? undefined, 20_000, 'a snapshot');
    assert.equal((await sharp(snapshot).metadata()).width, 640, 'the snapshot is scaled: it differs from the stream');
    await waitFor(() => manager.latestFrame('door'), 10_000, 'a live frame');
    assert.deepEqual(manager.sourceSize('door'), { width: 1280, height: 720 });

    const pixels = await manager.latestFrame('door', { box: { x: 0, y: 0, width: 640, height: 360 } });
    const fractions = await manager.latestFrame('door', { box: { x: 0, y: 0, width: 0.5, height: 0.5 } });
    const whole = await manager.latestFrame('door', { box: { x: 0, y: 0, width: 1, height: 1 } });
    assert.ok(pixels && fractions && whole);
    const same = difference(pixels.rgb, fractions.rgb);
    const other = difference(pixels.rgb, whole.rgb);
    assert.ok(same < 6, `640x360 px is the top-left quadrant of the 1280x720 stream (differs by ${same.toFixed(1)} per byte)`);
    assert.ok(other > 4 * same + 10, `not the whole 640x360 snapshot (${other.toFixed(1)} vs ${same.toFixed(1)})`);
    // The bottom-right quadrant in pixels lies beyond the snapshot's 640x360, yet inside the stream.
    assert.ok(await manager.latestFrame('door', { box: { x: 640, y: 360, width: 640, height: 360 } }));
  } finally {
    await manager.stop();
  }
});

void test('a pixel box while the stream\'s size is not known is refused, naming the box and what to do', async () => {
  const jpeg = await sharp({ create: { width: 640, height: 360, channels: 3, background: '#336699' } }).jpeg().toBuffer();
  await assert.rejects(
    cropToInput(jpeg, { x: 10, y: 10, width: 100, height: 100 }, null, INPUT_SIZE),
    (e) => isAppError(e) && e.field === 'box' && /in pixels of the camera's stream, whose size is not known yet.*fractions/.test(e.message),
  );
  // Fractions need no stream size.
  assert.equal((await cropToInput(jpeg, { x: 0, y: 0, width: 0.5, height: 0.5 }, null, INPUT_SIZE)).length, 224 * 224 * 3);
});
