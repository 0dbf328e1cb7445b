import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { centre, meanOf, parseEmbeddingMean, serialiseEmbeddingMean } from '../../src/recognition/centring.js';
import { dot, l2Normalize, seededRandom } from '../../src/recognition/vector.js';

const SHA = 'a'.repeat(64);

describe('centring', () => {
  it('spreads out vectors that share a large common component', () => {
    const random = seededRandom(11);
    const common = Float32Array.from({ length: 64 }, () => 1);
    const noisy = (): Float32Array => l2Normalize(common.map((v) => v + (random() - 0.5) * 0.8));
    const a = noisy();
    const b = noisy();
    const mean = meanOf(Array.from({ length: 200 }, noisy));
    assert.ok(dot(a, b) > 0.9, `raw cosines are high: ${dot(a, b)}`);
    const ca = centre(a, mean);
    const cb = centre(b, mean);
    assert.ok(Math.abs(dot(ca, ca) - 1) < 1e-5, 'unit');
    assert.ok(Math.abs(dot(ca, cb)) < 0.4, `centred cosines are not: ${dot(ca, cb)}`);
  });

  it('leaves a vector as it is without a mean, and refuses a mean of another size', () => {
    const v = l2Normalize(Float32Array.from([1, 2, 3]));
    assert.equal(centre(v, null), v);
    assert.throws(() => centre(v, new Float32Array(4)), /3 values, the mean has 4/);
    assert.throws(() => meanOf([new Float32Array(3), new Float32Array(4)]), /cannot be averaged/);
  });

  it('round-trips the file form and names the bad field', () => {
    const m = { model: SHA, count: 3, mean: Float32Array.from([0.5, -0.25]), residualMean: Float32Array.from([0.125, 0]), residualCount: 7 };
    const json = JSON.parse(JSON.stringify(serialiseEmbeddingMean(m))) as Record<string, unknown>;
    assert.deepEqual(parseEmbeddingMean(json), m);
    assert.throws(() => parseEmbeddingMean(null), /expected an object/);
    assert.throws(() => parseEmbeddingMean({ ...json, model: 'x' }), /model must be a sha256/);
    assert.throws(() => parseEmbeddingMean({ ...json, count: 0 }), /count must be a positive integer/);
    assert.throws(() => parseEmbeddingMean({ ...json, residual_count: 1.5 }), /residual_count/);
    assert.throws(() => parseEmbeddingMean({ ...json, dim: 3 }), /dim is 3 but mean has 2/);
    assert.throws(() => parseEmbeddingMean({ ...json, residual_mean: [1, 'x'] }), /residual_mean\[1\] is not a finite number/);
  });

  it('ships a valid constant for the shipped CPU model', () => {
    const file = new URL('../../models/mobilenet_v1_1.0_224_quant_embedding_extractor.mean.json', import.meta.url);
    const m = parseEmbeddingMean(JSON.parse(readFileSync(file, 'utf8')));
    assert.equal(m.mean.length, 1024);
    assert.equal(m.residualMean.length, 1024);
    // Post-ReLU features: the mean embedding of unit vectors is non-negative and far from zero.
    assert.ok(m.mean.every((v) => v >= 0));
    assert.ok(Math.sqrt(dot(m.mean, m.mean)) > 0.5);
  });
});
