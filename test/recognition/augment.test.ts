import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUGMENTATIONS, augment } from '../../src/recognition/augment.js';

const W = 10;
const H = 8;

/** A test image whose red channel is x * 20, green y * 30, blue 100. */
function ramp(): Uint8Array {
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) rgb.set([x * 20, y * 30, 100], (y * W + x) * 3);
  }
  return rgb;
}
const px = (rgb: Uint8Array, x: number, y: number): number[] => Array.from(rgb.subarray((y * W + x) * 3, (y * W + x) * 3 + 3));

describe('augment', () => {
  it('mirrors left and right', () => {
    const out = augment(ramp(), W, H, 'flip');
    assert.deepEqual(px(out, 0, 3), [180, 90, 100]);
    assert.deepEqual(px(out, 9, 3), [0, 90, 100]);
    assert.deepEqual(augment(out, W, H, 'flip'), ramp(), 'twice is the original');
  });

  it('crops 90 % from a corner and scales it back to the full size', () => {
    const tl = augment(ramp(), W, H, 'crop-tl');
    const br = augment(ramp(), W, H, 'crop-br');
    assert.deepEqual(px(tl, 0, 0), [0, 0, 100], 'the top-left corner stays');
    assert.ok(px(tl, 9, 7)[0]! < 180 && px(tl, 9, 7)[1]! < 210, 'the far corner is cut off');
    assert.ok(px(br, 0, 0)[0]! > 0 && px(br, 0, 0)[1]! > 0, 'the near corner is cut off');
    assert.deepEqual(px(br, 9, 7), [180, 210, 100], 'the bottom-right corner stays');
    assert.deepEqual(augment(ramp(), W, H, 'flip-crop'), augment(br, W, H, 'flip'));
  });

  it('darkens and brightens, clipping at 255', () => {
    assert.deepEqual(px(augment(ramp(), W, H, 'dark'), 4, 2), [60, 45, 75]);
    assert.deepEqual(px(augment(ramp(), W, H, 'bright'), 9, 7), [225, 255, 125]);
  });

  it('keeps the size, leaves the input alone, and refuses a wrong size', () => {
    const input = ramp();
    for (const a of AUGMENTATIONS) assert.equal(augment(input, W, H, a).length, input.length);
    assert.deepEqual(input, ramp());
    assert.throws(() => augment(new Uint8Array(5), W, H, 'flip'), /5 bytes, expected 10x8x3/);
  });
});
