import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import {
  buildDiscovery,
  eventTemplate,
  REQUIRED_KEYS,
  safeId,
  type DiscoveryContext,
} from '../../src/homeassistant/discovery.js';
import type { PixelShot } from '../../src/imprinting/imprinter.js';
import { image, testLogger, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE, PREFIX, startAgent, startTestImprinting, TestClient, type Agent, type TestImprinting } from '../mqtt/harness.js';

const CAT = readFileSync(image('cat_train_0.jpg'));
const CTX: DiscoveryContext = {
  prefix: 'homeassistant',
  baseTopic: 'edge-imprint',
  nodeId: 'garage-pi',
  version: '1.2.3',
  cameras: ['door', 'Back Yard'],
  labels: ['cat', 'Cat', 'parcel box'],
};

type Config = Record<string, unknown> & { device: Record<string, unknown> };

void describe('Home Assistant discovery payloads (pure)', () => {
  const entries = buildDiscovery(CTX);
  const configs = entries.map((e) => e.config as Config);

  void it('every entity has the keys Home Assistant requires for its component', () => {
    for (const e of entries) {
      for (const key of REQUIRED_KEYS[e.component]) assert.ok(key in e.config, `${e.topic} lacks ${key}`);
      for (const key of ['unique_id', 'name', 'device', 'availability_topic']) assert.ok(key in e.config, `${e.topic} lacks ${key}`);
      assert.equal(e.config.has_entity_name, true);
      assert.equal(e.config.availability_topic, 'edge-imprint/available');
      assert.match(e.topic, /^homeassistant\/(sensor|binary_sensor|image|event|text|select|button)\/[a-z0-9_]+\/[a-zA-Z0-9_-]+\/config$/);
      assert.equal(e.topic.split('/')[1], e.component);
    }
  });

  void it('unique ids and topics are unique and stable', () => {
    const ids = configs.map((c) => c.unique_id);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(new Set(entries.map((e) => e.topic)).size, entries.length);
    assert.deepEqual(buildDiscovery(CTX), entries, 'same input, same output');
    assert.notEqual(safeId('Cat'), safeId('cat'));
    assert.notEqual(safeId('a b'), safeId('a_b'));
    assert.equal(safeId('cat'), 'cat');
  });

  void it('devices: one for the node, one per camera via the node', () => {
    const node = configs.find((c) => String(c.unique_id).endsWith('_detector'));
    assert.ok(node);
    const nodeIds = node.device.identifiers as string[];
    const cameraDevices = configs.filter((c) => c.device.via_device !== undefined);
    assert.ok(cameraDevices.length > 0);
    for (const c of cameraDevices) assert.equal(c.device.via_device, nodeIds[0]);
    const names = new Set(cameraDevices.map((c) => c.device.name));
    assert.deepEqual([...names].sort(), ['Back Yard', 'door']);
    assert.equal(node.device.sw_version, '1.2.3');
  });

  void it('the entities a user expects, with device classes and diagnostic categories', () => {
    const by = (suffix: string) => {
      const c = configs.find((x) => String(x.unique_id).endsWith(suffix));
      assert.ok(c, `no entity ${suffix}`);
      return c;
    };
    const label = by('_door_label');
    assert.equal(label.state_topic, 'edge-imprint/door/label');
    assert.equal(label.json_attributes_topic, 'edge-imprint/door/attributes');
    assert.equal(by('_door_snapshot').image_topic, 'edge-imprint/door/snapshot');
    const stream = by('_door_stream');
    assert.equal(stream.device_class, 'connectivity');
    assert.equal(stream.entity_category, 'diagnostic');
    assert.deepEqual([stream.payload_on, stream.payload_off], ['online', 'offline']);
    const event = by('_door_detection');
    assert.deepEqual(event.event_types, ['start', 'end']);
    assert.equal(event.state_topic, 'edge-imprint/events');
    assert.equal(by('_door_class_cat').state_topic, 'edge-imprint/door/cat');
    assert.equal(by(`_door_class_${safeId('parcel box')}`).state_topic, 'edge-imprint/door/parcel box');
    assert.equal(by('_detector').entity_category, 'diagnostic');
    const inference = by('_inference_time');
    assert.equal(inference.entity_category, 'diagnostic');
    assert.equal(inference.unit_of_measurement, 'ms');
    assert.equal(by('_enroll_label').command_topic, 'edge-imprint/enroll_form/label/set');
    assert.deepEqual(by('_enroll_camera').options, ['door', 'Back Yard']);
    assert.equal(by('_enroll').name, 'Enroll from camera');
    const perCameraClasses = configs.filter((c) => String(c.unique_id).includes('_class_'));
    assert.equal(perCameraClasses.length, CTX.cameras.length * CTX.labels.length);
    assert.equal(configs.filter((c) => c.entity_category === 'diagnostic').length, 2 + CTX.cameras.length);
  });

  void it('the event template keeps only its own camera', () => {
    const t = eventTemplate('Back "Yard"');
    assert.match(t, /value_json\.camera == "Back \\"Yard\\""/);
    assert.match(t, /'event_type': value_json\.type/);
  });
});

void describe('Home Assistant discovery through a real mosquitto', () => {
  let broker: Mosquitto;
  let agent: Agent;
  let ha: TestClient;
  let imprinting: TestImprinting;
  const logger = testLogger();
  const configTopics = (from = 0) =>
    ha.messages.slice(from).filter((m) => m.topic.startsWith(`${PREFIX}/`) && m.topic.endsWith('/config'));

  before(async () => {
    broker = await startMosquitto();
    imprinting = await startTestImprinting();
    const { width, height } = imprinting.inputSize;
    const frame: PixelShot = {
      rgb: new Uint8Array(await sharp(CAT).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer()),
    };
    const { imprinter, bus } = imprinting;
    agent = await startAgent({ url: broker.url, imprinter, bus, logger, cameras: ['door'], latestFrame: () => frame });
    ha = await TestClient.connect(broker.url);
    await ha.subscribe(`${PREFIX}/#`);
    await ha.subscribe(`${BASE}/#`);
  });
  after(async () => {
    await ha?.end();
    await agent?.stop();
    await broker?.cleanup();
    await imprinting?.stop();
  });

  void it('announces retained configs that parse and carry the required keys', async () => {
    await waitFor(() => configTopics().length >= 7, 5000, 'discovery configs');
    for (const m of configTopics()) {
      assert.equal(m.retain, true, `${m.topic} retained`);
      const component = m.topic.split('/')[1] as keyof typeof REQUIRED_KEYS;
      const config = JSON.parse(m.payload.toString()) as Record<string, unknown>;
      for (const key of REQUIRED_KEYS[component]) assert.ok(key in config, `${m.topic} lacks ${key}`);
    }
  });

  void it('re-announces when Home Assistant sends its birth message', async () => {
    const before = configTopics().length;
    const from = ha.messages.length;
    await ha.publish(`${PREFIX}/status`, 'online');
    await waitFor(() => configTopics(from).length >= before, 5000, 're-announce');
  });

  void it('a new class gets entities; a removed or renamed class loses them (empty retained config)', async () => {
    const catTopic = `${PREFIX}/binary_sensor/edge_imprint_testnode/door_class_cat/config`;
    const dogTopic = `${PREFIX}/binary_sensor/edge_imprint_testnode/door_class_dog/config`;
    const houndTopic = `${PREFIX}/binary_sensor/edge_imprint_testnode/door_class_hound/config`;
    let from = ha.messages.length;
    await ha.request('class/enroll/cat', CAT, { raw: true, responseCommand: 'class/enroll' });
    await ha.request('class/enroll/dog', CAT, { raw: true, responseCommand: 'class/enroll' });
    await ha.next(catTopic, from, (p) => p.length > 0);
    await ha.next(dogTopic, from, (p) => p.length > 0);
    // More shots of a known class change no entity: nothing is re-sent.
    const quiet = ha.messages.length;
    await ha.request('class/enroll/cat', CAT, { raw: true, responseCommand: 'class/enroll' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(configTopics(quiet).length, 0, 'unchanged configs are not republished');
    from = ha.messages.length;
    await ha.request('class/remove', { label: 'cat' });
    await ha.next(catTopic, from, (p) => p.length === 0);
    await ha.request('class/rename', { label: 'dog', to: 'hound' });
    await ha.next(dogTopic, from, (p) => p.length === 0);
    await ha.next(houndTopic, from, (p) => p.length > 0);
    // A fresh subscriber sees no retained config for the removed entities.
    const late = await TestClient.connect(broker.url);
    await late.subscribe(`${PREFIX}/#`);
    await new Promise((r) => setTimeout(r, 300));
    const retained = late.messages.map((m) => m.topic);
    await late.end();
    assert.ok(retained.includes(houndTopic));
    assert.equal(retained.includes(catTopic), false);
    assert.equal(retained.includes(dogTopic), false);
  });

  void it('clears a stale retained config left by an earlier run', async () => {
    const stale = `${PREFIX}/binary_sensor/edge_imprint_testnode/door_class_ghost/config`;
    const from = ha.messages.length;
    await ha.publish(stale, JSON.stringify({ state_topic: 'x', unique_id: 'ghost' }), { retain: true });
    await ha.next(stale, from, (p) => p.length === 0);
  });

  void it('the no-code enrollment form: text label, camera select, button', async () => {
    const from = ha.messages.length;
    await ha.publish(`${BASE}/enroll_form/label/set`, 'parcel');
    await ha.next(`${BASE}/enroll_form/label`, from, (p) => p.toString() === 'parcel');
    await ha.publish(`${BASE}/enroll_form/camera/set`, 'door');
    await ha.next(`${BASE}/enroll_form/camera`, from, (p) => p.toString() === 'door');
    await ha.subscribe(`${BASE}/response/class/enroll`);
    const pressed = ha.messages.length;
    await ha.publish(`${BASE}/enroll_form/enroll`, 'PRESS');
    const res = await ha.next(`${BASE}/response/class/enroll`, pressed);
    assert.deepEqual(JSON.parse(res.payload.toString()), { status: 'ok', data: { label: 'parcel', shots: 1, added: 1 } });
    const parcel = `${PREFIX}/binary_sensor/edge_imprint_testnode/door_class_parcel/config`;
    await ha.next(parcel, from, (p) => p.length > 0);
    // An invalid label typed in the form gets an error answer, not an enrollment.
    await ha.publish(`${BASE}/enroll_form/label/set`, 'unknown');
    await ha.next(`${BASE}/enroll_form/label`, pressed, (p) => p.toString() === 'unknown');
    const again = ha.messages.length;
    await ha.publish(`${BASE}/enroll_form/enroll`, 'PRESS');
    const bad = JSON.parse((await ha.next(`${BASE}/response/class/enroll`, again)).payload.toString()) as Record<string, unknown>;
    assert.equal(bad.status, 'error');
    assert.equal(bad.code, 'bad_label');
  });
});
