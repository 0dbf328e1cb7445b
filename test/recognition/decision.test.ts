import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classWeight } from '../../src/recognition/classThresholds.js';
import { decide, nearestScene, residual, residualShot, type DecisionOptions, type ZoneView } from '../../src/recognition/decision.js';
import { dot, l2Normalize } from '../../src/recognition/vector.js';

const DIM = 16;
const OPTS: DecisionOptions = { margin: 0.05, minResidual: 0.1, negativeMargin: 0.02 };

/** A unit vector from weighted axes. */
function vec(parts: Record<number, number>): Float32Array {
  const v = new Float32Array(DIM);
  for (const [i, w] of Object.entries(parts)) v[Number(i)] = w;
  return l2Normalize(v);
}

// The scene is mostly axis 0; an object adds its own axis (cat 1, dog 2, fox 3) to it.
const SCENE = vec({ 0: 1 });
const withObject = (axis: number, amount = 0.5): Float32Array => vec({ 0: 1, [axis]: amount });

function zone(overrides: Partial<ZoneView> = {}): ZoneView {
  const shot = (axis: number): Float32Array => residualShot(withObject(axis), [SCENE], null)!;
  return {
    classes: [
      { label: 'cat', weight: classWeight([shot(1)]), threshold: 0.5 },
      { label: 'dog', weight: classWeight([shot(2)]), threshold: 0.5 },
    ],
    scene: [SCENE],
    allowed: null,
    negatives: [],
    residualMean: null,
    ...overrides,
  };
}

describe('residuals', () => {
  it('keep what differs from the scene, and its size', () => {
    const r = residual(withObject(1), SCENE, null);
    assert.ok(Math.abs(dot(r.vector, r.vector) - 1) < 1e-5, 'unit');
    assert.ok(r.vector[1]! > 0.8, `mostly the object's axis: ${r.vector[1]}`);
    assert.ok(r.norm > 0.4);
    assert.ok(residual(SCENE, SCENE, null).norm < 1e-6);
  });

  it('are taken against the nearest scene look', () => {
    const night = vec({ 4: 1 });
    assert.equal(nearestScene(vec({ 4: 1, 1: 0.3 }), [SCENE, night])!.vector, night);
    assert.equal(nearestScene(SCENE, []), null);
    assert.equal(residualShot(SCENE, [], null), null);
  });

  it('subtract the residual mean when one is given', () => {
    const mean = vec({ 0: -1 }); // the "something appeared" direction common to all residuals
    const plain = residual(withObject(1), SCENE, null).vector;
    const centred = residual(withObject(1), SCENE, mean).vector;
    assert.ok(centred[0]! > plain[0]!, 'the common direction is removed');
  });
});

describe('decide', () => {
  it('labels an object that is clearly different from the scene and like a class', () => {
    const d = decide(withObject(1), zone(), OPTS);
    assert.equal(d.label, 'cat');
    assert.equal(d.reason, 'match');
    assert.ok(d.score > 0.9 && d.scores.dog! < 0.5);
    assert.ok(d.sceneScore < 1 && d.residual > 0.4);
    assert.deepEqual(d.vector, residual(withObject(1), SCENE, null).vector, 'the residual an event keeps');
  });

  it('says none for the scene itself and for frames that barely differ from it', () => {
    assert.equal(decide(SCENE, zone(), OPTS).label, 'none');
    const d = decide(withObject(1, 0.05), zone(), OPTS);
    assert.equal(d.label, 'none');
    assert.equal(d.reason, 'scene');
    assert.ok(d.scores.cat! > 0.9, 'still reports the scores');
  });

  it('says unknown for something that is no class', () => {
    const d = decide(withObject(3), zone(), OPTS);
    assert.equal(d.label, 'unknown');
    assert.equal(d.reason, 'below_threshold');
  });

  it("uses each class's own threshold", () => {
    const z = zone();
    const strict = { ...z, classes: z.classes.map((c) => (c.label === 'cat' ? { ...c, threshold: 0.99 } : c)) };
    const x = vec({ 0: 1, 1: 0.5, 3: 0.2 });
    assert.equal(decide(x, z, OPTS).label, 'cat');
    assert.equal(decide(x, strict, OPTS).reason, 'below_threshold');
  });

  it('says unknown when two classes are too close to call', () => {
    const d = decide(vec({ 0: 1, 1: 0.5, 2: 0.5 }), zone({ classes: zone().classes.map((c) => ({ ...c, threshold: 0.3 })) }), OPTS);
    assert.equal(d.label, 'unknown');
    assert.equal(d.reason, 'margin');
  });

  it('only lets the allowed classes compete', () => {
    const d = decide(withObject(1), zone({ allowed: new Set(['dog']) }), OPTS);
    assert.deepEqual(Object.keys(d.scores), ['dog']);
    assert.equal(d.label, 'unknown');
  });

  it('rejects a frame as close to a rejected frame of that class as to the class', () => {
    const fox = vec({ 0: 1, 1: 0.5, 3: 0.35 }); // a fox that looks a lot like the cat
    const before = decide(fox, zone(), OPTS);
    assert.equal(before.label, 'cat');
    const negatives = [{ label: 'cat', residual: residual(fox, SCENE, null).vector }];
    const after = decide(vec({ 0: 1, 1: 0.5, 3: 0.33 }), zone({ negatives }), OPTS);
    assert.equal(after.label, 'unknown');
    assert.equal(after.reason, 'negative');
    assert.equal(decide(withObject(1), zone({ negatives }), OPTS).label, 'cat', 'the cat itself is still the cat');
    assert.equal(decide(vec({ 0: 1, 1: 0.5, 3: 0.33 }), zone({ negatives: [{ ...negatives[0]!, label: 'dog' }] }), OPTS).label, 'cat', 'a negative of another class does not count');
  });

  it('says none without a scene yet and unknown without classes', () => {
    assert.equal(decide(withObject(1), zone({ scene: [] }), OPTS).reason, 'no_scene');
    assert.equal(decide(withObject(1), zone({ scene: [] }), OPTS).vector, null);
    const d = decide(withObject(1), zone({ classes: [] }), OPTS);
    assert.equal(d.label, 'unknown');
    assert.equal(d.reason, 'no_classes');
  });

  it('refuses an embedding of another size with a clear error', () => {
    assert.throws(() => decide(new Float32Array(3), zone(), OPTS), /3 values, the scene has 16/);
  });
});
