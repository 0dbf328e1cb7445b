import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { TfliteBackend } from '../../src/detector/backend.js';
import { prepareImage } from '../../src/media/image.js';
import { DEFAULT_FINE_TUNE, evaluate, fineTune, trainSoftmax, type LabelledShots } from '../../src/recognition/fineTune.js';
import { dot, l2Normalize, meanDirection } from '../../src/recognition/vector.js';
import { CPU_MODEL, image } from '../helpers/env.js';

const unit = (...v: number[]): Float32Array => l2Normalize(Float32Array.from(v));

describe('trainSoftmax', () => {
  // Imprinting puts a's mean between its two shots; b sits close to a's second shot,
  // so imprinting gets that shot wrong. Softmax regression moves the weights to fix it.
  const classes: LabelledShots[] = [
    { label: 'a', shots: [unit(1, 0, 0, 0), unit(0.6, 0.8, 0, 0)] },
    { label: 'b', shots: [unit(0.7, 0.6, 0.4, 0), unit(0.7, 0.6, 0, 0.4)] },
  ];
  const train = classes.flatMap((c, y) => c.shots.map((x) => ({ x, y })));

  it('fixes a training shot that imprinting gets wrong', () => {
    const imprinted = classes.map((c) => meanDirection(c.shots, 4));
    assert.ok(evaluate(imprinted, train).accuracy < 1, 'the case must start wrong');
    const tuned = trainSoftmax(classes, { ...DEFAULT_FINE_TUNE, epochs: 200, learningRate: 0.5 });
    assert.equal(evaluate(tuned, train).accuracy, 1);
  });

  it('returns unit weights, deterministically, and imprinted weights with zero epochs', () => {
    const a = trainSoftmax(classes, DEFAULT_FINE_TUNE);
    const b = trainSoftmax(classes, DEFAULT_FINE_TUNE);
    assert.deepEqual(a, b);
    for (const w of a) assert.ok(Math.abs(dot(w, w) - 1) < 1e-5);
    const none = trainSoftmax(classes, { ...DEFAULT_FINE_TUNE, epochs: 0 });
    classes.forEach((c, i) => assert.deepEqual(none[i], meanDirection(c.shots, 4)));
  });
});

describe('fineTune falls back to imprinting', () => {
  it('with fewer than two classes', () => {
    const r = fineTune([{ label: 'a', shots: [unit(1, 0), unit(0.9, 0.1)] }]);
    assert.equal(r.used, false);
    assert.equal(r.heldOut, null);
    assert.deepEqual(r.weights[0]!.sum, meanDirection([unit(1, 0), unit(0.9, 0.1)], 2));
  });

  it('when no class has a second shot to hold out', () => {
    const r = fineTune([
      { label: 'a', shots: [unit(1, 0)] },
      { label: 'b', shots: [unit(0, 1)] },
    ]);
    assert.equal(r.used, false);
    assert.match(r.reason, /two shots/);
  });
});

/** Real embeddings: Coral's photos and mirrored / cropped views of them, through the agent's decoder and the CPU model. */
describe('fineTune on real embeddings is never worse than imprinting on held-out shots', () => {
  const classes: LabelledShots[] = [];
  before(async () => {
    const backend = new TfliteBackend(
      { kind: 'cpu', modelPath: CPU_MODEL, modelSha256: 'test', threads: 2, device: '', library: '' },
      undefined,
    );
    const photos: Record<string, string[]> = {
      cat: ['cat_train_0', 'cat_test_0', 'cat', 'cat_720p'],
      dog: ['dog_train_0', 'dog_test_0'],
      hotdog: ['hotdog_train_0', 'hotdog_train_1', 'hotdog_test_0', 'hot_dog'],
      bird: ['bird', 'parrot', 'owl'],
    };
    for (const [label, names] of Object.entries(photos)) {
      const shots: Float32Array[] = [];
      for (const n of names) {
        const jpeg = readFileSync(image(`${n}.jpg`));
        const meta = await sharp(jpeg).metadata();
        const w = meta.width ?? 0;
        const h = meta.height ?? 0;
        const views = [
          jpeg,
          await sharp(jpeg).flop().jpeg().toBuffer(),
          await sharp(jpeg).extract({ left: Math.round(w * 0.1), top: Math.round(h * 0.1), width: Math.round(w * 0.8), height: Math.round(h * 0.8) }).jpeg().toBuffer(),
        ];
        for (const v of views) shots.push(backend.embed((await prepareImage(v, backend.inputSize, { maxBytes: 64 << 20, maxMegapixels: 50 })).rgb));
      }
      classes.push({ label, shots });
    }
  });

  it('uses the fine-tuned weights only when they held up, and they are unit vectors', () => {
    const r = fineTune(classes);
    assert.ok(r.heldOut, r.reason);
    assert.ok(r.heldOut.shots >= 4);
    if (r.used) assert.ok(r.heldOut.fineTunedAccuracy >= r.heldOut.imprintAccuracy, JSON.stringify(r.heldOut));
    else assert.ok(r.heldOut.fineTunedAccuracy < r.heldOut.imprintAccuracy, JSON.stringify(r.heldOut));
    assert.deepEqual(r.weights.map((w) => w.label), ['cat', 'dog', 'hotdog', 'bird']);
    for (const w of r.weights) assert.ok(Math.abs(dot(w.sum, w.sum) - 1) < 1e-5);
    assert.deepEqual(fineTune(classes), r, 'deterministic');
  });

  it('falls back to the imprinted weights when training goes wrong', () => {
    // Gradient ascent: a deliberately broken training run that must not reach the classifier.
    const r = fineTune(classes, { learningRate: -3, epochs: 30 });
    assert.ok(r.heldOut);
    assert.equal(r.used, false, JSON.stringify(r.heldOut));
    assert.ok(r.heldOut.fineTunedAccuracy < r.heldOut.imprintAccuracy);
    classes.forEach((c, i) => {
      const imprinted = meanDirection(c.shots, c.shots[0]!.length);
      assert.ok(dot(r.weights[i]!.sum, imprinted) > 0.99999, c.label);
    });
  });
});
