import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  allFinite,
  decodeFloat32,
  encodeFloat32,
  isWellFormedText,
  sumFloat32,
} from '../../src/storage/codec.js';

void describe('storeCodec', () => {
  void it('encodes float32 as little-endian bytes', () => {
    const bytes = encodeFloat32(Float32Array.of(1, -2.5));
    assert.equal(bytes.length, 8);
    assert.equal(bytes.readFloatLE(0), 1);
    assert.equal(bytes.readFloatLE(4), -2.5);
  });

  void it('encodes a view of a larger buffer without its neighbours', () => {
    const big = Float32Array.of(9, 1, 2, 9);
    const bytes = encodeFloat32(big.subarray(1, 3));
    assert.deepEqual(decodeFloat32(bytes), Float32Array.of(1, 2));
  });

  void it('decodes a misaligned slice into a fresh aligned array', () => {
    const pool = Buffer.alloc(3 + 12);
    const src = Float32Array.of(0.1, Number.MIN_VALUE, -0);
    encodeFloat32(src).copy(pool, 3);
    const out = decodeFloat32(pool.subarray(3));
    assert.ok(out);
    assert.equal(out.byteOffset, 0);
    assert.equal(out.buffer.byteLength, 12);
    assert.ok(Object.is(out[2], -0));
    assert.deepEqual(out, src);
  });

  void it('rejects a blob that is not a whole number of floats', () => {
    assert.equal(decodeFloat32(Buffer.alloc(7)), undefined);
    assert.deepEqual(decodeFloat32(Buffer.alloc(0)), new Float32Array(0));
  });

  void it('sums in float64 and rounds once', () => {
    // 1e8 + 1 + 1 + ... in float32 steps would stay at 1e8; float64 keeps the ones.
    const ones = Array.from({ length: 16 }, () => Float32Array.of(1));
    assert.equal(sumFloat32(ones, 1, Float32Array.of(1e8))[0], Math.fround(1e8 + 16));
  });

  void it('spots non-finite values and unpaired surrogates', () => {
    assert.equal(allFinite(Float32Array.of(0, 1)), true);
    assert.equal(allFinite(Float32Array.of(0, Number.NaN)), false);
    assert.equal(allFinite(Float32Array.of(Infinity)), false);
    assert.equal(isWellFormedText('cat 🐈'), true);
    assert.equal(isWellFormedText(''), true);
    assert.equal(isWellFormedText('a\uD800'), false);
    assert.equal(isWellFormedText('\uDC00a'), false);
    assert.equal(isWellFormedText('\uDC00\uD800'), false);
  });
});
