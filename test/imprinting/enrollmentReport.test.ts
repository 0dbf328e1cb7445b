import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { defaultCameraConfig } from '../../src/config/load.js';
import { imageLimitsOf, prepareImage } from '../../src/media/image.js';
import type { EnrollResult } from '../../src/recognition/types.js';
import { image, tempDir } from '../helpers/env.js';
import { startImprinting, type StartedImprinting } from '../helpers/imprinting.js';

const read = (name: string): Buffer => readFileSync(image(name));
const codes = (r: EnrollResult): string[] => (r.warning ?? []).map((w) => w.code).sort();
const message = (r: EnrollResult, code: string): string => r.warning?.find((w) => w.code === code)?.message ?? '';

/** Enrollment answers say what was learned: where the class fires, and what looks wrong (still ok). */
describe('enrollment answers: recognised_in and warnings, real model and photos', () => {
  const dir = tempDir();
  let core: StartedImprinting;
  const door = { camera: 'door', zone: null };
  const yard = { camera: 'yard', zone: null };
  const pixels = async (name: string): Promise<Uint8Array> => (await prepareImage(read(name), core.detector.inputSize, imageLimitsOf(core.config.limits))).rgb;

  before(async () => {
    core = await startImprinting({
      dataDir: dir.path,
      config: (c) => ({
        ...c,
        detector: { ...c.detector, type: 'cpu' },
        classifier: { ...c.classifier, fine_tune: false },
        cameras: { door: defaultCameraConfig('rtsp://127.0.0.1/door'), yard: defaultCameraConfig('rtsp://127.0.0.1/yard') },
      }),
    });
  });
  after(async () => {
    await core.stop();
    dir.cleanup();
  });

  it('a photo class: recognised by its look on every camera unit, whole and in regions of the frame; the cat found in its close-ups', async () => {
    const cat = await core.imprinter.enrollImages('cat', [read('cat_train_0.jpg'), read('cat_720p.jpg')], { source: 'file:cat_train_0.jpg' });
    // The border search finds nothing in these close-ups (no edge shows the place alone); the salient-object model finds the cat.
    assert.deepEqual(codes(cat), []);
    assert.deepEqual(cat.recognised_in, [{ ...door, how: 'whole' }, { ...door, how: 'crop' }, { ...yard, how: 'whole' }, { ...yard, how: 'crop' }]);
    await core.imprinter.enrollImages('dog', [read('dog_train_0.jpg')], { source: 'test' });
  });

  it('no_scene: a camera unit that has not learned its empty scene knows the class by its look only', async () => {
    const bird = await core.imprinter.enrollPixels('bird', [{ rgb: await pixels('bird.jpg') }], { source: 'camera:door', unit: door });
    assert.deepEqual(codes(bird), ['no_scene']);
    assert.match(message(bird, 'no_scene'), /camera "door" has not learned its empty scene/);
    assert.deepEqual(bird.recognised_in, [{ ...door, how: 'whole' }, { ...yard, how: 'whole' }]);
  });

  it('duplicates_class and raises_thresholds: a second class of the same cat, with the classes and numbers', async () => {
    const before = core.imprinter.list().find((c) => c.label === 'cat')!.threshold;
    const kitty = await core.imprinter.enrollImages('kitty', [read('cat_test_0.jpg')], { source: 'test' });
    const after = core.imprinter.list().find((c) => c.label === 'cat')!.threshold;
    assert.ok(after > before, `cat ${before} → ${after}`);
    assert.deepEqual(codes(kitty), ['duplicates_class', 'raises_thresholds']);
    assert.match(message(kitty, 'duplicates_class'), /looks like class "cat" \(score 0\.\d\d, its threshold 0\.\d\d\)/);
    assert.match(message(kitty, 'raises_thresholds'), new RegExp(`"cat" ${before.toFixed(2)} → ${after.toFixed(2)}`));
    assert.doesNotMatch(message(kitty, 'raises_thresholds'), /"dog"/);
  });

  it('looks_like_scene: a photo a background class claims', async () => {
    const garden = await core.imprinter.enrollImages('garden', [read('sunflower.jpg')], { source: 'test', background: true });
    assert.deepEqual(garden.recognised_in, [], 'a background class reports none, never itself');
    const flower = await core.imprinter.enrollImages('flower', [read('sunflower.jpg')], { source: 'test' });
    assert.deepEqual(codes(flower), ['looks_like_scene']);
  });

  it('looks_like_scene: a camera frame within the unit\'s empty scene; a real object is taught by residual', async () => {
    // The garden is now every unit's empty scene; a frame of it, a few pixels changed, is that scene.
    const empty = Uint8Array.from(await pixels('sunflower.jpg'));
    for (let i = 0; i < 30; i++) empty[i] = 255 - empty[i]!;
    const nothing = await core.imprinter.enrollPixels('nothing', [{ rgb: empty }], { source: 'test', unit: door });
    // It is also the sunflower class "flower" again (duplicates_class, raises_thresholds): true, and beside the point here.
    assert.ok(codes(nothing).includes('looks_like_scene'), JSON.stringify(nothing.warning));
    assert.match(message(nothing, 'looks_like_scene'), /1 of 1 frames look like the empty scene of camera "door" \(distance 0\.\d\d, below 0\.10\)/);
    const hotdog = await core.imprinter.enrollPixels('hotdog', [{ rgb: await pixels('hotdog_train_0.jpg') }], { source: 'camera:door', unit: door });
    assert.ok(!codes(hotdog).includes('looks_like_scene'), JSON.stringify(hotdog.warning));
    assert.ok(!codes(hotdog).includes('no_scene'));
    assert.deepEqual(hotdog.recognised_in, [{ ...door, how: 'residual' }, { ...yard, how: 'whole' }]);
  });

  it('a drawn box: its unit learns it by residual, and every unit looks for it in regions of the frame (not by the whole frame: a cut-out is no view)', async () => {
    const box = await core.imprinter.enrollPixels('owl', [{ rgb: await pixels('owl.jpg'), unitRgb: await pixels('owl.jpg') }], { source: 'camera:door/box', unit: door });
    assert.deepEqual(box.recognised_in, [{ ...door, how: 'residual' }, { ...door, how: 'crop' }, { ...yard, how: 'crop' }]);
  });

  it('no_object_in_photo: a picture in which nothing stands out (defocused), and the answer says what to send instead', async () => {
    const blurred = await sharp(read('cat_720p.jpg')).blur(30).jpeg().toBuffer();
    const r = await core.imprinter.enrollImages('blur', [blurred, blurred], { source: 'test' });
    assert.ok(codes(r).includes('no_object_in_photo'), JSON.stringify(r.warning));
    assert.match(message(r, 'no_object_in_photo'), /no object stands out in any of the 2 pictures: cameras match this class with the whole picture.*background removed/);
  });
});
