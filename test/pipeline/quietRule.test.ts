import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QUIET_AFTER, quietStep, UNKNOWN_QUIET_AFTER, type QuietInput } from '../../src/pipeline/quietRule.js';
import { compareWithEmpty } from '../../src/recognition/regions.js';

const S = 224;

/** A flat grey 224 × 224 frame with one square of another grey (fractions). */
function frame(square: { x: number; y: number; side: number; grey: number } | null = null, base = 100): Uint8Array {
  const rgb = new Uint8Array(S * S * 3).fill(base);
  if (!square) return rgb;
  for (let y = Math.round(square.y * S); y < Math.round((square.y + square.side) * S); y++) {
    rgb.fill(square.grey, (y * S + Math.round(square.x * S)) * 3, (y * S + Math.round((square.x + square.side) * S)) * 3);
  }
  return rgb;
}

/** The step after a frame compared with the empty view, nothing ON. */
function after(seen: Uint8Array, empty: Uint8Array, rest: Partial<QuietInput> = {}): ReturnType<typeof quietStep> {
  const c = compareWithEmpty(seen, empty);
  return quietStep({ label: 'unknown', active: [], regions: c.boxes.length, steady: c.steady, changedFrames: 0, ...rest });
}

describe('quietStep: when a frame becomes the empty view', () => {
  const empty = frame();
  const object = { x: 0.5, y: 0.4, side: 0.2 };

  it('a frame that is the empty view everywhere becomes it', () => {
    assert.deepEqual(after(frame(), empty), { step: 'empty', absorbed: false, changedFrames: 0 });
  });

  it('an object too faint to propose (cells between half the bar and the bar) does not: its ghost would stay', () => {
    const faint = frame({ ...object, grey: 107 });
    const c = compareWithEmpty(faint, empty);
    assert.equal(c.boxes.length, 0, 'no region at 7 grey levels');
    assert.ok(c.steady?.includes(0), 'but its cells are not steady');
    assert.deepEqual(after(faint, empty), { step: 'follow', absorbed: false, changedFrames: 1 });
    // The same object at 4 grey levels is noise: the frame is the empty view.
    assert.equal(after(frame({ ...object, grey: 104 }), empty).step, 'empty');
  });

  it('a faint change that stays is taken into the view after QUIET_AFTER frames, kept as the view before', () => {
    const faint = frame({ ...object, grey: 107 });
    assert.equal(after(faint, empty, { changedFrames: QUIET_AFTER - 2 }).step, 'follow');
    assert.deepEqual(after(faint, empty, { changedFrames: QUIET_AFTER - 1 }), { step: 'empty', absorbed: true, changedFrames: 0 });
  });

  it('a region no class claims: QUIET_AFTER frames decided none, UNKNOWN_QUIET_AFTER decided unknown', () => {
    const parked = frame({ ...object, grey: 200 });
    assert.equal(after(parked, empty, { label: 'none', changedFrames: QUIET_AFTER - 1 }).step, 'empty');
    assert.equal(after(parked, empty, { label: 'unknown', changedFrames: QUIET_AFTER - 1 }).step, 'follow');
    assert.deepEqual(after(parked, empty, { label: 'unknown', changedFrames: UNKNOWN_QUIET_AFTER - 1 }), { step: 'empty', absorbed: true, changedFrames: 0 });
  });

  it('a class decided or ON: never the empty view, and the count starts again', () => {
    assert.deepEqual(after(frame(), empty, { label: 'cat', changedFrames: 10 }), { step: 'follow', absorbed: false, changedFrames: 0 });
    assert.deepEqual(after(frame(), empty, { active: ['cat'] }), { step: 'follow', absorbed: false, changedFrames: 0 });
  });

  it('a change of the whole view (no steady cells at all) becomes the view: nothing in it can be trusted as empty', () => {
    // Stripes a pixel wide: every cell's mean is the same, every pixel differs (another view, not light).
    const other = frame().map((_, i) => (Math.floor(i / 3) % 2 ? 60 : 140));
    const c = compareWithEmpty(other, empty);
    assert.equal(c.steady, null);
    assert.equal(c.boxes.length, 0);
    assert.deepEqual(after(other, empty), { step: 'empty', absorbed: false, changedFrames: 0 });
  });
});
