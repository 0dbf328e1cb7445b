import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameSplitter, JpegSplitter } from '../../src/camera/frameSplitter.js';

void test('frames are cut at exact byte counts whatever the chunking', () => {
  const frameBytes = 12;
  const stream = Buffer.from(Array.from({ length: frameBytes * 5 + 7 }, (_, i) => i % 251));
  for (const chunk of [1, 5, 12, 13, 40, 100]) {
    const frames: Buffer[] = [];
    const s = new FrameSplitter(frameBytes, (f) => frames.push(f));
    for (let i = 0; i < stream.length; i += chunk) s.push(stream.subarray(i, i + chunk));
    assert.equal(frames.length, 5, `chunk ${chunk}`);
    frames.forEach((f, i) => assert.deepEqual(f, stream.subarray(i * frameBytes, (i + 1) * frameBytes)));
    // Frames are independent copies: later input does not overwrite them.
    assert.notEqual(frames[0]?.buffer, frames[1]?.buffer);
  }
});

void test('JPEGs are cut at SOI/EOI across chunk borders; garbage between them is ignored', () => {
  const a = Buffer.from([0xff, 0xd8, 1, 2, 0xff, 0x00, 3, 0xff, 0xd9]);
  const b = Buffer.from([0xff, 0xd8, 9, 9, 9, 0xff, 0xd9]);
  const stream = Buffer.concat([Buffer.from([7, 7]), a, Buffer.from([0]), b]);
  for (const chunk of [1, 2, 3, 50]) {
    const out: Buffer[] = [];
    const s = new JpegSplitter((j) => out.push(j));
    for (let i = 0; i < stream.length; i += chunk) s.push(stream.subarray(i, i + chunk));
    assert.deepEqual(out, [a, b], `chunk ${chunk}`);
  }
});

void test('an image that never ends is dropped at the size limit', () => {
  const out: Buffer[] = [];
  const s = new JpegSplitter((j) => out.push(j), 64);
  s.push(Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(100, 1)]));
  s.push(Buffer.from([0xff, 0xd8, 5, 0xff, 0xd9]));
  assert.deepEqual(out, [Buffer.from([0xff, 0xd8, 5, 0xff, 0xd9])]);
});
