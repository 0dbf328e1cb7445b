/** The object found in a photo by its border (recognition/photoObject.ts), on real photos as the place. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import type { Raster } from '../../src/recognition/foreground.js';
import { cutOutObject, photoObject, salientObject } from '../../src/recognition/photoObject.js';
import { decodePhoto } from '../../src/media/crops.js';
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

/** Opaque inside the ellipse (pixels), transparent elsewhere. */
function ellipseAlpha(r: { x: number; y: number; w: number; h: number }): Uint8Array {
  const alpha = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const dx = (x + 0.5 - r.x - r.w / 2) / (r.w / 2);
      const dy = (y + 0.5 - r.y - r.h / 2) / (r.h / 2);
      if (dx * dx + dy * dy <= 1) alpha[y * W + x] = 255;
    }
  }
  return alpha;
}

describe('cutOutObject: a photo whose background its sender removed', () => {
  it('is its opaque pixels on grey, whatever colours lie under the transparent ones', async () => {
    const busy = await photo('sunflower.jpg');
    const object = { x: 100, y: 60, w: 120, h: 160 };
    const v = cutOutObject(busy, ellipseAlpha(object));
    assert.ok(v);
    const [bx, by, bw, bh] = [v.box.x * W, v.box.y * H, v.box.width * W, v.box.height * H];
    assert.ok(bx <= object.x + 1 && bx + bw >= object.x + object.w - 1 && by <= object.y + 1 && by + bh >= object.y + object.h - 1, `box ${bx},${by} ${bw}x${bh} holds the object`);
    assert.ok(bw < object.w + 0.2 * object.h + 2 && bh < object.h + 0.2 * object.h + 2, `box ${bw}x${bh} hugs it`);
    const c = Math.round(v.square.width / 2);
    assert.deepEqual(at(v.square, c, c), at(busy, object.x + object.w / 2, object.y + object.h / 2), 'the middle keeps the photo\'s pixel');
    assert.deepEqual(at(v.square, 2, 2), [128, 128, 128], 'a corner is grey, not the hidden sunflower');
  });

  it('takes a cut-out trimmed to its object, edge to edge, which the border search would refuse', async () => {
    const v = cutOutObject(await photo('sunflower.jpg'), ellipseAlpha({ x: 0, y: 0, w: W, h: H }));
    assert.ok(v, 'the transparent corners still tell the object');
    assert.ok(v.box.width > 0.95 && v.box.height > 0.95);
  });

  it('is no cut-out when (almost) nothing is transparent, or almost nothing opaque', async () => {
    const p = await photo('sunflower.jpg');
    assert.equal(cutOutObject(p, new Uint8Array(W * H).fill(255)), null);
    assert.equal(cutOutObject(p, ellipseAlpha({ x: 150, y: 110, w: 8, h: 8 })), null);
  });
});

describe('decodePhoto: the pixels the object is searched in', () => {
  it('keeps a PNG\'s alpha and none for a JPEG; applies EXIF orientation as the shot does', async () => {
    const rgba = await sharp({ create: { width: 40, height: 20, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 0 } } }).png().toBuffer();
    const png = await decodePhoto(rgba, 320);
    assert.ok(png.alpha);
    assert.equal(png.alpha[0], 0);
    assert.deepEqual([png.raster.width, png.raster.height], [40, 20]);
    // Stored 40x20 with orientation 6 (turned 90°): the photo is 20 wide and 40 high.
    const turned = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 200, g: 20, b: 30 } } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const jpeg = await decodePhoto(turned, 320);
    assert.equal(jpeg.alpha, null);
    assert.deepEqual([jpeg.raster.width, jpeg.raster.height], [20, 40]);
    const big = await decodePhoto(await sharp(image('sunflower.jpg')).toBuffer(), 320);
    assert.ok(Math.max(big.raster.width, big.raster.height) <= 320);
  });
});

describe('salientObject: the object by a salient-object map', () => {
  /** 1 inside the ellipse, `rest` elsewhere in the box `halo`, 0 beyond. */
  function map(object: { x: number; y: number; w: number; h: number }, halo: { x: number; y: number; w: number; h: number }, rest: number): Float32Array {
    const alpha = ellipseAlpha(object);
    const m = new Float32Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const inHalo = x >= halo.x && x < halo.x + halo.w && y >= halo.y && y < halo.y + halo.h;
        m[y * W + x] = alpha[y * W + x] ? 1 : inHalo ? rest : 0;
      }
    }
    return m;
  }

  it('keeps what the model is sure of, not the halo beside it (clouds by a clothespin)', async () => {
    const object = { x: 110, y: 90, w: 100, h: 150 };
    const halo = { x: 0, y: 0, w: 200, h: 120 };
    const v = salientObject(await photo('sunflower.jpg'), map(object, halo, 0.7));
    assert.ok(v);
    const [bx, by, bw] = [v.box.x * W, v.box.y * H, v.box.width * W];
    assert.ok(bx > object.x - 25 && bx + bw < object.x + object.w + 25, `box x ${bx.toFixed(0)}..${(bx + bw).toFixed(0)} hugs the object`);
    assert.ok(by > object.y - 25, `box top ${by.toFixed(0)}: the halo left out`);
    const c = Math.round(v.square.width / 2);
    assert.deepEqual(at(v.square, 1, 1), [128, 128, 128], 'a corner is the place, greyed');
    assert.notDeepEqual(at(v.square, c, c), [128, 128, 128], 'the middle is the object');
  });

  it('takes a thin object the model is sure of only in patches at the lower level, whole', async () => {
    const object = { x: 60, y: 100, w: 200, h: 40 };
    const m = map(object, { x: 0, y: 0, w: 0, h: 0 }, 0).map((v) => v * 0.6);
    // Specks of certainty along it, each far under the smallest object.
    for (const cx of [80, 160, 240]) for (let y = 115; y < 125; y++) for (let x = cx - 5; x < cx + 5; x++) m[y * W + x] = 0.95;
    const v = salientObject(await photo('sunflower.jpg'), m);
    assert.ok(v, 'found at the fallback level');
    assert.ok(v.box.width * W > 0.8 * object.w, `the whole length (box width ${(v.box.width * W).toFixed(0)} of ${object.w})`);
  });

  it('finds nothing when the model is sure of nothing, or of the whole picture', async () => {
    const sunflower = await photo('sunflower.jpg');
    assert.equal(salientObject(sunflower, new Float32Array(W * H).fill(0.4)), null);
    assert.equal(salientObject(sunflower, new Float32Array(W * H).fill(0.6)), null);
    assert.equal(salientObject(sunflower, new Float32Array(W * H).fill(1)), null);
  });
});
