/** The object found in a photo by its border (recognition/photoObject.ts), on real photos as the place. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import type { Raster } from '../../src/recognition/foreground.js';
import { photoObject } from '../../src/recognition/photoObject.js';
import { image } from '../helpers/env.js';

const W = 320;
const H = 240;

async function photo(name: string): Promise<Raster> {
  const { data } = await sharp(image(name)).resize(W, H, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: W, height: H };
}

/** `base` with an ellipse in two colours (a striped object) painted in, box in pixels. */
function withObject(base: Raster, r: { x: number; y: number; w: number; h: number }): Raster {
  const data = Uint8Array.from(base.data);
  for (let y = r.y; y < r.y + r.h; y++) {
    for (let x = r.x; x < r.x + r.w; x++) {
      const dx = (x - r.x - r.w / 2) / (r.w / 2);
      const dy = (y - r.y - r.h / 2) / (r.h / 2);
      if (dx * dx + dy * dy > 1 || x < 0 || y < 0 || x >= W || y >= H) continue;
      data.set(Math.floor((y - r.y) / 8) % 2 ? [230, 30, 200] : [20, 40, 240], (y * W + x) * 3);
    }
  }
  return { data, width: W, height: H };
}

const at = (v: Raster, x: number, y: number): number[] => [...v.data.subarray((y * v.width + x) * 3, (y * v.width + x) * 3 + 3)];

describe('photoObject: the object of a photo, told from the place by the border', () => {
  it('finds an object standing on the bottom edge, keeps its pixels and greys the place', async () => {
    const object = { x: 110, y: 90, w: 100, h: 150 };
    const v = photoObject(withObject(await photo('sunflower.jpg'), object));
    assert.ok(v, 'an object is found');
    // Its box: the ellipse (touching the bottom edge) plus the margin, nothing of the place beyond.
    const [bx, by, bw, bh] = [v.box.x * W, v.box.y * H, v.box.width * W, v.box.height * H];
    assert.ok(bx <= object.x && bx + bw >= object.x + object.w, `box x ${bx}..${bx + bw}`);
    assert.ok(by <= object.y + 2 && by + bh >= H - 1, `box y ${by}..${by + bh}`);
    // The margin is 10 % of the longer side each way; a few pixels of blur and place join the blob.
    const margin = 0.2 * object.h + 20;
    assert.ok(bw < object.w + margin && bh < object.h + margin, `box ${bw}x${bh} hugs the object`);
    assert.equal(v.square.width, v.square.height);
    const c = Math.round(v.square.width / 2);
    assert.notDeepEqual(at(v.square, c, c), [128, 128, 128], 'the middle is the object');
    assert.deepEqual(at(v.square, 1, 1), [128, 128, 128], 'a corner is the place, greyed');
  });

  it('finds the flower in a real photo of a sunflower against leaves and sky', async () => {
    const v = photoObject(await photo('sunflower.jpg'));
    assert.ok(v);
    const cx = v.box.x + v.box.width / 2;
    const cy = v.box.y + v.box.height / 2;
    assert.ok(cx > 0.35 && cx < 0.65 && cy > 0.3 && cy < 0.7, `centred on the flower (${cx.toFixed(2)}, ${cy.toFixed(2)})`);
    assert.ok(v.box.width < 0.6 && v.box.height < 0.8, 'not the whole photo');
    const c = Math.round(v.square.width / 2);
    assert.notDeepEqual(at(v.square, c, c), [128, 128, 128]);
  });

  it('finds nothing in a plain picture, nor in one its content fills edge to edge', async () => {
    const grey: Raster = { data: new Uint8Array(W * H * 3).fill(90), width: W, height: H };
    assert.equal(photoObject(grey), null);
    const blank: Raster = { data: new Uint8Array(W * H * 3).fill(90), width: W, height: H };
    assert.equal(photoObject(withObject(blank, { x: -40, y: -40, w: W + 80, h: H + 80 })), null);
  });
});
