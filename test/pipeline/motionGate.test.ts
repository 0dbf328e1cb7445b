import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MotionGate } from '../../src/pipeline/motionGate.js';
import { INPUT_SIZE } from '../camera/fixtures.js';

const { width, height } = INPUT_SIZE;

function frame(fill: number, square?: { x: number; y: number; size: number; value: number }): Uint8Array {
  const rgb = new Uint8Array(width * height * 3).fill(fill);
  if (square) {
    for (let y = square.y; y < square.y + square.size; y++) {
      for (let x = square.x; x < square.x + square.size; x++) rgb.fill(square.value, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return rgb;
}

function noisy(base: Uint8Array, amplitude: number, seed: number): Uint8Array {
  const out = new Uint8Array(base);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = Math.max(0, Math.min(255, out[i]! + ((s % (2 * amplitude + 1)) - amplitude)));
  }
  return out;
}

void test('the first frame is always inferred; an identical or noisy still frame is skipped', () => {
  const gate = new MotionGate(INPUT_SIZE, { threshold: 0.01, maxSkipS: 10 });
  const still = frame(100);
  assert.equal(gate.shouldInfer(still, 0), true);
  assert.equal(gate.shouldInfer(still, 100), false);
  assert.equal(gate.shouldInfer(noisy(still, 20, 7), 200), false, 'sensor noise averages out');
});

void test('a small object entering the scene counts as motion', () => {
  const gate = new MotionGate(INPUT_SIZE, { threshold: 0.01, maxSkipS: 10 });
  gate.shouldInfer(frame(100), 0);
  // 28x28 px of 224x224 is 1.6 % of the image: about 16 of 1024 cells.
  const withObject = frame(100, { x: 50, y: 60, size: 28, value: 220 });
  assert.ok(gate.difference(withObject) > 0.01);
  assert.equal(gate.shouldInfer(withObject, 100), true);
  // It became the reference: the same scene again is still.
  assert.equal(gate.shouldInfer(withObject, 200), false);
});

void test('still scenes are inferred again after max_skip_s', () => {
  const gate = new MotionGate(INPUT_SIZE, { threshold: 0.05, maxSkipS: 2 });
  const still = frame(50);
  assert.equal(gate.shouldInfer(still, 0), true);
  assert.equal(gate.shouldInfer(still, 1999), false);
  assert.equal(gate.shouldInfer(still, 2000), true);
  assert.equal(gate.shouldInfer(still, 2500), false);
});

void test('a global brightness change (lights on) is motion; reset forgets the reference', () => {
  const gate = new MotionGate(INPUT_SIZE, { threshold: 0.5, maxSkipS: 60 });
  gate.shouldInfer(frame(40), 0);
  assert.equal(gate.shouldInfer(frame(200), 10), true);
  gate.reset();
  assert.equal(gate.shouldInfer(frame(200), 20), true);
});
