/**
 * Pictures of a camera's own view (an automation's `camera.snapshot`, the dashboard's picture)
 * give the object in them, cut out against the camera's empty view; other pictures give nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import type { RawFrame } from '../../src/camera/cameraSource.js';
import { EmptyView, FOLLOW_EVERY_MS, objectInSnapshot, SAME_VIEW } from '../../src/pipeline/regionCrops.js';
import { decodeRaster, rasterToInput } from '../../src/media/crops.js';
import { proposeRegions } from '../../src/recognition/regions.js';
import { image } from '../helpers/env.js';
import { INPUT_SIZE } from '../camera/fixtures.js';

const W = 640;
const H = 360;
const DOG = { left: 400, top: 120, width: 160, height: 160 };

const garden = (): Promise<Buffer> => sharp(image('sunflower.jpg')).resize(W, H, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();

async function gardenWithDog(width = W, height = H): Promise<Buffer> {
  const dog = await sharp(image('dog_test_0.jpg')).resize(DOG.width, DOG.height, { fit: 'cover' }).toBuffer();
  const view = await sharp(await garden()).composite([{ input: dog, left: DOG.left, top: DOG.top }]).jpeg({ quality: 90 }).toBuffer();
  return width === W ? view : sharp(view).resize(width, height).jpeg({ quality: 90 }).toBuffer();
}

/** A camera frame whose snapshot is `jpeg` (only what EmptyView reads). */
function frameOf(jpeg: Buffer): RawFrame {
  return { camera: 'yard', rgb: new Uint8Array(0), crops: [], at: 0, seq: 0, snapshot: () => Promise.resolve(jpeg), pairedSnapshot: true };
}

async function emptyView(): Promise<EmptyView> {
  const view = new EmptyView();
  view.update(frameOf(await garden()), false);
  return view;
}

describe('objectInSnapshot', () => {
  it('cuts the object out of a picture of the camera\'s view, at the model\'s input, with its box', async () => {
    const found = await objectInSnapshot(await gardenWithDog(), [{ camera: 'yard', empty: await emptyView() }], INPUT_SIZE);
    assert.ok(found, 'the dog in the garden');
    assert.equal(found.camera, 'yard');
    const b = found.box;
    const dog = { x: DOG.left / W, y: DOG.top / H, width: DOG.width / W, height: DOG.height / H };
    assert.ok(b.x <= dog.x + 0.01 && b.y <= dog.y + 0.01 && b.x + b.width >= dog.x + dog.width - 0.01 && b.y + b.height >= dog.y + dog.height - 0.01, `box ${JSON.stringify(b)} holds the dog`);
    assert.ok(b.width < 2 * dog.width && b.height < 2 * dog.height, `box ${JSON.stringify(b)} is the dog's, not the view's`);
    const meta = await sharp(found.png).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', INPUT_SIZE.width, INPUT_SIZE.height]);
  });

  it('reads a picture at the stream\'s full size against the smaller snapshot', async () => {
    const found = await objectInSnapshot(await gardenWithDog(1280, 720), [{ camera: 'yard', empty: await emptyView() }], INPUT_SIZE);
    assert.ok(found);
  });

  it('gives nothing for a photo of somewhere else, for the empty view itself, or before the camera knows its empty view', async () => {
    const views = [{ camera: 'yard', empty: await emptyView() }];
    const elsewhere = await sharp(image('cat_720p.jpg')).resize(W, H, { fit: 'fill' }).jpeg().toBuffer();
    assert.equal(await objectInSnapshot(elsewhere, views, INPUT_SIZE), null);
    assert.equal(await objectInSnapshot(await garden(), views, INPUT_SIZE), null);
    assert.equal(await objectInSnapshot(await gardenWithDog(), [{ camera: 'yard', empty: new EmptyView() }], INPUT_SIZE), null);
    assert.ok(SAME_VIEW > 0);
  });

  it('finds a faint, thin object that no cell of the usual proposals shows', async () => {
    // A grey wall, and a line 8 px wide (a fifth of a grid cell) 40 levels darker: its cells
    // change by about 8 levels, under the usual bar (10), over the picture's (7).
    const wall = (): ReturnType<typeof sharp> => sharp({ create: { width: W, height: H, channels: 3, background: { r: 128, g: 128, b: 128 } } });
    const empty = await wall().jpeg({ quality: 95 }).toBuffer();
    const line = await sharp({ create: { width: 8, height: 160, channels: 3, background: { r: 88, g: 88, b: 88 } } }).png().toBuffer();
    const withLine = await wall().composite([{ input: line, left: 408, top: 120 }]).jpeg({ quality: 95 }).toBuffer();
    const [a, b] = await Promise.all([withLine, empty].map(async (j) => rasterToInput(await decodeRaster(j), INPUT_SIZE)));
    assert.deepEqual(proposeRegions(a!, b!, INPUT_SIZE), [], 'too faint for the usual bar');
    const view = new EmptyView();
    view.update(frameOf(empty), false);
    const found = await objectInSnapshot(withLine, [{ camera: 'yard', empty: view }], INPUT_SIZE);
    assert.ok(found, 'the line is found');
    const mid = found.box.x + found.box.width / 2;
    assert.ok(Math.abs(mid - 412 / W) < 0.02, `box ${JSON.stringify(found.box)} is round the line`);
  });

  it('keeps the view before a still object was taken into the scene', async () => {
    const view = await emptyView();
    view.update(frameOf(await gardenWithDog()), true);
    const rasters = await view.rasters();
    assert.equal(rasters.length, 2, 'the dog-in-garden view, then the garden');
  });
});

describe('EmptyView.follow', () => {
  const mean = (r: { data: Uint8Array; width: number }, x0: number, x1: number): number => {
    let sum = 0;
    let n = 0;
    for (let i = 0; i < r.data.length; i += 3) {
      const x = (i / 3) % r.width;
      if (x >= x0 && x < x1) [sum, n] = [sum + r.data[i]!, n + 1];
    }
    return sum / n;
  };

  it('takes the steady cells of the unit from a later frame\'s own snapshot, at most every FOLLOW_EVERY_MS', async () => {
    const view = await emptyView();
    const before = (await view.raster())!;
    const dusk = await sharp(await garden()).linear(0.6, 0).jpeg({ quality: 90 }).toBuffer();
    const everyCell = new Uint8Array(256).fill(1);
    view.follow(frameOf(dusk), everyCell, { x: 0, y: 0, width: 0.5, height: 1 }, 10_000);
    const after = (await view.raster())!;
    assert.ok(mean(after, 0, W / 2) < 0.7 * mean(before, 0, W / 2), 'the unit\'s half follows the dusk');
    assert.ok(Math.abs(mean(after, W / 2, W) - mean(before, W / 2, W)) < 1, 'the rest of the frame is left as it was');
    view.follow(frameOf(dusk), everyCell, { x: 0, y: 0, width: 1, height: 1 }, 10_000 + FOLLOW_EVERY_MS - 1);
    assert.ok(Math.abs(mean((await view.raster())!, W / 2, W) - mean(before, W / 2, W)) < 1, 'too soon: not followed again');
    view.follow({ ...frameOf(dusk), pairedSnapshot: false }, everyCell, { x: 0, y: 0, width: 1, height: 1 }, 10_000 + FOLLOW_EVERY_MS);
    assert.ok(Math.abs(mean((await view.raster())!, W / 2, W) - mean(before, W / 2, W)) < 1, 'the newest snapshot, not this frame\'s: not followed');
    view.follow(frameOf(dusk), everyCell, { x: 0, y: 0, width: 1, height: 1 }, 10_000 + FOLLOW_EVERY_MS);
    assert.ok(mean((await view.raster())!, W / 2, W) < 0.7 * mean(before, W / 2, W), 'later: the whole frame follows');
  });

  it('keeps the pixels of cells that are not steady', async () => {
    const view = await emptyView();
    const before = (await view.raster())!;
    const dusk = await sharp(await garden()).linear(0.6, 0).jpeg({ quality: 90 }).toBuffer();
    view.follow(frameOf(dusk), new Uint8Array(256), { x: 0, y: 0, width: 1, height: 1 }, 10_000);
    assert.ok(Math.abs(mean((await view.raster())!, 0, W) - mean(before, 0, W)) < 1);
  });
});

describe('viewDifference', () => {
  it('evens out the light: the same view darker is the same view', async () => {
    const { viewDifference } = await import('../../src/recognition/regions.js');
    const toInput = async (jpeg: Buffer, gain = 1): Promise<Uint8Array> => new Uint8Array(await sharp(jpeg).resize(224, 224, { fit: 'fill' }).linear(gain, 0).removeAlpha().raw().toBuffer());
    const view = await garden();
    assert.ok(viewDifference(await toInput(view, 0.7), await toInput(view)) < 3);
    const elsewhere = await sharp(image('cat_720p.jpg')).jpeg().toBuffer();
    assert.ok(viewDifference(await toInput(elsewhere), await toInput(view)) > SAME_VIEW);
  });
});
