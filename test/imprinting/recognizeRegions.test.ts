/**
 * Regions of a camera frame matched with crop classes: classes cut out of camera frames
 * against the region's cut-out (with the crop floor), photo classes against the region as
 * the camera saw it (photos keep their background).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { recognizerOptions } from '../../src/core.js';
import { Recognizer } from '../../src/imprinting/recognizer.js';
import type { SceneBook } from '../../src/imprinting/sceneBook.js';
import { DEFAULT_CROP_FLOOR, NEAR_LEVEL } from '../../src/recognition/defaults.js';
import { NONE, type Classification } from '../../src/recognition/types.js';
import { l2Normalize } from '../../src/recognition/vector.js';

const DIM = 16;
const axis = (i: number): Float32Array => Float32Array.from({ length: DIM }, (_, k) => (k === i ? 1 : 0));
/** A unit vector at cosine `c` to axis i (the rest along axis j). */
const towards = (i: number, c: number, j: number): Float32Array => l2Normalize(Float32Array.from({ length: DIM }, (_, k) => (k === i ? c : k === j ? Math.sqrt(1 - c * c) : 0)));

/** The scene book of units that have learned no scene yet (regions never ask it). */
const noScenes = { prototypes: () => [] } as unknown as SceneBook;

function recognizer(): Recognizer {
  const r = new Recognizer(recognizerOptions(loadConfig({ env: {}, overrides: {} })), noScenes);
  r.load({
    classes: [
      { label: 'rex', background: false, shots: [axis(0)], sources: ['camera:yard/box'], override: null },
      { label: 'tabby', background: false, shots: [axis(1)], sources: ['file:cat.jpg'], override: null },
      // A photo whose object was found: its whole look along axis 2, the object along axis 3.
      { label: 'mug', background: false, shots: [axis(2)], sources: ['mqtt'], objects: [axis(3)], override: null },
    ],
    zoneShots: [],
    negatives: [],
  });
  return r;
}

const nothing: Classification = { label: NONE, score: 0.1, scores: {} };
const BOX = { x: 0.1, y: 0.2, width: 0.3, height: 0.3 };

describe('recognizeRegions', () => {
  it('matches a box class with the cut-out and a photo class with the region as seen', () => {
    const r = recognizer();
    // The cut-out looks like rex; the plain view like tabby: each class reads its own view.
    const rex = r.recognizeRegions(nothing, [{ box: BOX, embedding: axis(0), plain: axis(1) }], []);
    assert.equal(rex.label, 'rex');
    assert.deepEqual(rex.box, BOX);
    const tabby = r.recognizeRegions(nothing, [{ box: BOX, embedding: axis(5), plain: axis(1) }], []);
    assert.equal(tabby.label, 'tabby');
    assert.equal(tabby.reason, 'crop_match');
  });

  it('holds cut-out classes to the crop floor, photo classes to their own threshold', () => {
    const r = recognizer();
    const below = DEFAULT_CROP_FLOOR - 0.04;
    assert.ok(below > r.threshold('rex'), 'between the class threshold and the floor');
    assert.equal(r.recognizeRegions(nothing, [{ box: BOX, embedding: towards(0, below, 7) }], []).label, NONE);
    assert.equal(r.recognizeRegions(nothing, [{ box: BOX, embedding: towards(0, DEFAULT_CROP_FLOOR + 0.04, 7) }], []).label, 'rex');
    assert.equal(r.recognizeRegions(nothing, [{ box: BOX, embedding: axis(8), plain: towards(1, below, 7) }], []).label, 'tabby');
  });

  it('knows which crop classes are photos', () => {
    const r = recognizer();
    assert.equal(r.isPhotoCrop('tabby'), true);
    assert.equal(r.isPhotoCrop('rex'), false);
    assert.equal(r.isPhotoCrop('mug'), true, 'matched by the region as seen too');
  });

  it('matches a photo class whose object was found by that object, against the cut-out, with the crop floor', () => {
    const r = recognizer();
    const mug = r.recognizeRegions(nothing, [{ box: BOX, embedding: axis(3), plain: axis(9) }], []);
    assert.equal(mug.label, 'mug');
    assert.deepEqual(mug.box, BOX);
    // The region as seen, looking like the whole photo, still names it.
    assert.equal(r.recognizeRegions(nothing, [{ box: BOX, embedding: axis(9), plain: axis(2) }], []).label, 'mug');
    assert.equal(r.recognizeRegions(nothing, [{ box: BOX, embedding: towards(3, DEFAULT_CROP_FLOOR - 0.04, 7), plain: axis(9) }], []).label, NONE);
    assert.equal(r.recognizeRegions(nothing, [{ box: BOX, embedding: towards(3, DEFAULT_CROP_FLOOR + 0.04, 7), plain: axis(9) }], []).label, 'mug');
    // A photo is still classified by the whole photo.
    assert.equal(r.classify(axis(2)).label, 'mug');
  });

  it('matches a whole unit by the look of photo classes, not of classes cut out of camera frames (regions match those)', () => {
    const r = recognizer();
    const unit = { camera: 'porch', zone: null };
    // Before the unit knows its scene, classes are tried by their look.
    assert.equal(r.recognize(axis(1), unit, []).label, 'tabby');
    const rex = r.recognize(axis(0), unit, []);
    assert.notEqual(rex.label, 'rex', 'an object on grey is no view');
    assert.equal(r.recognizeRegions(rex, [{ box: BOX, embedding: axis(0) }], []).label, 'rex');
  });
  it('tells a class the regions came near without reaching it (the vote counts it), and none far below', () => {
    const r = recognizer();
    const near = r.recognizeRegions(nothing, [{ box: BOX, embedding: towards(0, NEAR_LEVEL + 0.02, 7) }], []);
    assert.equal(near.label, NONE);
    assert.equal(near.near?.label, 'rex');
    const far = r.recognizeRegions(nothing, [{ box: BOX, embedding: towards(0, NEAR_LEVEL - 0.05, 7) }], []);
    assert.equal(far.near, undefined);
    const named = r.recognizeRegions(nothing, [{ box: BOX, embedding: towards(0, DEFAULT_CROP_FLOOR + 0.04, 7) }], []);
    assert.equal(named.label, 'rex');
    assert.equal(named.near, undefined, 'a named class needs no near');
  });
});
