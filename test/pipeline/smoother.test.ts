import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClassSmoother, type DetectionEvent } from '../../src/pipeline/smoother.js';
import type { Classification } from '../../src/recognition/types.js';

function setup(opts: { window?: number; minHits?: number; offDelayS?: number } = {}) {
  let now = 1_700_000_000_000;
  let ids = 0;
  const smoother = new ClassSmoother({
    camera: 'door',
    zone: null,
    window: opts.window ?? 5,
    minHits: opts.minHits ?? 3,
    offDelayS: opts.offDelayS ?? 2,
    threshold: 0.5,
    clock: () => now,
    newId: () => `id${++ids}`,
  });
  const events: DetectionEvent[] = [];
  const push = (label: string, score = 0.8) => {
    now += 200;
    const r: Classification = { label, score, scores: { [label]: score } };
    const u = smoother.push(r);
    events.push(...u.events);
    return u;
  };
  const advance = (ms: number) => {
    now += ms;
    const u = smoother.tick();
    events.push(...u.events);
    return u;
  };
  return { smoother, events, push, advance, now: () => now };
}

void test('a class turns ON at the min_hits-th hit within the window', () => {
  const s = setup();
  assert.equal(s.push('dog').changes.length, 0);
  s.push('unknown', 0.3);
  assert.equal(s.push('dog').changes.length, 0);
  const u = s.push('dog', 0.9);
  assert.deepEqual(u.changes, [{ label: 'dog', on: true }]);
  assert.equal(u.label, 'dog');
  const start = u.events[0];
  assert.equal(start?.type, 'start');
  assert.equal(start?.id, 'id1');
  assert.equal(start?.camera, 'door');
  assert.equal(start?.score, 0.9);
  // The camera manager attaches the frame's own snapshot (test/pipeline/cameraManager.test.ts).
  assert.equal(start?.snapshot, null);
  assert.equal(start?.end_time, null);
});

void test('hits spread wider than the window never turn ON', () => {
  const s = setup({ window: 3, minHits: 2 });
  for (let i = 0; i < 5; i++) {
    s.push('dog');
    s.push('none', 0.9);
    s.push('none', 0.9);
  }
  assert.equal(s.events.length, 0);
  assert.equal(s.push('none', 0.9).label, 'none');
});

void test('scores at or under the threshold are not hits', () => {
  const s = setup();
  for (let i = 0; i < 6; i++) s.push('dog', 0.5);
  assert.equal(s.events.length, 0);
});

void test('OFF only after off_delay_s without a hit; the end event keeps id, start time and max score', () => {
  const s = setup({ offDelayS: 2 });
  s.push('dog', 0.7);
  s.push('dog', 0.7);
  s.push('dog', 0.7);
  s.push('dog', 0.95);
  assert.equal(s.advance(1000).changes.length, 0);
  s.push('dog', 0.8); // a hit resets the delay
  assert.equal(s.advance(1900).changes.length, 0);
  const u = s.advance(200);
  assert.deepEqual(u.changes, [{ label: 'dog', on: false }]);
  const [start, end] = s.events;
  assert.equal(end?.type, 'end');
  assert.equal(end?.id, start?.id);
  assert.equal(end?.score, 0.95);
  assert.deepEqual(end?.start_time, start?.start_time);
  assert.equal(end?.end_time?.getTime(), s.now());
  assert.equal(u.label, 'none');
});

void test('unknown is reported as the label but turns nothing ON; none when only background', () => {
  const s = setup();
  let u = s.push('unknown', 0.4);
  for (let i = 0; i < 5; i++) u = s.push('unknown', 0.4);
  assert.equal(u.label, 'unknown');
  assert.equal(s.events.length, 0);
  for (let i = 0; i < 5; i++) u = s.push('none', 0.9);
  assert.equal(u.label, 'none');
  assert.equal(s.events.length, 0);
  assert.deepEqual(s.smoother.activeLabels(), []);
});

void test('two classes can be ON together; each gets its own start and end', () => {
  const s = setup({ window: 6, minHits: 2 });
  s.push('dog');
  s.push('cat');
  s.push('dog');
  s.push('cat');
  assert.deepEqual(s.smoother.activeLabels().sort(), ['cat', 'dog']);
  s.advance(5000);
  const types = s.events.map((e) => `${e.type}:${e.label}`);
  assert.deepEqual(types.sort(), ['end:cat', 'end:dog', 'start:cat', 'start:dog']);
  assert.notEqual(s.events[0]?.id, s.events[1]?.id);
});

void test('endAll ends active classes at once', () => {
  const s = setup();
  for (let i = 0; i < 3; i++) s.push('cat');
  const u = s.smoother.endAll();
  assert.deepEqual(u.changes, [{ label: 'cat', on: false }]);
  assert.equal(u.events[0]?.type, 'end');
});

void test('at a low frame rate the whole window still counts (votes are not aged out by off_delay)', () => {
  const s = setup({ window: 5, minHits: 3, offDelayS: 3 });
  let u = s.push('cat');
  for (let i = 0; i < 2; i++) {
    s.advance(2000); // 0.5 fps camera
    u = s.push('cat');
  }
  assert.deepEqual(u.changes, [{ label: 'cat', on: true }]);
});

void test('a class no longer kept (removed, renamed, made background) ends without an OFF and cannot turn ON again', () => {
  const s = setup({ window: 3, minHits: 2 });
  s.push('dog');
  s.push('dog');
  const start = s.events.find((e) => e.type === 'start');
  const u = s.smoother.keepClasses(new Set(['cat']));
  assert.deepEqual(u.changes, [], 'its topic was cleared: no OFF written back');
  assert.deepEqual(u.events.map((e) => [e.type, e.id]), [['end', start?.id]]);
  for (let i = 0; i < 3; i++) assert.deepEqual(s.push('dog').changes, [], 'a late result of the old class');
  assert.deepEqual(s.advance(5000).events, [], 'nothing expires later');
  s.push('cat');
  assert.deepEqual(s.push('cat').changes, [{ label: 'cat', on: true }]);
});

void test('frames that came near a class count for it once a frame wins it (a thin object cut out in pieces)', () => {
  const s = setup();
  const near = (label: string, score = 0.48) => {
    const r: Classification = { label: 'unknown', score: 0.15, scores: { [label]: score }, near: { label, score } };
    return s.smoother.push(r);
  };
  near('stethoscope');
  near('stethoscope');
  assert.equal(s.smoother.activeLabels().length, 0, 'near frames alone never turn a class ON');
  const on = s.push('stethoscope', 0.56);
  assert.deepEqual(on.changes, [{ label: 'stethoscope', on: true }], 'two near frames and a win: ON');
});

void test('near frames of another class, or of a class not kept, do not help', () => {
  const s = setup();
  const near = (label: string) => s.smoother.push({ label: 'unknown', score: 0.15, scores: {}, near: { label, score: 0.47 } });
  near('scissors');
  near('scissors');
  assert.equal(s.push('stethoscope', 0.56).changes.length, 0, 'near another class');
  const t = setup();
  t.smoother.keepClasses(new Set(['cat']));
  t.smoother.push({ label: 'unknown', score: 0.15, scores: {}, near: { label: 'gone', score: 0.47 } });
  t.smoother.push({ label: 'unknown', score: 0.15, scores: {}, near: { label: 'gone', score: 0.47 } });
  assert.equal(t.push('gone', 0.9).changes.length, 0, 'a removed class turns ON from nothing');
});

void test('near frames do not keep an ON class alive', () => {
  const s = setup({ offDelayS: 2 });
  s.push('dog');
  s.push('dog');
  s.push('dog');
  for (let i = 0; i < 12; i++) {
    s.advance(200);
    s.smoother.push({ label: 'unknown', score: 0.1, scores: {}, near: { label: 'dog', score: 0.47 } });
  }
  // 12 frames at 200 ms: 2.4 s since the last win, over the 2 s off delay.
  assert.deepEqual(s.smoother.activeLabels(), []);
});
