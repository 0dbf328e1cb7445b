import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SCENE_OPTIONS, SceneModel, type SceneModelOptions } from '../../src/recognition/sceneModel.js';
import { dot, l2Normalize, seededRandom } from '../../src/recognition/vector.js';

const DIM = 32;

function axis(i: number): Float32Array {
  const v = new Float32Array(DIM);
  v[i] = 1;
  return v;
}

/** A unit vector at cosine c to axis i, the rest along axis j. */
function towards(i: number, j: number, c: number): Float32Array {
  const v = new Float32Array(DIM);
  v[i] = c;
  v[j] = Math.sqrt(1 - c * c);
  return v;
}

function model(overrides: Partial<SceneModelOptions> = {}): { scene: SceneModel; clock: { now: number } } {
  const clock = { now: Date.UTC(2026, 0, 1) };
  return { scene: new SceneModel({ ...DEFAULT_SCENE_OPTIONS, firstLookAfterS: 0, clock: () => clock.now, ...overrides }), clock };
}

describe('SceneModel', () => {
  it('takes the first quiet frame as its first prototype at once when firstLookAfterS is 0', () => {
    const { scene } = model({ firstLookAfterS: 0 });
    assert.equal(scene.similarity(axis(0)), -Infinity);
    assert.equal(scene.observe(axis(0), { classOn: false }), 'created');
    assert.equal(scene.prototypes().length, 1);
    assert.ok(Math.abs(scene.similarity(axis(0)) - 1) < 1e-6);
  });

  it('by default takes its first prototype from a look that stays firstLookAfterS, not from a passing one', () => {
    const { scene, clock } = model({ firstLookAfterS: 10 });
    assert.equal(scene.observe(axis(1), { classOn: false }), 'pending', 'something at the door at the first start');
    clock.now += 4000;
    assert.equal(scene.observe(axis(0), { classOn: false }), 'pending', 'it left after 4 s: a new look starts');
    clock.now += 6000;
    assert.equal(scene.observe(axis(0), { classOn: false }), 'pending');
    clock.now += 4500;
    assert.equal(scene.observe(axis(0), { classOn: false }), 'promoted');
    assert.equal(scene.prototypes().length, 1);
    assert.ok(scene.similarity(axis(0)) > 0.99 && scene.similarity(axis(1)) < 0.5, 'the empty look, not the passer-by');
  });

  it('never learns while a class is ON or from a frame a user confirmed as a class', () => {
    const { scene } = model();
    assert.equal(scene.observe(axis(0), { classOn: true }), 'skipped');
    assert.equal(scene.observe(axis(0), { classOn: false, confirmed: true }), 'skipped');
    assert.equal(scene.prototypes().length, 0);
  });

  it('follows a slow drift (light over a day) with a time-based rate', () => {
    const { scene, clock } = model({ tauS: 100 });
    scene.observe(axis(0), { classOn: false });
    // Drift from axis 0 towards axis 1 in small steps, one frame every 10 s.
    let drifted = axis(0);
    for (let k = 1; k <= 60; k++) {
      clock.now += 10_000;
      drifted = l2Normalize(towards(0, 1, Math.cos((k / 60) * 0.5)));
      assert.equal(scene.observe(drifted, { classOn: false }), 'updated');
    }
    assert.equal(scene.prototypes().length, 1);
    assert.ok(scene.similarity(drifted) > 0.99, `tracks the drift: ${scene.similarity(drifted)}`);
    assert.ok(dot(scene.prototypes()[0]!, axis(0)) < 0.95, 'moved away from the morning look');
  });

  it('barely moves for a few frames of a passing object that still matches the scene', () => {
    const { scene, clock } = model({ tauS: 120 });
    scene.observe(axis(0), { classOn: false });
    const passing = towards(0, 1, 0.92);
    for (let k = 0; k < 6; k++) {
      clock.now += 500;
      scene.observe(passing, { classOn: false });
    }
    assert.ok(dot(scene.prototypes()[0]!, axis(0)) > 0.9999, 'six frames at 2 fps move it by almost nothing');
  });

  it('makes a new look a prototype only after it persisted promoteAfterS, and forgets a look that goes away', () => {
    const { scene, clock } = model({ promoteAfterS: 60 });
    scene.observe(axis(0), { classOn: false });
    clock.now += 1000;
    assert.equal(scene.observe(axis(1), { classOn: false }), 'pending');
    clock.now += 30_000;
    assert.equal(scene.observe(axis(1), { classOn: false }), 'pending');
    clock.now += 1000;
    scene.observe(axis(0), { classOn: false }); // the scene again: the pending look is dropped
    clock.now += 40_000;
    assert.equal(scene.observe(axis(1), { classOn: false }), 'pending', 'starts over');
    assert.equal(scene.state().pending?.frames, 1);
    for (let k = 0; k < 61; k++) {
      clock.now += 1000;
      const r = scene.observe(axis(1), { classOn: false });
      if (k < 59) assert.equal(r, 'pending');
      if (r === 'promoted') break;
    }
    assert.equal(scene.prototypes().length, 2);
    assert.ok(Math.abs(scene.similarity(axis(1)) - 1) < 1e-6);
  });

  it('keeps at most maxPrototypes, replacing the one updated longest ago', () => {
    const { scene, clock } = model({ maxPrototypes: 2 });
    scene.addPrototype(axis(0));
    clock.now += 1000;
    scene.addPrototype(axis(1));
    clock.now += 1000;
    scene.observe(axis(0), { classOn: false }); // axis 0 is now the fresher one
    clock.now += 1000;
    scene.addPrototype(axis(2));
    const kept = scene.prototypes();
    assert.equal(kept.length, 2);
    assert.ok(scene.similarity(axis(0)) > 0.99 && scene.similarity(axis(2)) > 0.99);
    assert.ok(scene.similarity(axis(1)) < 0.5, 'axis 1 was replaced');
  });

  it('serialises to JSON and back with the same prototypes and state', () => {
    const { scene, clock } = model();
    const random = seededRandom(3);
    const v = l2Normalize(Float32Array.from({ length: DIM }, () => random() - 0.5));
    scene.observe(v, { classOn: false });
    clock.now += 5000;
    scene.addPrototype(axis(4));
    const json = JSON.parse(JSON.stringify(scene.toJSON())) as unknown;
    const back = SceneModel.fromJSON(json, { ...DEFAULT_SCENE_OPTIONS, clock: () => clock.now });
    assert.deepEqual(back.prototypes(), scene.prototypes());
    assert.deepEqual(back.state().prototypes, scene.state().prototypes);
    assert.equal(back.state().updated_at, new Date(clock.now).toISOString());
  });

  it('rejects a bad snapshot with an error naming the field', () => {
    const opts = { ...DEFAULT_SCENE_OPTIONS, clock: () => 0 };
    const { scene } = model();
    scene.addPrototype(axis(0));
    const good = scene.toJSON();
    assert.throws(() => SceneModel.fromJSON({ ...good, version: 2 }, opts), /version/);
    assert.throws(() => SceneModel.fromJSON({ ...good, prototypes: 'x' }, opts), /prototypes must be an array/);
    assert.throws(() => SceneModel.fromJSON({ ...good, dim: 3 }, opts), /prototypes\[0\]\.vector/);
    assert.throws(() => SceneModel.fromJSON({ ...good, prototypes: [{ ...good.prototypes[0]!, created_at: 'soon' }] }, opts), /prototypes\[0\]: created_at/);
    assert.throws(() => SceneModel.fromJSON({ ...good, prototypes: [{ ...good.prototypes[0]!, hits: -1 }] }, opts), /prototypes\[0\]\.hits/);
  });

  it('reports its state for diagnostics', () => {
    const { scene, clock } = model();
    assert.deepEqual(scene.state(), { prototypes: [], pending: null, updated_at: null });
    scene.observe(axis(0), { classOn: false });
    clock.now += 2000;
    scene.observe(axis(0), { classOn: false });
    const s = scene.state();
    assert.equal(s.prototypes.length, 1);
    assert.equal(s.prototypes[0]!.hits, 2);
    assert.equal(s.updated_at, new Date(clock.now).toISOString());
  });
});
