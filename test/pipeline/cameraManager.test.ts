import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { CameraManager } from '../../src/pipeline/cameraManager.js';
import { isAppError } from '../../src/errors.js';
import { EventBus, type Events } from '../../src/eventBus.js';
import type { Classification } from '../../src/recognition/types.js';
import { tempDir, testLogger, waitFor } from '../helpers/env.js';
import { buildTestClip, startRtspServer, type RtspServer } from '../helpers/rtspServer.js';
import { cameraConfig, classifierConfig, INPUT_SIZE } from '../camera/fixtures.js';

const dir = tempDir('edge-imprint-cammgr-');
let clip = '';
const servers: RtspServer[] = [];

before(() => {
  clip = buildTestClip(dir.path, 'clip', { repeat: 6, secondsEach: 2 });
});

after(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  dir.cleanup();
});

function childFfmpegs(): number[] {
  const out = spawnSync('pgrep', ['-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(Boolean).map(Number);
}

interface Recorded {
  status: Events['cameraStatus'][];
  results: Events['cameraResult'][];
  states: Events['classState'][];
  events: Events['detectionEvent'][];
}

function record(bus: EventBus): Recorded {
  const r: Recorded = { status: [], results: [], states: [], events: [] };
  bus.on('cameraStatus', (e) => void r.status.push(e));
  bus.on('cameraResult', (e) => void r.results.push(e));
  bus.on('classState', (e) => void r.states.push(e));
  bus.on('detectionEvent', (e) => void r.events.push(e));
  return r;
}

/** A stand-in detector+classifier: every frame is a dog, after a short inference time. */
async function classifyDog(_rgb: Uint8Array): Promise<Classification> {
  await new Promise((r) => setTimeout(r, 5));
  return { label: 'dog', score: 0.9, scores: { dog: 0.9, cat: 0.2 } };
}

void test('two cameras: events per camera; one failing does not disturb the other; runtime enable; live frames; clean stop', async () => {
  const a = await startRtspServer({ file: clip });
  const b = await startRtspServer({ file: clip });
  servers.push(a, b);
  const bus = new EventBus(testLogger());
  const rec = record(bus);
  const manager = new CameraManager({
    config: {
      cameras: {
        a: cameraConfig({ url: a.url, fps: 5, stall_timeout: 3 }),
        b: cameraConfig({ url: b.url, fps: 5, stall_timeout: 3, snapshot: { enabled: false, quality: 80, width: 640 } }),
      },
      classifier: classifierConfig({ off_delay_s: 1 }),
    },
    bus,
    logger: testLogger(),
    classify: classifyDog,
    inputSize: INPUT_SIZE,
  });
  try {
    await manager.start();
    assert.deepEqual(manager.names(), ['a', 'b']);
    await waitFor(() => rec.events.filter((e) => e.type === 'start').length >= 2, 15_000, 'a start event per camera');
    const starts = rec.events.filter((e) => e.type === 'start');
    assert.deepEqual(starts.map((e) => e.camera).sort(), ['a', 'b']);
    for (const start of starts) {
      assert.equal(start.label, 'dog');
      assert.ok(start.snapshot, `camera ${start.camera} start event has a snapshot`);
      const meta = await sharp(start.snapshot).metadata();
      assert.equal(meta.format, 'jpeg');
      // a: its own 640 px snapshot of that frame; b (snapshots disabled): a JPEG of the model input.
      assert.equal(meta.width, start.camera === 'a' ? 640 : INPUT_SIZE.width);
    }
    const snapshotA = await waitFor(() => manager.latestSnapshot('a') ?? undefined, 3000, 'a snapshot of a');
    assert.equal((await sharp(snapshotA).metadata()).width, 640);
    assert.equal(manager.latestSnapshot('b'), null);
    assert.ok(rec.states.some((s) => s.camera === 'a' && s.label === 'dog' && s.on));
    assert.equal(rec.results.find((r) => r.camera === 'a')?.label, 'unknown', 'unconfirmed at first');
    assert.equal(rec.results.filter((r) => r.camera === 'a').at(-1)?.label, 'dog');

    // Camera b's server dies: b goes offline, a keeps its pace.
    await b.kill();
    const aBefore = rec.results.filter((r) => r.camera === 'a').length;
    await waitFor(() => rec.status.find((s) => s.camera === 'b' && s.status === 'offline'), 6000, 'b offline');
    const aDuring = rec.results.filter((r) => r.camera === 'a').length - aBefore;
    const stats = manager.stats();
    assert.equal(stats.a?.status, 'online');
    assert.equal(stats.b?.status, 'offline');
    assert.ok(aDuring >= 10, `camera a kept going while b was down (${aDuring} results)`);
    assert.ok((stats.a?.camera_fps ?? 0) >= 3.5, `a camera_fps ${stats.a?.camera_fps}`);
    assert.ok((stats.b?.reconnects ?? 0) >= 1);
    assert.equal(rec.status.filter((s) => s.camera === 'a').length, 1, 'a status published once');
    // b's class ends after off_delay_s without frames.
    await waitFor(() => rec.events.find((e) => e.camera === 'b' && e.type === 'end'), 3000, 'b dog ends');

    // Live frames for enrollment.
    const live = await manager.latestFrame('a');
    assert.equal(live?.rgb.length, INPUT_SIZE.width * INPUT_SIZE.height * 3);
    assert.equal(await manager.latestFrame('b'), null, 'no live frame from a camera that is down');
    await assert.rejects(manager.latestFrame('nope'), (e) => isAppError(e) && e.code === 'not_found');
    assert.throws(() => manager.setEnabled('nope', true), (e) => isAppError(e) && e.code === 'not_found');

    // Detection switched off at run time: the class ends, no more results; frames still flow.
    manager.setEnabled('a', false);
    await waitFor(() => rec.events.some((e) => e.camera === 'a' && e.type === 'end'), 1000, 'a dog ends');
    await new Promise((r) => setTimeout(r, 200));
    const resultsOff = rec.results.filter((r) => r.camera === 'a').length;
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(rec.results.filter((r) => r.camera === 'a').length, resultsOff);
    assert.equal(manager.isEnabled('a'), false);
    assert.deepEqual(Object.keys(manager.stats().a ?? {}).sort(), ['camera_fps', 'process_fps', 'reconnects', 'skipped_fps', 'status']);
    assert.ok(((await manager.latestFrame('a'))?.rgb.length ?? 0) > 0, 'live frames while detection is off');
    manager.setEnabled('a', true);
    await waitFor(() => rec.results.filter((r) => r.camera === 'a').length > resultsOff, 3000, 'results again');
  } finally {
    await manager.stop();
  }
  assert.deepEqual(childFfmpegs(), [], 'no ffmpeg survives stop()');
});

void test('a start whose snapshot fails still goes out, and the camera\'s later events too', async () => {
  const server = await startRtspServer({ file: clip });
  servers.push(server);
  const bus = new EventBus(testLogger());
  const rec = record(bus);
  let failed = 0;
  const manager = new CameraManager({
    config: { cameras: { a: cameraConfig({ url: server.url, fps: 5, stall_timeout: 3 }) }, classifier: classifierConfig({ off_delay_s: 60 }) },
    bus,
    logger: testLogger(),
    classify: classifyDog,
    inputSize: INPUT_SIZE,
    // The first frame's snapshot fails, as a lost JPEG pipe would.
    onResult: (r) => {
      const real = r.frame.snapshot;
      r.frame.snapshot = () => (failed++ === 0 ? Promise.reject(new Error('snapshot pipe broke')) : real());
    },
  });
  try {
    await manager.start();
    const start = await waitFor(() => rec.events.find((e) => e.type === 'start'), 15_000, 'the start event');
    assert.ok(failed >= 1, 'a snapshot failed');
    manager.setEnabled('a', false);
    const end = await waitFor(() => rec.events.find((e) => e.type === 'end'), 5000, 'the end event after it');
    assert.equal(end.id, start.id);
  } finally {
    await manager.stop();
  }
});
