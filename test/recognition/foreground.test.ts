import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { boxBlur, lightGain, objectView, type Raster } from '../../src/recognition/foreground.js';
import { image } from '../helpers/env.js';

const W = 320;
const H = 240;

/** A textured scene (a real photo), so "the same place" is not trivially flat. */
async function scene(): Promise<Raster> {
  const { data } = await sharp(image('cat_720p.jpg')).resize(W, H, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: W, height: H };
}

/** `base` with a solid-coloured rectangle (pixels) painted in, and every pixel scaled by `gain`. */
function withObject(base: Raster, r: { x: number; y: number; w: number; h: number }, colour: [number, number, number], gain = 1): Raster {
  const data = Uint8Array.from(base.data, (v) => Math.min(255, Math.round(v * gain)));
  for (let y = r.y; y < r.y + r.h; y++) for (let x = r.x; x < r.x + r.w; x++) data.set(colour, (y * W + x) * 3);
  return { data, width: W, height: H };
}

const at = (v: Raster, x: number, y: number): number[] => [...v.data.subarray((y * v.width + x) * 3, (y * v.width + x) * 3 + 3)];

describe('foreground: the object cut out against the empty view', () => {
  it('keeps the object, greys the place round it, and boxes it tightly (plus the margin)', async () => {
    const empty = await scene();
    const object = { x: 100, y: 60, w: 40, h: 80 };
    const frame = withObject(empty, object, [250, 20, 20]);
    // A loose box, as a coarse proposal would give.
    const v = objectView(frame, empty, { x: 80 / W, y: 40 / H, width: 100 / W, height: 130 / H });
    assert.ok(v);
    // Square, centred on the object: 80 px tall (84 with the blur's 2 px) + 10 % margin each side.
    assert.equal(v.square.width, v.square.height);
    assert.ok(Math.abs(v.square.width - 101) <= 3, `side ${v.square.width}`);
    const c = v.square.width / 2;
    assert.deepEqual(at(v.square, Math.round(c), Math.round(c)), [250, 20, 20]);
    // Beside the object (inside the square, outside the object): the scene is gone.
    assert.deepEqual(at(v.square, 2, Math.round(c)), [128, 128, 128]);
    const bx = v.box.x * W;
    const by = v.box.y * H;
    assert.ok(Math.abs(bx - (object.x - 10.5)) <= 3 && Math.abs(by - (object.y - 10.5)) <= 3, `box at ${bx}, ${by}`);
    assert.ok(Math.abs(v.box.height * H - 101) <= 4, `box height ${v.box.height * H}`);
  });

  it('finds nothing where nothing changed, even when the light did', async () => {
    const empty = await scene();
    const darker = withObject(empty, { x: 0, y: 0, w: 0, h: 0 }, [0, 0, 0], 0.8);
    for (const g of lightGain(darker, empty)) assert.ok(Math.abs(g - 0.8) < 0.02, `gain ${g}`);
    assert.equal(objectView(darker, empty, { x: 0.2, y: 0.2, width: 0.5, height: 0.5 }), null);
  });

  it('keeps the object square and centred when it stands at the frame edge', async () => {
    const empty = await scene();
    const frame = withObject(empty, { x: 0, y: 100, w: 30, h: 60 }, [20, 250, 20]);
    const v = objectView(frame, empty, { x: 0, y: 90 / H, width: 50 / W, height: 80 / H });
    assert.ok(v);
    assert.equal(v.square.width, v.square.height);
    assert.ok(v.box.x === 0 && v.box.width * W <= 42, `box ${JSON.stringify(v.box)}`);
    // The part of the square beyond the frame is grey, the object's pixels are there.
    assert.deepEqual(at(v.square, 0, Math.round(v.square.height / 2)), [128, 128, 128]);
    assert.deepEqual(at(v.square, Math.round(v.square.width / 2), Math.round(v.square.height / 2)), [20, 250, 20]);
  });

  it('refuses frames of different sizes', async () => {
    const empty = await scene();
    assert.throws(() => objectView({ data: new Uint8Array(30), width: 5, height: 2 }, empty, { x: 0, y: 0, width: 1, height: 1 }), /differ in size/);
  });

  it('blurs with a box that averages only the pixels that exist', () => {
    const v = Float32Array.from([0, 0, 9, 0, 0]);
    assert.deepEqual([...boxBlur(v, 5, 1, 1)], [0, 3, 3, 3, 0]);
    assert.deepEqual([...boxBlur(Float32Array.from([6, 0]), 2, 1, 1)], [3, 3]);
  });
});
