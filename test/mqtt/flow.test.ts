import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { CameraManager } from '../../src/pipeline/cameraManager.js';
import { image, tempDir, testLogger, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { buildTestClip, startRtspServer, type RtspServer } from '../helpers/rtspServer.js';
import { cameraConfig, classifierConfig } from '../camera/fixtures.js';
import { BASE, startAgent, startTestImprinting, TestClient, type Agent, type TestImprinting } from './harness.js';
import { enrollAnswerCounts, enrollCounts } from '../helpers/enrollAnswer.js';

function run(cmd: string, args: string[]): Promise<string> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`)))),
  );
}

void describe('whole flow: enroll with mosquitto_pub, the RTSP camera turns the class ON', () => {
  const dir = tempDir('edge-imprint-flow-');
  let rtsp: RtspServer;
  let broker: Mosquitto;
  let imprinting: TestImprinting;
  let cameras: CameraManager;
  let agent: Agent;
  let watcher: TestClient;

  before(async () => {
    const clip = buildTestClip(dir.path, 'cat', { images: [image('cat_test_0.jpg')], secondsEach: 30 });
    rtsp = await startRtspServer({ file: clip });
    broker = await startMosquitto({ persistence: false });
    imprinting = await startTestImprinting();
    const { imprinter, bus } = imprinting;
    cameras = new CameraManager({
      config: {
        cameras: { door: cameraConfig({ url: rtsp.url, fps: 5 }) },
        classifier: classifierConfig({ vote: { window: 3, min_hits: 2 } }),
      },
      bus,
      logger: testLogger(),
      classify: (rgb) => imprinter.classifyPixels(rgb),
      inputSize: imprinting.inputSize,
    });
    agent = await startAgent({
      url: broker.url,
      imprinter,
      bus,
      logger: testLogger(),
      cameras: ['door'],
      latestFrame: (camera, region) => cameras.latestFrame(camera, region),
      sceneFrame: (camera, zone) => cameras.sceneFrame(camera, zone),
      setCameraEnabled: (camera, on) => cameras.setEnabled(camera, on),
    });
    await cameras.start();
    watcher = await TestClient.connect(broker.url);
    await watcher.subscribe(`${BASE}/#`);
  });
  after(async () => {
    await watcher?.end();
    await cameras?.stop();
    await agent?.stop();
    await imprinting?.stop();
    await broker?.cleanup();
    await rtsp?.stop();
    dir.cleanup();
  });

  void it('mosquitto_pub -f enrolls `cat`, then <camera>/cat turns ON and a start event arrives', { timeout: 60_000 }, async () => {
    const port = String(broker.port);
    await waitFor(() => watcher.messages.some((m) => m.topic === `${BASE}/door/label`), 20_000, 'the camera classifying');
    assert.notEqual(watcher.messages.find((m) => m.topic === `${BASE}/door/label`)?.payload.toString(), 'cat');

    const from = watcher.messages.length;
    const sub = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-t', `${BASE}/response/class/enroll`, '-C', '1', '-W', '20']);
    await waitFor(() => (broker.log().match(/ SUBSCRIBE /g) ?? []).length >= 3, 5000, 'mosquitto_sub subscribed');
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-q', '1', '-t', `${BASE}/request/class/enroll/cat`, '-f', image('cat_train_0.jpg')]);
    assert.deepEqual(enrollAnswerCounts(JSON.parse(await sub)), { status: 'ok', data: { label: 'cat', shots: 1, added: 1 } });

    const on = await watcher.next(`${BASE}/door/cat`, from, (p) => p.toString() === 'ON', 20_000);
    assert.equal(on.retain, false, 'a live update');
    const start = await watcher.next(`${BASE}/events`, from, (p) => (JSON.parse(p.toString()) as { type: string }).type === 'start', 5000);
    const event = JSON.parse(start.payload.toString()) as Record<string, unknown>;
    assert.equal(event.camera, 'door');
    assert.equal(event.label, 'cat');
    assert.equal(typeof event.start_time, 'string');
    const snapshot = await watcher.next(`${BASE}/door/snapshot`, from, () => true, 5000);
    assert.equal(snapshot.payload[0], 0xff, 'snapshot is a JPEG');
    assert.equal((await watcher.next(`${BASE}/door/label`, from, (p) => p.toString() === 'cat', 5000)).payload.toString(), 'cat');

    // Enrolling from the live camera frames over MQTT too.
    const live = await watcher.request('class/enroll', { label: 'door view', camera: 'door', frames: 2, interval_ms: 100 });
    assert.equal(live.status, 'ok', JSON.stringify(live));
    assert.deepEqual(enrollCounts(live.data), { label: 'door view', shots: 2, added: 2 });
    // camera/detect off ends the active class.
    const off = watcher.messages.length;
    const res = await watcher.request('camera/detect', { camera: 'door', enabled: false });
    assert.equal(res.status, 'ok');
    assert.equal(cameras.isEnabled('door'), false);
    await watcher.next(`${BASE}/events`, off, (p) => (JSON.parse(p.toString()) as { type: string }).type === 'end', 5000);
  });
});

void describe('zones: one camera, two zones, each with its own label, class states, events and snapshot', () => {
  const dir = tempDir('edge-imprint-zones-');
  let broker: Mosquitto;
  let imprinting: TestImprinting;
  let cameras: CameraManager;
  let agent: Agent;
  let watcher: TestClient;

  before(async () => {
    // A 640x480 scene, an empty wall; the cat walks into its left half at 12-20 s and 26-34 s
    // (the clip loops): the zones learn the empty wall first, as on a real camera.
    const clip = `${dir.path}/scene.mp4`;
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'color=c=0x808070:s=640x480:r=10:d=40',
      '-loop', '1', '-framerate', '10', '-t', '40', '-i', image('cat_test_0.jpg'),
      '-filter_complex',
      "[1:v]scale=320:480:force_original_aspect_ratio=increase,crop=320:480[cat];[0:v][cat]overlay=x=0:y=0:enable='between(t,12,20)+between(t,26,34)',format=yuv420p[out]",
      '-map', '[out]', '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-g', '10', clip,
    ]);
    broker = await startMosquitto({ persistence: false });
    imprinting = await startTestImprinting();
    const { imprinter, bus } = imprinting;
    const zones = {
      left: { roi: { x: 0, y: 0, width: 0.5, height: 1 }, classes: [] },
      right: { roi: { x: 0.5, y: 0, width: 0.5, height: 1 }, classes: [] },
    };
    cameras = new CameraManager({
      config: { cameras: { door: cameraConfig({ url: clip, fps: 5, zones }) }, classifier: classifierConfig({ vote: { window: 3, min_hits: 2 } }) },
      bus,
      logger: testLogger(),
      classify: (rgb, unit) => imprinter.classifyPixels(rgb, unit),
      observe: (unit, result, active) => imprinter.observe(unit, result, active),
      inputSize: imprinting.inputSize,
    });
    agent = await startAgent({
      url: broker.url,
      imprinter,
      bus,
      logger: testLogger(),
      cameras: ['door'],
      zones: { door: ['left', 'right'] },
      latestFrame: (camera, region) => cameras.latestFrame(camera, region),
      sceneFrame: (camera, zone) => cameras.sceneFrame(camera, zone),
    });
    await cameras.start();
    watcher = await TestClient.connect(broker.url);
    await watcher.subscribe(`${BASE}/#`);
  });
  after(async () => {
    await watcher?.end();
    await cameras?.stop();
    await agent?.stop();
    await imprinting?.stop();
    await broker?.cleanup();
    dir.cleanup();
  });

  void it('each zone learns its empty scene; the cat enrolled from its zone turns ON there only, with a zone event and snapshot', { timeout: 90_000 }, async () => {
    await waitFor(() => watcher.messages.some((m) => m.topic === `${BASE}/door/left/label`), 20_000, 'the zones classifying');
    const wall = await watcher.request('class/enroll', { label: 'wall', camera: 'door', zone: 'right', frames: 2, interval_ms: 100, background: true });
    assert.deepEqual(enrollCounts(wall.data), { label: 'wall', shots: 2, added: 2 }, JSON.stringify(wall));
    // The left zone knows its empty scene (`none`); then something new there: `unknown` until taught.
    const learned = await watcher.next(`${BASE}/door/left/label`, 0, (p) => p.toString() === 'none', 30_000);
    await watcher.next(`${BASE}/door/left/label`, watcher.messages.indexOf(learned) + 1, (p) => p.toString() === 'unknown', 45_000);
    const from = watcher.messages.length;
    const cat = await watcher.request('class/enroll', { label: 'cat', camera: 'door', zone: 'left', frames: 2, interval_ms: 100 });
    assert.deepEqual(enrollCounts(cat.data), { label: 'cat', shots: 2, added: 2 }, JSON.stringify(cat));

    await watcher.next(`${BASE}/door/left/cat`, from, (p) => p.toString() === 'ON', 20_000);
    const start = await watcher.next(`${BASE}/events`, from, (p) => (JSON.parse(p.toString()) as { type: string }).type === 'start', 5000);
    assert.deepEqual(
      (({ camera, zone, label }) => ({ camera, zone, label }))(JSON.parse(start.payload.toString()) as Record<string, unknown>),
      { camera: 'door', zone: 'left', label: 'cat' },
    );
    const snapshot = await watcher.next(`${BASE}/door/left/snapshot`, from, () => true, 5000);
    assert.equal(snapshot.payload[0], 0xff, 'the zone snapshot is a JPEG');
    await watcher.next(`${BASE}/door/snapshot`, from, () => true, 5000);
    await watcher.next(`${BASE}/door/right/label`, 0, (p) => p.toString() === 'none', 10_000);
    // The cat leaves and comes back (the clip loops): it is seen again, an event of its own.
    await watcher.next(`${BASE}/door/left/cat`, from, (p) => p.toString() === 'OFF', 30_000);
    const again = watcher.messages.length;
    await watcher.next(`${BASE}/door/left/cat`, again, (p) => p.toString() === 'ON', 40_000);
    assert.equal(
      watcher.messages.slice(from).some((m) => m.topic === `${BASE}/door/right/cat` && m.payload.toString() === 'ON'),
      false,
      'the wall zone never sees the cat',
    );
    // Its own topics are only cleared (empty retained) at start: nothing stale stays from before its zones.
    assert.equal(watcher.messages.some((m) => m.topic === `${BASE}/door/label` && m.payload.length > 0), false, 'a camera with zones has no label of its own');

    const bad = await watcher.request('class/enroll', { label: 'x', camera: 'door', zone: 'porch' });
    assert.equal(bad.code, 'not_found');
    assert.match(String(bad.error), /^zone: camera "door" has no zone "porch" \(zones: left, right\)/);
    const flat = await watcher.request('class/enroll', { label: 'x', camera: 'door', box: { x: 0.2, y: 0.2, width: 0, height: 0.1 } });
    assert.equal(flat.code, 'bad_request');
    assert.match(String(flat.error), /^box: width and height must be above 0/);
    const boxed = await watcher.request('class/enroll', { label: 'cat face', camera: 'door', box: { x: 0.05, y: 0.1, width: 0.4, height: 0.5 } });
    assert.deepEqual(enrollCounts(boxed.data), { label: 'cat face', shots: 1, added: 1 }, JSON.stringify(boxed));
  });
});
