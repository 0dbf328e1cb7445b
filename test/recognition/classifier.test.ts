import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { TfliteBackend } from '../../src/detector/backend.js';
import { prepareImage } from '../../src/media/image.js';
import { ImprintedClassifier } from '../../src/recognition/classifier.js';
import { SimdDots } from '../../src/recognition/simdKernel.js';
import { DEFAULT_MARGIN, DEFAULT_THRESHOLD } from '../../src/recognition/defaults.js';
import type { ClassWeights } from '../../src/recognition/types.js';
import { dotRows, l2Normalize, meanDirection } from '../../src/recognition/vector.js';
import { CPU_MODEL, image } from '../helpers/env.js';

const unit = (...v: number[]): Float32Array => l2Normalize(Float32Array.from(v));
const cls = (label: string, w: Float32Array, extra: Partial<ClassWeights> = {}): ClassWeights => ({
  label,
  background: false,
  sum: w,
  count: 1,
  ...extra,
});

/** A query at the given cosine to the first axis, rest on the second (3-d vectors). */
const atCos = (c: number): Float32Array => Float32Array.from([c, Math.sqrt(1 - c * c), 0]);

describe('ImprintedClassifier decisions', () => {
  it('labels the best class when its score clears the threshold and its lead the margin', () => {
    const c = new ImprintedClassifier({ threshold: 0.5, margin: 0.1 });
    c.setClasses([cls('a', unit(1, 0, 0)), cls('b', unit(0, 0, 1))]);
    const r = c.classify(atCos(0.9));
    assert.equal(r.label, 'a');
    assert.ok(Math.abs(r.score - 0.9) < 1e-6);
    assert.deepEqual(Object.keys(r.scores).sort(), ['a', 'b']);
    assert.ok(Math.abs(r.scores.b!) < 1e-6);
  });

  it('an allowance (camera frames of photo-taught classes) lowers the threshold by that much, not the margin', () => {
    const c = new ImprintedClassifier({ threshold: 0.4, margin: 0.1 });
    c.setClasses([cls('a', unit(1, 0, 0)), cls('b', unit(0, 0, 1))]);
    assert.equal(c.classify(atCos(0.38)).label, 'unknown');
    assert.equal(c.classify(atCos(0.38), undefined, 0.05).label, 'a');
    assert.equal(c.classify(atCos(0.34), undefined, 0.05).label, 'unknown');
  });

  it('says unknown when the best score is below the threshold, and still reports it', () => {
    const c = new ImprintedClassifier({ threshold: 0.95, margin: 0 });
    c.setClasses([cls('a', unit(1, 0, 0)), cls('b', unit(0, 0, 1))]);
    const r = c.classify(atCos(0.9));
    assert.equal(r.label, 'unknown');
    assert.ok(Math.abs(r.score - 0.9) < 1e-6);
    c.setOptions({ threshold: 0.85, margin: 0 });
    assert.equal(c.classify(atCos(0.9)).label, 'a');
  });

  it('says unknown when the lead over the runner-up is below the margin', () => {
    const c = new ImprintedClassifier({ threshold: 0, margin: 0.1 });
    // a and b at 45 degrees: a query between them scores nearly the same on both.
    c.setClasses([cls('a', unit(1, 0, 0)), cls('b', unit(1, 1, 0))]);
    const between = unit(1, 0.35, 0);
    const r = c.classify(between);
    assert.ok(Math.abs(r.scores.a! - r.scores.b!) < 0.1, JSON.stringify(r.scores));
    assert.equal(r.label, 'unknown');
    c.setOptions({ threshold: 0, margin: 0 });
    assert.notEqual(c.classify(between).label, 'unknown');
  });

  it('maps a winning background class to none, but not when it fails the threshold', () => {
    const c = new ImprintedClassifier({ threshold: 0.5, margin: 0 });
    c.setClasses([cls('floor', unit(1, 0, 0), { background: true }), cls('cat', unit(0, 0, 1))]);
    assert.equal(c.classify(atCos(0.9)).label, 'none');
    assert.equal(c.classify(atCos(0.3)).label, 'unknown');
    assert.equal(c.classify(unit(0, 0.2, 1)).label, 'cat');
  });

  it('with no classes says unknown with score 0 and no scores', () => {
    const c = new ImprintedClassifier({ threshold: 0.5, margin: 0.05 });
    assert.deepEqual(c.classify(unit(1, 0, 0)), { label: 'unknown', score: 0, scores: {} });
    c.setClasses([cls('empty', new Float32Array(3), { count: 0 })]);
    assert.deepEqual(c.labels(), []);
    assert.equal(c.classify(unit(1, 0, 0)).label, 'unknown');
  });

  it('with one class needs no margin (there is no runner-up)', () => {
    const c = new ImprintedClassifier({ threshold: 0.5, margin: 0.5 });
    c.setClasses([cls('only', unit(1, 0, 0))]);
    assert.equal(c.classify(atCos(0.8)).label, 'only');
  });

  it('normalises unnormalised sums, so a class with many shots is not favoured', () => {
    const c = new ImprintedClassifier({ threshold: 0, margin: 0 });
    c.setClasses([cls('many', Float32Array.from([100, 0, 0]), { count: 100 }), cls('one', unit(0, 1, 0))]);
    const r = c.classify(unit(1, 1.2, 0));
    assert.equal(r.label, 'one');
    assert.ok(r.scores.many! <= 1 && r.scores.one! <= 1);
  });

  it('scores a multi-proxy class by its best proxy', () => {
    const c = new ImprintedClassifier({ threshold: 0.5, margin: 0 });
    const sum = Float32Array.from([1, 0, 1]);
    c.setClasses([cls('two-looks', sum, { count: 2, proxies: [unit(1, 0, 0), unit(0, 0, 1)] }), cls('other', unit(0, 1, 0))]);
    const r = c.classify(unit(0, 0.1, 1));
    assert.equal(r.label, 'two-looks');
    assert.ok(r.scores['two-looks']! > 0.99, 'the proxy, not the mean (cos 0.70), scores');
  });

  it('refuses an embedding of another length instead of scoring garbage', () => {
    const c = new ImprintedClassifier({ threshold: 0, margin: 0 });
    c.setClasses([cls('a', unit(1, 0, 0))]);
    assert.throws(() => c.classify(unit(1, 0)), /2 values/);
  });

  it('gives the same scores as a plain dot product over 1000 classes', () => {
    const dim = 1024;
    let seed = 3;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    const vec = (): Float32Array => l2Normalize(Float32Array.from({ length: dim }, rnd));
    const weights = Array.from({ length: 1001 }, (_, i) => cls(`c${i}`, vec()));
    const q = vec();
    const c = new ImprintedClassifier({ threshold: 0, margin: 0 });
    c.setClasses(weights);
    const r = c.classify(q);
    for (const w of weights) {
      let s = 0;
      for (let i = 0; i < dim; i++) s += w.sum[i]! * q[i]!;
      assert.ok(Math.abs(r.scores[w.label]! - s) < 1e-5, w.label);
    }
    const out = new Float64Array(3);
    dotRows(Float32Array.from([1, 2, 3, 4, 5, 6]), 3, Float32Array.from([1, 1]), out);
    assert.deepEqual(Array.from(out), [3, 7, 11]);
  });
});

describe("default threshold and margin on Coral's photos (real CPU model, the agent's decoder)", () => {
  const emb = new Map<string, Float32Array>();
  before(async () => {
    const backend = new TfliteBackend(
      { kind: 'cpu', modelPath: CPU_MODEL, modelSha256: 'test', threads: 2, device: '', library: '' },
      undefined,
    );
    const names = ['cat_train_0', 'dog_train_0', 'hotdog_train_0', 'hotdog_train_1', 'cat_test_0', 'dog_test_0', 'hotdog_test_0', 'cat', 'cat_720p', 'bird', 'owl', 'parrot', 'sunflower', 'dragonfly'];
    for (const n of names) {
      const { rgb } = await prepareImage(readFileSync(image(`${n}.jpg`)), backend.inputSize, { maxBytes: 64 << 20, maxMegapixels: 50 });
      emb.set(n, backend.embed(rgb));
    }
  });

  const classifier = (threshold: number, margin: number): ImprintedClassifier => {
    const c = new ImprintedClassifier({ threshold, margin });
    const shots: Record<string, string[]> = { cat: ['cat_train_0'], dog: ['dog_train_0'], hotdog: ['hotdog_train_0', 'hotdog_train_1'] };
    c.setClasses(Object.entries(shots).map(([label, ns]) => cls(label, meanDirection(ns.map((n) => emb.get(n)!), 1024), { count: ns.length })));
    return c;
  };

  // The defaults must not sit on the edge of the check: it holds 0.02 / 0.01 either side.
  for (const [dt, dm] of [[0, 0], [-0.02, -0.01], [0.02, 0.01]] as const) {
    it(`passes at threshold ${(DEFAULT_THRESHOLD + dt).toFixed(2)}, margin ${(DEFAULT_MARGIN + dm).toFixed(3)}`, () => {
      const c = classifier(DEFAULT_THRESHOLD + dt, Math.max(0, DEFAULT_MARGIN + dm));
      for (const [n, want] of [['cat_test_0', 'cat'], ['dog_test_0', 'dog'], ['hotdog_test_0', 'hotdog'], ['cat', 'cat'], ['cat_720p', 'cat']]) {
        const r = c.classify(emb.get(n!)!);
        assert.equal(r.label, want, `${n}: ${JSON.stringify(r)}`);
      }
      const unknown = ['bird', 'owl', 'parrot', 'sunflower', 'dragonfly'].filter((n) => c.classify(emb.get(n)!).label === 'unknown');
      assert.ok(unknown.length >= 4, `only ${unknown.join(', ')} came out unknown`);
    });
  }
});

describe('SIMD scoring kernel', () => {
  it('agrees with the plain JS loop, and declines dimensions that are not a multiple of 4', () => {
    const dim = 1024;
    const rows = 37;
    let seed = 11;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    const matrix = Float32Array.from({ length: rows * dim }, rnd);
    const v = Float32Array.from({ length: dim }, rnd);
    const kernel = SimdDots.create(matrix, rows, dim);
    assert.ok(kernel, 'Node 20 has WebAssembly SIMD');
    const simd = new Float64Array(rows);
    const js = new Float64Array(rows);
    kernel.score(v, simd);
    dotRows(matrix, rows, v, js);
    for (let r = 0; r < rows; r++) assert.ok(Math.abs(simd[r]! - js[r]!) < 1e-3 * Math.max(1, Math.abs(js[r]!)), `row ${r}`);
    assert.equal(SimdDots.create(new Float32Array(6), 2, 3), undefined);
    const c = new ImprintedClassifier({ threshold: 0, margin: 0 });
    c.setClasses([cls('a', unit(1, 0, 0))]);
    assert.equal(c.kernel(), 'js');
    c.setClasses([cls('a', l2Normalize(v))]);
    assert.equal(c.kernel(), 'wasm-simd');
  });
});
