import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classThresholds, classWeight, decisionClasses, type ThresholdOptions } from '../../src/recognition/classThresholds.js';
import { dot, l2Normalize } from '../../src/recognition/vector.js';

const DIM = 8;
const OPTS: ThresholdOptions = { floor: 0.3, impostorMargin: 0.05, ceiling: 0.9 };

function vec(parts: Record<number, number>): Float32Array {
  const v = new Float32Array(DIM);
  for (const [i, w] of Object.entries(parts)) v[Number(i)] = w;
  return l2Normalize(v);
}

const NONE: never[] = [];

describe('classThresholds', () => {
  it('puts a class just above its closest impostor', () => {
    const cat = [vec({ 0: 1, 1: 0.1 }), vec({ 0: 1, 2: 0.1 })];
    const lynx = [vec({ 0: 1, 3: 1 })]; // cos to cat ~0.7
    const [t] = classThresholds([{ label: 'cat', shots: cat }, { label: 'lynx', shots: lynx }], NONE, OPTS);
    const impostor = dot(classWeight(cat), lynx[0]!);
    assert.equal(t!.source, 'data');
    assert.ok(Math.abs(t!.impostor! - impostor) < 1e-6);
    assert.ok(Math.abs(t!.threshold - (impostor + 0.05)) < 1e-6, `${t!.threshold} vs ${impostor}`);
    assert.ok(t!.genuine! > 0.95, 'two close shots');
  });

  it('stays at the floor when every impostor is far', () => {
    const t = classThresholds([{ label: 'a', shots: [vec({ 0: 1 })] }, { label: 'b', shots: [vec({ 1: 1 })] }], NONE, OPTS);
    assert.deepEqual(t.map((c) => c.source), ['floor', 'floor']);
    assert.deepEqual(t.map((c) => c.threshold), [0.3, 0.3]);
    assert.equal(t[0]!.genuine, null, 'one shot: no spread');
    assert.equal(classThresholds([{ label: 'alone', shots: [vec({ 0: 1 })] }], NONE, OPTS)[0]!.source, 'floor');
  });

  it("rises with a zone's rejected frames of that class only", () => {
    const cat = [vec({ 0: 1 })];
    const dog = [vec({ 1: 1 })];
    const fox = vec({ 0: 1, 2: 1 }); // rejected as cat: cos ~0.71
    const t = classThresholds([{ label: 'cat', shots: cat }, { label: 'dog', shots: dog }], [{ label: 'cat', residual: fox }], OPTS);
    assert.ok(Math.abs(t[0]!.threshold - (dot(cat[0]!, fox) + 0.05)) < 1e-6);
    assert.equal(t[1]!.threshold, 0.3, "the dog's threshold is unchanged");
  });


  it("never rejects a class's own shots: meets halfway when impostors come too close", () => {
    const cat = [vec({ 0: 1, 1: 0.5 }), vec({ 0: 1, 2: 0.5 })];
    const twin = [vec({ 0: 1, 3: 0.3 })];
    const [t] = classThresholds([{ label: 'cat', shots: cat }, { label: 'twin', shots: twin }], NONE, OPTS);
    assert.ok(t!.impostor! + 0.05 > t!.genuine!, 'the impostor is closer than the spread allows');
    assert.ok(Math.abs(t!.threshold - (t!.impostor! + t!.genuine!) / 2) < 1e-6);
  });

  it('caps at the ceiling and lets the user override', () => {
    const a = [vec({ 0: 1 })];
    const b = [vec({ 0: 1, 1: 0.01 })];
    const [t] = classThresholds([{ label: 'a', shots: a }, { label: 'b', shots: b }], NONE, OPTS);
    assert.equal(t!.threshold, 0.9);
    const [o] = classThresholds([{ label: 'a', shots: a, override: 0.42 }, { label: 'b', shots: b }], NONE, OPTS);
    assert.equal(o!.source, 'override');
    assert.equal(o!.threshold, 0.42);
  });

  it('builds the decision classes: weights, effective thresholds, classes without shots left out', () => {
    const cat = [vec({ 0: 1 })];
    const lynx = [vec({ 0: 1, 1: 1 })];
    const input = [{ label: 'cat', shots: cat }, { label: 'lynx', shots: lynx, override: 0.5 }, { label: 'empty', shots: [] }];
    const data = decisionClasses(input, [], { ...OPTS, perClass: true });
    assert.deepEqual(data.classes.map((c) => c.label), ['cat', 'lynx']);
    assert.deepEqual(data.classes[0]!.weight, classWeight(cat));
    assert.ok(Math.abs(data.classes[0]!.threshold - (dot(cat[0]!, lynx[0]!) + 0.05)) < 1e-6);
    assert.equal(data.classes[1]!.threshold, 0.5);
    const flat = decisionClasses(input, [], { ...OPTS, perClass: false });
    assert.deepEqual(flat.classes.map((c) => c.threshold), [0.3, 0.5]);
    assert.deepEqual(flat.thresholds.map((t) => t.source), ['floor', 'override']);
  });
});
