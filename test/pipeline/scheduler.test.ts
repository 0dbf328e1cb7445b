import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RawFrame } from '../../src/camera/cameraSource.js';
import { MotionGate } from '../../src/pipeline/motionGate.js';
import { FrameScheduler, type ScheduledResult } from '../../src/pipeline/scheduler.js';
import type { Classification } from '../../src/recognition/types.js';
import { testLogger } from '../helpers/env.js';
import { INPUT_SIZE } from '../camera/fixtures.js';

const FRAME_BYTES = INPUT_SIZE.width * INPUT_SIZE.height * 3;

function frame(camera: string, seq: number, fill = seq % 256, units = 1): RawFrame {
  const rgb = new Uint8Array(FRAME_BYTES * units).fill(fill);
  const crops = Array.from({ length: units }, (_, i) => rgb.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES));
  return { camera, seq, at: Date.now(), rgb, crops, snapshot: async () => null };
}

const one = (gate: MotionGate | null = null) => [{ zone: null, gate }];

/** A classifier whose calls finish only when the test says so. */
function gatedClassifier() {
  const calls: { rgb: Uint8Array; resolve: (c: Classification) => void }[] = [];
  const classify = (rgb: Uint8Array) =>
    new Promise<Classification>((resolve) => calls.push({ rgb, resolve }));
  const finish = async (label = 'dog') => {
    const call = calls.shift();
    assert.ok(call, 'a classification is in flight');
    call.resolve({ label, score: 0.9, scores: { [label]: 0.9 } });
    await new Promise((r) => setImmediate(r));
  };
  return { classify, calls, finish };
}

async function setup(cameras: string[], gate?: () => MotionGate) {
  const c = gatedClassifier();
  const results: ScheduledResult[] = [];
  const scheduler = new FrameScheduler({ classify: c.classify, onResult: (r) => results.push(r), logger: testLogger() });
  for (const name of cameras) scheduler.addCamera(name, { enabled: true, units: one(gate ? gate() : null) });
  await scheduler.start();
  /** Stop waits for the inference in flight: let it finish. */
  const stop = async () => {
    const done = scheduler.stop();
    while (c.calls.length > 0) await c.finish();
    await done;
  };
  return { scheduler, results, stop, ...c };
}

void test('one inference at a time; per camera the latest frame wins and replaced frames count as skipped', async () => {
  const s = await setup(['a']);
  s.scheduler.offer(frame('a', 1));
  s.scheduler.offer(frame('a', 2));
  s.scheduler.offer(frame('a', 3));
  s.scheduler.offer(frame('a', 4));
  assert.equal(s.calls.length, 1, 'only one classification in flight');
  await s.finish();
  assert.equal(s.calls.length, 1);
  assert.equal(s.calls[0]?.rgb[0], 4, 'the newest pending frame is next');
  await s.finish();
  assert.deepEqual(s.results.map((r) => r.frame.seq), [1, 4]);
  const stats = s.scheduler.stats('a');
  assert.equal(stats?.frames, 4);
  assert.equal(stats?.skipped, 2);
  assert.equal(stats?.processed, 2);
  await s.stop();
});

void test('cameras take turns: a flooding camera cannot starve the others', async () => {
  const s = await setup(['a', 'b', 'c']);
  s.scheduler.offer(frame('a', 1));
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 10; i++) s.scheduler.offer(frame('a', 100 + round * 10 + i));
    if (round % 2 === 0) s.scheduler.offer(frame('b', 200 + round));
    if (round === 1) s.scheduler.offer(frame('c', 300));
    await s.finish();
  }
  const order = s.results.map((r) => r.camera).join('');
  assert.equal(order, 'abcaba');
  // Each camera holds at most one pending frame, so skipped = offered - processed - pending.
  const a = s.scheduler.stats('a');
  assert.ok((a?.skipped ?? 0) >= 50);
  assert.equal(s.scheduler.stats('c')?.skipped, 0);
  await s.stop();
});

void test('a disabled camera is not classified; re-enabled it is', async () => {
  const s = await setup(['a', 'b']);
  s.scheduler.setEnabled('a', false);
  assert.equal(s.scheduler.isEnabled('a'), false);
  s.scheduler.offer(frame('a', 1));
  assert.equal(s.calls.length, 0);
  s.scheduler.offer(frame('b', 1));
  await s.finish();
  s.scheduler.setEnabled('a', true);
  s.scheduler.offer(frame('a', 2));
  await s.finish();
  assert.deepEqual(s.results.map((r) => `${r.camera}${r.frame.seq}`), ['b1', 'a2']);
  assert.equal(s.scheduler.stats('a')?.frames, 2, 'frames still counted while disabled');
  await s.stop();
});

void test('motion gate: a still frame reuses the last result without inference', async () => {
  const s = await setup(['a'], () => new MotionGate(INPUT_SIZE, { threshold: 0.05, maxSkipS: 60 }));
  s.scheduler.offer(frame('a', 1, 10));
  await s.finish('cat');
  s.scheduler.offer(frame('a', 2, 10));
  await new Promise((r) => setImmediate(r));
  assert.equal(s.calls.length, 0, 'no inference for the unchanged frame');
  assert.equal(s.results[1]?.units[0]?.reused, true);
  assert.equal(s.results[1]?.units[0]?.result.label, 'cat');
  s.scheduler.offer(frame('a', 3, 200));
  assert.equal(s.calls.length, 1, 'a changed frame is inferred');
  await s.finish('dog');
  assert.equal(s.scheduler.stats('a')?.motion_skipped, 1);
  await s.stop();
});

void test('a failing classifier is counted and does not stop the loop', async () => {
  let n = 0;
  const results: ScheduledResult[] = [];
  const scheduler = new FrameScheduler({
    classify: async () => {
      n += 1;
      if (n === 1) throw new Error('detector down');
      return { label: 'none', score: 0.9, scores: {} };
    },
    onResult: (r) => results.push(r),
    logger: testLogger(),
  });
  scheduler.addCamera('a', { enabled: true, units: one() });
  await scheduler.start();
  scheduler.offer(frame('a', 1));
  await new Promise((r) => setTimeout(r, 10));
  scheduler.offer(frame('a', 2));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(scheduler.stats('a')?.errors, 1);
  assert.deepEqual(results.map((r) => r.frame.seq), [2]);
  await scheduler.stop();
});

void test('rates: camera_fps, process_fps and skipped_fps over the last seconds', async () => {
  let now = 1_000_000;
  const scheduler = new FrameScheduler({
    classify: async () => ({ label: 'none', score: 1, scores: {} }),
    onResult: () => undefined,
    logger: testLogger(),
    clock: () => now,
  });
  scheduler.addCamera('a', { enabled: true, units: one() });
  await scheduler.start();
  // 10 s at 10 fps; of every 4 frames 2 are replaced while the detector is busy.
  for (let i = 0; i < 100; i++) {
    now += 100;
    scheduler.offer(frame('a', i));
    if (i % 4 === 3) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  now += 1000;
  const stats = scheduler.stats('a');
  assert.ok(stats && stats.camera_fps >= 9 && stats.camera_fps <= 11, `camera_fps ${stats?.camera_fps}`);
  assert.ok(stats.process_fps + stats.skipped_fps >= 9 && stats.process_fps + stats.skipped_fps <= 11, JSON.stringify(stats));
  assert.ok(stats.skipped_fps >= 4 && stats.skipped_fps <= 6, JSON.stringify(stats));
  await scheduler.stop();
});

void test('zones: the crops of one frame go to the detector back to back, each with its zone, and come back as one result', async () => {
  const seen: Array<{ zone: string | null; first: number }> = [];
  const results: ScheduledResult[] = [];
  const scheduler = new FrameScheduler({
    classify: async (rgb, unit) => {
      seen.push({ zone: unit.zone, first: rgb[0] ?? -1 });
      return { label: unit.zone === 'bin' ? 'bin_out' : 'none', score: 0.9, scores: {} };
    },
    onResult: (r) => results.push(r),
    logger: testLogger(),
  });
  scheduler.addCamera('drive', { enabled: true, units: [{ zone: 'bin', gate: null }, { zone: 'gate', gate: null }] });
  await scheduler.start();
  const f = frame('drive', 1, 0, 2);
  f.crops[1]?.fill(7);
  scheduler.offer(f);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen, [{ zone: 'bin', first: 0 }, { zone: 'gate', first: 7 }]);
  assert.equal(results.length, 1);
  assert.deepEqual(results[0]?.units.map((u) => [u.zone, u.result.label]), [['bin', 'bin_out'], ['gate', 'none']]);
  await scheduler.stop();
});
