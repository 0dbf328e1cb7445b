import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { boxInFrame, compareWithEmpty, followSteady, overlap, proposeRegions, squareBox, type Box } from '../../src/recognition/regions.js';
import { image } from '../helpers/env.js';

const S = { width: 224, height: 224 };

/** `box` holds `object` whole (to a pixel of the 224 crop) and is at most twice its size each way. */
function holds(box: Box | undefined, object: Box): boolean {
  const e = 1 / 224;
  return !!box && box.x <= object.x + e && box.y <= object.y + e && box.x + box.width >= object.x + object.width - e && box.y + box.height >= object.y + object.height - e &&
    box.width <= 2 * object.width && box.height <= 2 * object.height;
}

/** A flat grey frame with solid rectangles (fractions) painted in. */
function frame(rects: Array<Box & { grey: number }> = [], base = 100): Uint8Array {
  const rgb = new Uint8Array(S.width * S.height * 3).fill(base);
  for (const r of rects) {
    for (let y = Math.round(r.y * S.height); y < Math.round((r.y + r.height) * S.height); y++) {
      for (let x = Math.round(r.x * S.width); x < Math.round((r.x + r.width) * S.width); x++) rgb.fill(r.grey, (y * S.width + x) * 3, (y * S.width + x) * 3 + 3);
    }
  }
  return rgb;
}

/** An image file as the unit's crop: stretched to the model's input, as ffmpeg scales frames. */
async function unitCrop(input: Buffer): Promise<Uint8Array> {
  return new Uint8Array(await sharp(input).resize(S.width, S.height, { fit: 'fill' }).removeAlpha().raw().toBuffer());
}

describe('proposeRegions', () => {
  it('finds nothing where the frame is its empty scene', () => {
    assert.deepEqual(proposeRegions(frame(), frame()), []);
  });

  it('boxes one changed rectangle, padded, and nothing for a global change of light', () => {
    const object = { x: 0.5, y: 0.25, width: 0.25, height: 0.25 };
    const [box, ...rest] = proposeRegions(frame([{ ...object, grey: 200 }]), frame());
    assert.equal(rest.length, 0);
    assert.ok(holds(box, object), `box ${JSON.stringify(box)} should hold ${JSON.stringify(object)}`);
    assert.deepEqual(proposeRegions(frame([], 140), frame([], 100)), [], 'every cell changed alike: light, not an object');
  });

  it('keeps at most maxBoxes, the strongest first, and drops single-cell noise', () => {
    const a = { x: 0, y: 0, width: 0.2, height: 0.2, grey: 250 };
    const b = { x: 0.7, y: 0.7, width: 0.25, height: 0.25, grey: 140 };
    const c = { x: 0.7, y: 0, width: 0.2, height: 0.2, grey: 200 };
    const speck = { x: 0.5, y: 0.5, width: 1 / 16, height: 1 / 16, grey: 255 };
    const boxes = proposeRegions(frame([a, b, c, speck]), frame());
    assert.equal(boxes.length, 2);
    assert.ok(holds(boxes[0], a) && holds(boxes[1], c), JSON.stringify(boxes));
  });

  it('also proposes the two parts of a thin object joined, when one cell at most lies between them', () => {
    // A vertical bar whose middle cell row hardly differs (the tube crossing the water's grey): two parts.
    const top = { x: 0.5, y: 0.25, width: 1 / 16, height: 3 / 16, grey: 200 };
    const bottom = { x: 0.5, y: 0.5, width: 1 / 16, height: 3 / 16, grey: 200 };
    const gap = { x: 0.5, y: 0.25 + 3 / 16, width: 1 / 16, height: 1 / 16, grey: 104 };
    const boxes = proposeRegions(frame([top, bottom, gap]), frame());
    assert.equal(boxes.length, 3, JSON.stringify(boxes));
    const whole = { x: 0.5, y: 0.25, width: 1 / 16, height: 7 / 16 };
    assert.ok(holds(boxes[2], whole), `the third box holds both parts: ${JSON.stringify(boxes[2])}`);
    // Two cells apart: two objects, not one.
    const far = proposeRegions(frame([top, { ...bottom, y: 0.25 + 5 / 16 }]), frame());
    assert.equal(far.length, 2, JSON.stringify(far));
  });

  it('finds a photographed cat composited into a photographed scene where it was put', async () => {
    const scene = await sharp(image('sunflower.jpg')).resize(1280, 720, { fit: 'fill' }).toBuffer();
    const cat = await sharp(image('cat_test_0.jpg')).resize(320, 320, { fit: 'cover' }).toBuffer();
    const withCat = await sharp(scene).composite([{ input: cat, left: 800, top: 300 }]).png().toBuffer();
    const where = { x: 800 / 1280, y: 300 / 720, width: 320 / 1280, height: 320 / 720 };
    const boxes = proposeRegions(await unitCrop(withCat), await unitCrop(scene));
    assert.ok(boxes.length >= 1, 'the cat is found');
    assert.ok(overlap(boxes[0]!, where) > 0.5, `box ${JSON.stringify(boxes[0])} vs the cat at ${JSON.stringify(where)}`);
  });

  it('refuses frames of the wrong size', () => {
    assert.throws(() => proposeRegions(new Uint8Array(10), frame()), /frames must hold 150528 bytes/);
  });
});

/** `rgb` with its left quarter brighter by `delta` grey levels (light that reaches part of a view). */
function lightLeft(rgb: Uint8Array, delta: number): Uint8Array {
  const out = Uint8Array.from(rgb);
  for (let y = 0; y < S.height; y++) for (let x = 0; x < S.width / 4; x++) for (let c = 0; c < 3; c++) out[(y * S.width + x) * 3 + c] = Math.min(255, out[(y * S.width + x) * 3 + c]! + delta);
  return out;
}

describe('compareWithEmpty and followSteady', () => {
  const object = { x: 0.6, y: 0.5, width: 0.2, height: 0.25, grey: 220 };

  it('marks steady the cells away from a change, not the object nor its neighbours', () => {
    const { boxes, steady } = compareWithEmpty(frame([object]), frame());
    assert.equal(boxes.length, 1);
    assert.ok(steady);
    const cell = (x: number, y: number): number => steady[Math.floor(y * 16) * 16 + Math.floor(x * 16)]!;
    assert.equal(cell(0.7, 0.6), 0, 'under the object');
    assert.equal(cell(object.x - 0.5 / 16, 0.6), 0, 'the cell left of the object');
    assert.equal(cell(0.1, 0.1), 1, 'far from it');
  });

  it('trusts no cell when the view changed as a whole', () => {
    // Another place altogether: texture where the view was flat (one gain cannot even it out).
    const elsewhere = frame().map((_, i) => (Math.floor(i / 3) % 7) * 30);
    assert.equal(compareWithEmpty(elsewhere, frame()).steady, null);
  });

  it('follows light that changes part of the view while an object stands, and keeps the place behind the object', () => {
    const still = frame();
    let followed = frame();
    for (let delta = 1; delta <= 40; delta++) {
      const seen = lightLeft(frame([object]), delta);
      const { steady } = compareWithEmpty(seen, followed);
      assert.ok(steady, `frame ${delta}`);
      followed = followSteady(followed, seen, steady);
    }
    const last = lightLeft(frame([object]), 40);
    const stale = proposeRegions(last, still);
    assert.ok(stale.some((b) => b.x < 0.2), `without following, the lit quarter is a region: ${JSON.stringify(stale)}`);
    const boxes = proposeRegions(last, followed);
    assert.equal(boxes.length, 1, JSON.stringify(boxes));
    assert.ok(holds(boxes[0], object), `box ${JSON.stringify(boxes[0])} should hold the object`);
    const at = (x: number, y: number): number => followed[(Math.round(y * S.height) * S.width + Math.round(x * S.width)) * 3]!;
    assert.equal(at(0.7, 0.6), 100, 'behind the object: the place as it was');
    assert.equal(at(0.1, 0.1), 140, 'the lit quarter: as it is now');
  });

  it('follows only the part of a larger image where the unit lies', () => {
    const empty = new Uint8Array(4 * 2 * 3).fill(10);
    const seen = new Uint8Array(4 * 2 * 3).fill(50);
    const out = followSteady(empty, seen, new Uint8Array(256).fill(1), { width: 4, height: 2 }, { x: 0.5, y: 0, width: 0.5, height: 1 });
    assert.deepEqual([...out.filter((_, i) => i % 3 === 0)], [10, 10, 50, 50, 10, 10, 50, 50]);
    assert.throws(() => followSteady(empty, new Uint8Array(3), new Uint8Array(256)), /views differ in size/);
  });
});

describe('squareBox and boxInFrame', () => {
  it('grows a box to a square in pixels and keeps it inside the image', () => {
    // 16:9 frame: a box 0.1 wide (0.178 in height units) and 0.4 high becomes 0.4 x 0.4 in pixels.
    const sq = squareBox({ x: 0.95, y: 0.5, width: 0.1, height: 0.4 }, 16 / 9);
    assert.ok(Math.abs(sq.width * (16 / 9) - sq.height) < 1e-9, JSON.stringify(sq));
    assert.ok(sq.x + sq.width <= 1 + 1e-9 && sq.y + sq.height <= 1 + 1e-9);
    assert.deepEqual(squareBox({ x: 0, y: 0, width: 1, height: 1 }, 2), { x: 0, y: 0, width: 1, height: 1 });
  });

  it('places a box of a zone in the frame', () => {
    assert.deepEqual(boxInFrame({ x: 0.5, y: 0.5, width: 0.5, height: 0.5 }, { x: 0.2, y: 0.4, width: 0.4, height: 0.2 }), { x: 0.4, y: 0.5, width: 0.2, height: 0.1 });
  });
});
