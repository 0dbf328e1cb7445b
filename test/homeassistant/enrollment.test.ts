/**
 * Home Assistant's enrollment entities (issue 16): the "Last enrollment" sensor shows every
 * class/enroll answer, whoever asked; the enroll form's zone select per camera with zones makes
 * the button enroll that zone. Through a real mosquitto, the real imprinter on the CPU model.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { buildDiscovery, type DiscoveryContext } from '../../src/homeassistant/discovery.js';
import type { PixelShot } from '../../src/imprinting/imprinter.js';
import { lastEnrollmentPayload } from '../../src/mqtt/lastEnrollment.js';
import type { FrameRegion } from '../../src/pipeline/cameraManager.js';
import { cameraConfig } from '../camera/fixtures.js';
import { image, tempDir, testLogger } from '../helpers/env.js';
import { startImprinting, type StartedImprinting } from '../helpers/imprinting.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE, startAgent, TestClient, type Agent } from '../mqtt/harness.js';

const CAT = readFileSync(image('cat_train_0.jpg'));
/** A photo whose object stands out (found by the salient-object model, or without it by its edges). */
const DOG = readFileSync(image('dog_train_0.jpg'));
const LAST = `${BASE}/last_enrollment`;
const ZONES = { mat: { roi: { x: 0, y: 0.5, width: 0.5, height: 0.5 }, classes: [] }, step: { roi: { x: 0.5, y: 0.5, width: 0.5, height: 0.5 }, classes: [] } };

type Cmp = Record<string, unknown>;

void describe('Home Assistant enrollment entities (pure discovery)', () => {
  const ctx: DiscoveryContext = {
    prefix: 'homeassistant',
    baseTopic: BASE,
    nodeId: 'testnode',
    version: '1.0.0',
    cameras: ['door', 'yard'],
    labels: [],
    units: [
      { camera: 'door', zone: 'mat', classes: [] },
      { camera: 'door', zone: 'step', classes: [] },
      { camera: 'yard', zone: null, classes: [] },
    ],
  };
  const node = (c: DiscoveryContext) => (buildDiscovery(c)[0]!.payload.cmps as Record<string, Cmp>);

  void it('the node has a "Last enrollment" enum sensor on <base>/last_enrollment, its payload as attributes', () => {
    const sensor = node(ctx).last_enrollment;
    assert.ok(sensor);
    assert.equal(sensor.p, 'sensor');
    assert.equal(sensor.name, 'Last enrollment');
    assert.equal(sensor.state_topic, LAST);
    assert.equal(sensor.json_attributes_topic, LAST);
    assert.equal(sensor.value_template, '{{ value_json.result }}');
    assert.deepEqual(sensor.options, ['ok', 'warning', 'error']);
    // Home Assistant drops attributes with these names (MQTT_ATTRIBUTES_BLOCKED): the payload uses none.
    const payload = lastEnrollmentPayload({ source: 'mqtt', request: { label: 'x', camera: null, zone: null, box: false }, response: { status: 'error', error: 'e', code: 'bad_label' }, at: new Date(0) });
    const blocked = ['state', 'name', 'icon', 'available', 'device_class', 'unique_id', 'unit_of_measurement', 'friendly_name'];
    assert.deepEqual(Object.keys(payload).filter((k) => blocked.includes(k)), []);
    assert.equal(payload.result, 'error');
  });

  void it('one zone select per camera with zones: its zones, then "whole camera"; none for a camera without zones', () => {
    const cmps = node(ctx);
    const door = cmps.enroll_zone_door;
    assert.ok(door);
    assert.equal(door.p, 'select');
    assert.deepEqual(door.options, ['mat', 'step', 'whole camera']);
    assert.equal(door.command_topic, `${BASE}/enroll_form/zone/door/set`);
    assert.equal(door.state_topic, `${BASE}/enroll_form/zone/door`);
    assert.equal(cmps.enroll_zone_yard, undefined);
    // Without any zone the form stays as it was: label, camera, button.
    const plain = node({ ...ctx, units: [{ camera: 'door', zone: null, classes: [] }, { camera: 'yard', zone: null, classes: [] }] });
    assert.deepEqual(Object.keys(plain).filter((k) => k.startsWith('enroll')).sort(), ['enroll', 'enroll_camera', 'enroll_label']);
  });
});

void describe('Home Assistant enrollment entities through a real mosquitto', () => {
  const dir = tempDir('edge-imprint-ha-enroll-');
  let broker: Mosquitto;
  let core: StartedImprinting;
  let agent: Agent;
  let ha: TestClient;
  const regions: Array<{ camera: string; region: FrameRegion | undefined }> = [];
  const last = async (from: number, match: (p: Record<string, unknown>) => boolean) => {
    const msg = await ha.next(LAST, from, (p) => match(JSON.parse(p.toString()) as Record<string, unknown>), 30_000);
    return JSON.parse(msg.payload.toString()) as Record<string, unknown>;
  };

  before(async () => {
    broker = await startMosquitto();
    core = await startImprinting({
      dataDir: dir.path,
      config: (c) => ({
        ...c,
        detector: { ...c.detector, type: 'cpu' },
        cameras: { door: cameraConfig({ zones: ZONES }), yard: cameraConfig() },
      }),
    });
    const { width, height } = core.detector.inputSize;
    const frame: PixelShot = { rgb: new Uint8Array(await sharp(CAT).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer()) };
    ha = await TestClient.connect(broker.url);
    await ha.subscribe(`${BASE}/#`);
    agent = await startAgent({
      url: broker.url,
      imprinter: core.imprinter,
      classes: core.core.service,
      corrections: core.core.corrections,
      bus: core.bus,
      logger: testLogger(),
      cameras: ['door', 'yard'],
      zones: { door: ['mat', 'step'] },
      latestFrame: (camera, region) => {
        regions.push({ camera, region });
        return frame;
      },
    });
  });
  after(async () => {
    await ha?.end();
    await agent?.stop();
    await broker?.cleanup();
    await core?.stop();
    dir.cleanup();
  });

  void it('"Last enrollment" shows an enrollment that succeeds, one that warns and one that fails, retained', async () => {
    let from = ha.messages.length;
    await ha.request('class/enroll/rex', DOG, { raw: true, responseCommand: 'class/enroll' });
    const ok = await last(from, (p) => p.label === 'rex');
    assert.equal(ok.result, 'ok');
    assert.equal(ok.status, 'ok');
    assert.equal(ok.source, 'mqtt');
    assert.equal(ok.code, null);
    assert.deepEqual(ok.warning, []);
    assert.ok((ok.recognised_in as Array<{ camera: string }>).some((u) => u.camera === 'yard'), JSON.stringify(ok.recognised_in));
    assert.ok(!Number.isNaN(Date.parse(String(ok.time))));

    // The same photo under another label: stored, with a duplicates_class warning.
    from = ha.messages.length;
    const answer = await ha.request('class/enroll', { label: 'kitty', images: [DOG.toString('base64')] });
    assert.equal(answer.status, 'ok');
    const warned = await last(from, (p) => p.label === 'kitty');
    assert.equal(warned.result, 'warning');
    assert.equal(warned.status, 'ok');
    assert.ok((warned.warning as Array<{ code: string }>).some((w) => w.code === 'duplicates_class'), JSON.stringify(warned.warning));

    // The enroll form with a reserved label: an error, named, from Home Assistant.
    await ha.publish(`${BASE}/enroll_form/label/set`, 'unknown');
    await ha.next(`${BASE}/enroll_form/label`, from, (p) => p.toString() === 'unknown');
    await ha.publish(`${BASE}/enroll_form/camera/set`, 'yard');
    await ha.next(`${BASE}/enroll_form/camera`, from, (p) => p.toString() === 'yard');
    from = ha.messages.length;
    await ha.publish(`${BASE}/enroll_form/enroll`, 'PRESS');
    const failed = await last(from, (p) => p.status === 'error');
    assert.equal(failed.result, 'error');
    assert.equal(failed.code, 'bad_label');
    assert.match(String(failed.error), /label/);
    assert.equal(failed.label, 'unknown');
    assert.equal(failed.source, 'home_assistant');
    assert.equal(failed.camera, 'yard');

    // Home Assistant starting now finds the latest answer retained.
    const late = await TestClient.connect(broker.url);
    await late.subscribe(LAST);
    const kept = await late.next(LAST);
    await late.end();
    assert.equal(kept.retain, true);
    assert.equal((JSON.parse(kept.payload.toString()) as { result: string }).result, 'error');
  });

  void it('the zone select: the button enrolls the chosen zone of the chosen camera, or the whole camera', async () => {
    const form = `${BASE}/enroll_form`;
    // Until a zone is chosen the select shows the camera's first zone.
    await ha.next(`${form}/zone/door`, 0, (p) => p.toString() === 'mat', 10_000);
    let from = ha.messages.length;
    await ha.publish(`${form}/label/set`, 'parcel');
    await ha.publish(`${form}/camera/set`, 'door');
    await ha.publish(`${form}/zone/door/set`, 'step');
    await ha.next(`${form}/zone/door`, from, (p) => p.toString() === 'step');
    // A zone the camera does not have is ignored: the choice stays.
    await ha.publish(`${form}/zone/door/set`, 'garden');
    await ha.publish(`${form}/camera/set`, 'door');
    await ha.next(`${form}/camera`, from, (p) => p.toString() === 'door');

    from = ha.messages.length;
    regions.length = 0;
    await ha.publish(`${form}/enroll`, 'PRESS');
    const res = await ha.next(`${BASE}/response/class/enroll`, from, () => true, 30_000);
    const answer = JSON.parse(res.payload.toString()) as { status: string; data: { label: string; warning?: Array<{ code: string; message: string }> } };
    assert.equal(answer.status, 'ok', JSON.stringify(answer));
    assert.deepEqual(regions, [{ camera: 'door', region: { zone: 'step' } }], 'the frame was taken from the zone');
    // The zone learns the shot against its own scene (not learned yet here, which the answer says).
    assert.ok(answer.data.warning?.some((w) => w.code === 'no_scene' && /zone "step" of camera "door"/.test(w.message)), JSON.stringify(answer.data));
    const shown = await last(from, (p) => p.label === 'parcel');
    assert.equal(shown.zone, 'step');
    assert.equal(shown.source, 'home_assistant');

    from = ha.messages.length;
    await ha.publish(`${form}/label/set`, 'box');
    await ha.publish(`${form}/zone/door/set`, 'whole camera');
    await ha.next(`${form}/zone/door`, from, (p) => p.toString() === 'whole camera');
    regions.length = 0;
    await ha.publish(`${form}/enroll`, 'PRESS');
    await last(from, (p) => p.label === 'box' && p.status === 'ok');
    assert.deepEqual(regions, [{ camera: 'door', region: {} }], 'the whole frame');
  });

  void it('the zone chosen survives a restart of the agent (its retained state), and still enrolls', async () => {
    const options = {
      url: broker.url,
      imprinter: core.imprinter,
      bus: core.bus,
      logger: testLogger(),
      cameras: ['door', 'yard'],
      zones: { door: ['mat', 'step'] },
      latestFrame: (camera: string, region?: FrameRegion) => {
        regions.push({ camera, region });
        return null;
      },
    };
    await agent.stop();
    const from = ha.messages.length;
    agent = await startAgent(options);
    // Announced again once the new run has read the retained form: "whole camera", not the first zone.
    const announced = await ha.next(`${BASE}/enroll_form/zone/door`, from, () => true, 10_000);
    assert.equal(announced.payload.toString(), 'whole camera');
    regions.length = 0;
    await ha.publish(`${BASE}/enroll_form/enroll`, 'PRESS');
    await ha.next(`${BASE}/response/class/enroll`, from);
    assert.deepEqual(regions, [{ camera: 'door', region: {} }]);
  });
});
