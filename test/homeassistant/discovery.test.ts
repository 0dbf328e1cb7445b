import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { DETECTOR_STATES } from '../../src/detector/state.js';
import {
  buildDiscovery,
  eventTemplate,
  legacyTopic,
  nodeUid,
  REQUIRED_KEYS,
  safeId,
  withRemoved,
  type DeviceDiscovery,
  type DiscoveryContext,
  type Platform,
} from '../../src/homeassistant/discovery.js';
import { MIGRATE_PAYLOAD, planMigration } from '../../src/homeassistant/migration.js';
import type { PixelShot } from '../../src/imprinting/imprinter.js';
import { PROJECT_URL } from '../../src/version.js';
import { image, testLogger, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE, PREFIX, startAgent, startTestImprinting, TestClient, type Agent, type TestImprinting } from '../mqtt/harness.js';
import { enrollAnswerCounts } from '../helpers/enrollAnswer.js';

const CAT = readFileSync(image('cat_train_0.jpg'));
const CTX: DiscoveryContext = {
  prefix: 'homeassistant',
  baseTopic: 'edge-imprint',
  nodeId: 'garage-pi',
  version: '1.2.3',
  cameras: ['door', 'Back Yard'],
  labels: ['cat', 'Cat', 'parcel box'],
  units: [
    { camera: 'door', zone: null, classes: [] },
    { camera: 'Back Yard', zone: null, classes: [] },
  ],
};

/**
 * Home Assistant's documented abbreviations (MQTT integration docs, "Supported abbreviations"),
 * for the keys this agent abbreviates, and the full option names it uses.
 */
const HA_ABBREVIATIONS: Record<string, string> = {
  dev: 'device',
  o: 'origin',
  cmps: 'components',
  p: 'platform',
  avty_t: 'availability_topic',
  pl_avail: 'payload_available',
  pl_not_avail: 'payload_not_available',
};
const HA_DEVICE_ABBREVIATIONS: Record<string, string> = { ids: 'identifiers', name: 'name', mf: 'manufacturer', mdl: 'model', sw: 'sw_version', cu: 'configuration_url' };
const HA_ORIGIN_ABBREVIATIONS: Record<string, string> = { name: 'name', sw: 'sw_version', url: 'support_url' };
const HA_OPTIONS = new Set([
  'unique_id', 'name', 'state_topic', 'value_template', 'entity_category', 'icon', 'unit_of_measurement', 'device_class',
  'state_class', 'suggested_display_precision', 'options', 'command_topic', 'min', 'max', 'mode', 'payload_press',
  'json_attributes_topic', 'json_attributes_template', 'image_topic', 'content_type', 'payload_on', 'payload_off', 'event_types',
]);

type Expanded = Record<string, unknown> & {
  device: Record<string, unknown>;
  origin: Record<string, unknown>;
  components: Record<string, Record<string, unknown>>;
};

/** A device config as Home Assistant reads it: abbreviations replaced; fails on an unknown one. */
function expand(payload: Record<string, unknown>): Expanded {
  const rename = (obj: Record<string, unknown>, table: Record<string, string>, allowed: (k: string) => boolean, where: string) =>
    Object.fromEntries(
      Object.entries(obj).map(([k, v]) => {
        assert.ok(k in table || allowed(k), `${where}: "${k}" is neither a documented abbreviation nor a known option`);
        return [table[k] ?? k, v];
      }),
    );
  const top = rename(payload, HA_ABBREVIATIONS, () => false, 'root') as Expanded;
  top.device = rename(top.device, HA_DEVICE_ABBREVIATIONS, (k) => k === 'via_device', 'device');
  top.origin = rename(top.origin, HA_ORIGIN_ABBREVIATIONS, () => false, 'origin');
  top.components = Object.fromEntries(
    Object.entries(top.components).map(([key, c]) => [key, rename(c, { p: 'platform' }, (k) => HA_OPTIONS.has(k), key)]),
  );
  return top;
}

const componentsOf = (devices: DeviceDiscovery[]) => devices.flatMap((d) => Object.values(expand(d.payload).components));

void describe('Home Assistant device-based discovery payloads (pure)', () => {
  const devices = buildDiscovery(CTX);
  const uid = nodeUid(CTX.nodeId);

  void it('links the node device to the dashboard (configuration_url) when its address is known', () => {
    assert.equal('configuration_url' in expand(devices[0]!.payload).device, false, 'no address: no link');
    const linked = buildDiscovery({ ...CTX, configurationUrl: 'homeassistant://hassio/ingress/local_edge_imprint' });
    const [node, ...cameras] = linked.map((d) => expand(d.payload).device);
    assert.equal(node?.configuration_url, 'homeassistant://hassio/ingress/local_edge_imprint');
    for (const camera of cameras) assert.equal('configuration_url' in camera, false, 'the node device only');
  });

  void it('one config per device: the node and each camera, under <prefix>/device/<node uid>/<device>/config', () => {
    assert.deepEqual(
      devices.map((d) => d.topic),
      [
        `homeassistant/device/${uid}/node/config`,
        'homeassistant/device/' + uid + '/camera_door/config',
        `homeassistant/device/${uid}/camera_${safeId('Back Yard')}/config`,
      ],
    );
    for (const d of devices) assert.match(d.topic, /^homeassistant\/device\/[a-zA-Z0-9_-]+\/[a-zA-Z0-9_-]+\/config$/);
  });

  void it('every config has what Home Assistant requires, with documented abbreviations only', () => {
    for (const d of devices) {
      const config = expand(d.payload);
      assert.ok(Array.isArray(config.device.identifiers) && config.device.identifiers.length > 0, `${d.topic} device identifiers`);
      assert.equal(typeof config.device.name, 'string');
      assert.deepEqual(config.origin, { name: 'edge-imprint', sw_version: '1.2.3', support_url: PROJECT_URL });
      assert.match(PROJECT_URL, /^https:\/\//);
      // The shared availability, once per device.
      assert.equal(config.availability_topic, 'edge-imprint/available');
      assert.deepEqual([config.payload_available, config.payload_not_available], ['online', 'offline']);
      assert.ok(Object.keys(config.components).length > 0);
      for (const [key, c] of Object.entries(config.components)) {
        assert.match(key, /^[a-zA-Z0-9_-]+$/);
        const platform = c.platform as Platform;
        assert.ok(platform in REQUIRED_KEYS, `${key}: platform ${String(platform)}`);
        for (const k of ['unique_id', 'name', ...REQUIRED_KEYS[platform]]) assert.ok(k in c, `${key} lacks ${k}`);
        assert.equal('availability_topic' in c, false, 'availability is shared, not repeated');
      }
    }
  });

  void it('unique ids, component keys and legacy topics are exactly those of the per-entity configs before', () => {
    const small = buildDiscovery({ ...CTX, nodeId: 'garage', cameras: ['door'], labels: ['cat'], units: [{ camera: 'door', zone: null, classes: [] }] });
    const byUid = new Map(small.flatMap((d) => d.components.map((c) => [c.uniqueId, c])));
    const before: Array<[string, string]> = [
      ['sensor', 'detector'], ['sensor', 'inference_time'], ['text', 'enroll_label'], ['select', 'enroll_camera'],
      ['button', 'enroll'], ['sensor', 'door_label'], ['image', 'door_snapshot'], ['binary_sensor', 'door_stream'],
      ['event', 'door_detection'], ['binary_sensor', 'door_class_cat'],
    ];
    for (const [platform, objectId] of before) {
      const c = byUid.get(`edge_imprint_garage_${objectId}`);
      assert.ok(c, `edge_imprint_garage_${objectId} still exists`);
      assert.equal(c.key, objectId);
      assert.equal(legacyTopic({ prefix: 'homeassistant', nodeId: 'garage' }, c), `homeassistant/${platform}/edge_imprint_garage/${objectId}/config`);
    }
    const added = ['detector_state', 'door_right', 'door_wrong', 'door_scene', 'last_enrollment'].map((o) => `edge_imprint_garage_${o}`);
    assert.deepEqual([...byUid.keys()].sort(), [...before.map(([, o]) => `edge_imprint_garage_${o}`), ...added].sort());
    const ids = componentsOf(devices).map((c) => c.unique_id);
    assert.equal(new Set(ids).size, ids.length, 'unique ids are unique');
    assert.deepEqual(buildDiscovery(CTX), devices, 'same input, same output');
    assert.notEqual(safeId('Cat'), safeId('cat'));
    assert.notEqual(safeId('a b'), safeId('a_b'));
  });

  void it('devices: the node, and each camera via the node, with the identifiers they had', () => {
    const [node, ...cameras] = devices.map((d) => expand(d.payload).device);
    assert.deepEqual(node?.identifiers, [uid]);
    assert.equal(node?.sw_version, '1.2.3');
    // Not the bare camera name: the camera's own integration usually has a device called "door".
    assert.deepEqual(cameras.map((c) => c.name), ['edge-imprint door', 'edge-imprint Back Yard']);
    for (const c of cameras) assert.equal(c.via_device, uid);
    assert.deepEqual(cameras[0]?.identifiers, [`${uid}_door`]);
  });

  void it('the entities a user expects, with device classes and diagnostic categories', () => {
    const all = componentsOf(devices);
    const by = (suffix: string) => {
      const c = all.find((x) => String(x.unique_id).endsWith(suffix));
      assert.ok(c, `no entity ${suffix}`);
      return c;
    };
    const label = by('_door_label');
    assert.equal(label.state_topic, 'edge-imprint/door/label');
    assert.equal(label.json_attributes_topic, 'edge-imprint/door/attributes');
    assert.equal(by('_door_snapshot').image_topic, 'edge-imprint/door/snapshot');
    const stream = by('_door_stream');
    assert.equal(stream.device_class, 'connectivity');
    assert.deepEqual([stream.payload_on, stream.payload_off], ['online', 'offline']);
    const event = by('_door_detection');
    assert.deepEqual(event.event_types, ['start', 'end']);
    assert.equal(event.state_topic, 'edge-imprint/events');
    assert.equal(by('_door_class_cat').state_topic, 'edge-imprint/door/cat');
    assert.equal(by(`_door_class_${safeId('parcel box')}`).state_topic, 'edge-imprint/door/parcel box');
    assert.equal(by('_inference_time').unit_of_measurement, 'ms');
    assert.equal(by('_enroll_label').command_topic, 'edge-imprint/enroll_form/label/set');
    assert.deepEqual(by('_enroll_camera').options, ['door', 'Back Yard']);
    assert.equal(by('_enroll').name, 'Enroll from camera');
    assert.equal(all.filter((c) => String(c.unique_id).includes('_class_')).length, CTX.cameras.length * CTX.labels.length);
    // The node's detector, state and inference time; per camera its stream and its scene.
    assert.equal(all.filter((c) => c.entity_category === 'diagnostic').length, 3 + 2 * CTX.cameras.length);
  });

  void it('a diagnostic enum sensor "Detector state" reads detector.state from <base>/state', () => {
    const state = componentsOf(devices).find((c) => c.name === 'Detector state');
    assert.ok(state);
    assert.equal(state.platform, 'sensor');
    assert.equal(state.state_topic, 'edge-imprint/state');
    assert.equal(state.value_template, '{{ value_json.detector.state }}');
    assert.equal(state.device_class, 'enum');
    assert.deepEqual(state.options, ['starting', 'ready', 'restarting', 'failed', 'fallback']);
    assert.deepEqual(state.options, [...DETECTOR_STATES]);
    assert.equal(state.entity_category, 'diagnostic');
  });

  void it('removing a component: listed with its platform only, as Home Assistant documents', () => {
    const door = devices[1]!;
    const tombstone = expand(withRemoved(door, [{ key: 'door_class_dog', platform: 'binary_sensor' }]));
    assert.deepEqual(tombstone.components.door_class_dog, { platform: 'binary_sensor' });
    assert.equal(Object.keys(tombstone.components).length, door.components.length + 1, 'the others are still there');
  });

  void it('a camera with zones: each zone its label, class states (its own list only), snapshot and events', () => {
    const ctx: DiscoveryContext = {
      ...CTX,
      cameras: ['drive'],
      units: [
        { camera: 'drive', zone: 'bin', classes: ['bin_out', 'bin_in'] },
        { camera: 'drive', zone: 'gate', classes: [] },
      ],
      labels: ['cat', 'bin_in', 'bin_out'],
    };
    const drive = buildDiscovery(ctx).find((d) => d.topic.endsWith('/camera_drive/config'));
    assert.ok(drive, 'the camera device');
    const keys = drive.components.map((c) => `${c.platform}:${c.key}`).sort();
    for (const key of [
      'sensor:drive_zone_bin_label', 'binary_sensor:drive_zone_bin_class_bin_in', 'binary_sensor:drive_zone_bin_class_bin_out',
      'image:drive_zone_bin_snapshot', 'event:drive_zone_bin_detection', 'sensor:drive_zone_gate_label',
      'binary_sensor:drive_zone_gate_class_cat', 'image:drive_snapshot', 'binary_sensor:drive_stream', 'event:drive_detection',
    ]) assert.ok(keys.includes(key), `${key} in ${keys.join(', ')}`);
    assert.equal(keys.includes('binary_sensor:drive_zone_bin_class_cat'), false, 'the bin zone only knows its own classes');
    assert.equal(keys.includes('sensor:drive_label'), false, 'a camera with zones has no label of its own');
    const binCat = drive.components.find((c) => c.key === 'drive_zone_bin_class_bin_out');
    assert.equal(binCat?.options.state_topic, 'edge-imprint/drive/bin/bin_out');
    const label = drive.components.find((c) => c.key === 'drive_zone_bin_label');
    assert.equal(label?.options.json_attributes_topic, 'edge-imprint/drive/bin/attributes');
    assert.match(String(drive.components.find((c) => c.key === 'drive_zone_bin_detection')?.options.value_template), /value_json\.zone == "bin"/);
    const wrong = drive.components.find((c) => c.key === 'drive_zone_bin_wrong');
    assert.equal(wrong?.platform, 'button');
    assert.equal(wrong?.options.command_topic, 'edge-imprint/request/event/reject');
    assert.deepEqual(JSON.parse(String(wrong?.options.payload_press)), { camera: 'drive', zone: 'bin' });
    const right = drive.components.find((c) => c.key === 'drive_zone_bin_right');
    assert.equal(right?.options.command_topic, 'edge-imprint/request/event/confirm');
    const scene = drive.components.find((c) => c.key === 'drive_zone_bin_scene');
    assert.equal(scene?.options.entity_category, 'diagnostic');
    assert.match(String(scene?.options.value_template), /get\("drive\/bin", \{\}\)/);
    const name = (key: string) => drive.components.find((c) => c.key === key)?.options.name;
    // Capitalised like the camera's own entities ("Label", "Snapshot").
    assert.deepEqual(
      ['drive_zone_bin_label', 'drive_zone_bin_snapshot', 'drive_zone_bin_detection', 'drive_zone_bin_scene', 'drive_zone_bin_class_bin_in'].map(name),
      ['Bin label', 'Bin snapshot', 'Bin detection', 'Bin scene', 'Bin bin_in'],
    );
    assert.deepEqual([name('drive_zone_bin_right'), name('drive_zone_bin_wrong')], ['Bin last detection right', 'Bin last detection wrong']);
  });

  void it('names say what they act on; class sensors are occupancy (Detected / Clear); unique ids unchanged', () => {
    const door = devices[1]!;
    const opt = (key: string) => door.components.find((c) => c.key === key)?.options;
    assert.equal(opt('door_right')?.name, 'Last detection right');
    assert.equal(opt('door_wrong')?.name, 'Last detection wrong');
    assert.equal(opt('door_right')?.unique_id, `${uid}_door_right`);
    assert.equal(opt('door_class_cat')?.device_class, 'occupancy');
    assert.equal(opt('door_class_cat')?.name, 'cat', 'the label as typed');
    assert.equal(opt('door_class_cat')?.unique_id, `${uid}_door_class_cat`);
    assert.equal(opt('door_scene')?.device_class, 'enum');
    assert.deepEqual(opt('door_scene')?.options, ['learned', 'learning', 'not learned yet']);
  });

  // Home Assistant renders templates with Jinja2; so does this test, when Python has it.
  const jinja = spawnSync('python3', ['-c', 'import jinja2'], { encoding: 'utf8' }).status === 0;
  void it('the Scene sensor says learned / learning / not learned yet (rendered with Jinja2)', { skip: !jinja && 'python3 jinja2 missing' }, () => {
    const template = String(devices[1]!.components.find((c) => c.key === 'door_scene')?.options.value_template);
    const render = (state: unknown): string => {
      const script = 'import sys, json, jinja2; print(jinja2.Environment().from_string(sys.argv[1]).render(value_json=json.loads(sys.argv[2])), end="")';
      const r = spawnSync('python3', ['-c', script, template, JSON.stringify(state)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const scene = (s: unknown) => ({ scenes: { door: s, 'door/bin': { prototypes: 4, updated_at: null, pending_since: null } } });
    assert.equal(render(scene({ prototypes: 2, updated_at: '2026-01-01T00:00:00Z', pending_since: '2026-01-01T00:01:00Z' })), 'learned');
    assert.equal(render(scene({ prototypes: 0, updated_at: null, pending_since: '2026-01-01T00:01:00Z' })), 'learning');
    assert.equal(render(scene({ prototypes: 0, updated_at: null, pending_since: null })), 'not learned yet');
    assert.equal(render({}), 'not learned yet', 'an agent that publishes no scenes yet');
  });

  void it('the event template keeps only its own camera', () => {
    const t = eventTemplate('Back "Yard"');
    assert.match(t, /value_json\.camera == "Back \\"Yard\\""/);
    assert.match(t, /'event_type': value_json\.type/);
  });

  void it('migration plan: migrate what still exists, remove what does not, leave the current configs', () => {
    const ctx = { ...CTX, nodeId: 'garage', cameras: ['door'], labels: ['cat'] };
    const wanted = buildDiscovery(ctx);
    const old = (platform: string, objectId: string, payload: unknown) =>
      [`homeassistant/${platform}/edge_imprint_garage/${objectId}/config`, Buffer.from(JSON.stringify(payload))] as const;
    const found = new Map<string, Buffer>([
      old('sensor', 'detector', { unique_id: 'edge_imprint_garage_detector', state_topic: 'x' }),
      old('binary_sensor', 'door_class_cat', { uniq_id: 'edge_imprint_garage_door_class_cat', stat_t: 'x' }),
      old('binary_sensor', 'door_class_ghost', { unique_id: 'edge_imprint_garage_door_class_ghost', state_topic: 'x' }),
      old('sensor', 'door_label', JSON.parse(MIGRATE_PAYLOAD)),
      [wanted[0]!.topic, Buffer.from(JSON.stringify(wanted[0]!.payload))],
      ['homeassistant/device/edge_imprint_garage/camera_gone/config', Buffer.from('{"dev":{}}')],
      ['homeassistant/sensor/edge_imprint_garage/cleared/config', Buffer.alloc(0)],
    ]);
    const plan = planMigration('homeassistant', found, wanted);
    assert.deepEqual(plan.migrate, [
      'homeassistant/sensor/edge_imprint_garage/detector/config',
      'homeassistant/binary_sensor/edge_imprint_garage/door_class_cat/config',
      'homeassistant/sensor/edge_imprint_garage/door_label/config',
    ]);
    assert.deepEqual(plan.remove, [
      'homeassistant/binary_sensor/edge_imprint_garage/door_class_ghost/config',
      'homeassistant/device/edge_imprint_garage/camera_gone/config',
    ]);
  });
});

type Message = TestClient['messages'][number];
const isDevice = (m: Message) => /^homeassistant\/device\/edge_imprint_testnode\/[^/]+\/config$/.test(m.topic);
const componentsIn = (m: Message) =>
  (JSON.parse(m.payload.toString()) as { cmps: Record<string, Record<string, unknown>> }).cmps;

void describe('Home Assistant: migration of the per-entity configs an earlier version left retained', () => {
  let broker: Mosquitto;
  let imprinting: TestImprinting;
  let agent: Agent | undefined;
  let ha: TestClient;

  // What the previous release published for node `testnode`, camera `door` and class `cat`.
  const LEGACY: Array<[Platform, string]> = [
    ['sensor', 'detector'], ['sensor', 'inference_time'], ['text', 'enroll_label'], ['select', 'enroll_camera'],
    ['button', 'enroll'], ['sensor', 'door_label'], ['image', 'door_snapshot'], ['binary_sensor', 'door_stream'],
    ['event', 'door_detection'], ['binary_sensor', 'door_class_cat'],
  ];
  const legacyTopicOf = (platform: string, objectId: string) => `${PREFIX}/${platform}/edge_imprint_testnode/${objectId}/config`;
  const GHOST = legacyTopicOf('binary_sensor', 'door_class_ghost');
  const STALE_DEVICE = `${PREFIX}/device/edge_imprint_testnode/camera_gone/config`;

  before(async () => {
    broker = await startMosquitto();
    imprinting = await startTestImprinting();
    await imprinting.imprinter.enrollImages('cat', [CAT], { source: 'test' });
    const seed = await TestClient.connect(broker.url);
    for (const [platform, objectId] of [...LEGACY, ['binary_sensor', 'door_class_ghost'] as const]) {
      await seed.publish(
        legacyTopicOf(platform, objectId),
        JSON.stringify({
          unique_id: `edge_imprint_testnode_${objectId}`,
          has_entity_name: true,
          availability_topic: `${BASE}/available`,
          device: { identifiers: ['edge_imprint_testnode'], name: 'edge-imprint testnode' },
          origin: { name: 'edge-imprint', sw_version: '0.0.9' },
          state_topic: `${BASE}/x`,
        }),
        { retain: true },
      );
    }
    await seed.publish(STALE_DEVICE, JSON.stringify({ dev: { ids: ['x'] }, o: { name: 'edge-imprint' }, cmps: {} }), { retain: true });
    await seed.end();
    ha = await TestClient.connect(broker.url);
    await ha.subscribe(`${PREFIX}/#`);
    await waitFor(() => ha.messages.length >= LEGACY.length + 2, 3000, 'the seeded configs');
  });
  after(async () => {
    await ha?.end();
    await agent?.stop();
    await broker?.cleanup();
    await imprinting?.stop();
  });

  void it('follows the documented steps in order: migrate_discovery, device configs, old topics cleared', async () => {
    const from = ha.messages.length;
    const { imprinter, bus } = imprinting;
    agent = await startAgent({ url: broker.url, imprinter, bus, logger: testLogger(), cameras: ['door'] });
    const seen = () => ha.messages.slice(from);
    const cleared = (topic: string) => seen().findIndex((m) => m.topic === topic && m.payload.length === 0);
    await waitFor(() => [...LEGACY.map(([p, o]) => legacyTopicOf(p, o)), GHOST, STALE_DEVICE].every((t) => cleared(t) >= 0), 10_000, 'old topics cleared');

    const messages = seen();
    const markers = messages.flatMap((m, i) => (m.payload.toString() === MIGRATE_PAYLOAD ? [i] : []));
    const devices = messages.flatMap((m, i) => (isDevice(m) && m.payload.length > 0 ? [i] : []));
    const clears = messages.flatMap((m, i) => (m.payload.length === 0 ? [i] : []));
    assert.deepEqual(
      markers.map((i) => messages[i]!.topic).sort(),
      LEGACY.map(([p, o]) => legacyTopicOf(p, o)).sort(),
      'step 5: migrate_discovery to every old topic of an entity that still exists (not to the ghost)',
    );
    assert.ok(devices.length >= 2, 'step 6: the node and the camera device configs');
    assert.ok(Math.max(...markers) < Math.min(...devices), 'every marker before the first device config');
    assert.ok(Math.min(...clears) > Math.max(...devices), 'step 7: old topics cleared after the device configs');

    // Every unique_id of the previous release is in a device config, unchanged.
    const uniqueIds = new Set(devices.flatMap((i) => Object.values(componentsIn(messages[i]!)).map((c) => c.unique_id)));
    for (const [, objectId] of LEGACY) assert.ok(uniqueIds.has(`edge_imprint_testnode_${objectId}`), objectId);
    assert.equal(uniqueIds.has('edge_imprint_testnode_door_class_ghost'), false);

    // What a Home Assistant starting now finds retained: only the two device configs.
    const late = await TestClient.connect(broker.url);
    await late.subscribe(`${PREFIX}/#`);
    await new Promise((r) => setTimeout(r, 300));
    await late.end();
    assert.deepEqual(
      late.messages.map((m) => m.topic).sort(),
      [`${PREFIX}/device/edge_imprint_testnode/camera_door/config`, `${PREFIX}/device/edge_imprint_testnode/node/config`],
    );
  });
});

void describe('Home Assistant discovery through a real mosquitto', () => {
  let broker: Mosquitto;
  let agent: Agent;
  let ha: TestClient;
  let imprinting: TestImprinting;
  const logger = testLogger();
  const NODE = `${PREFIX}/device/edge_imprint_testnode/node/config`;
  const DOOR = `${PREFIX}/device/edge_imprint_testnode/camera_door/config`;
  const deviceConfigs = (from = 0) => ha.messages.slice(from).filter((m) => isDevice(m));

  before(async () => {
    broker = await startMosquitto();
    imprinting = await startTestImprinting();
    const { width, height } = imprinting.inputSize;
    const frame: PixelShot = {
      rgb: new Uint8Array(await sharp(CAT).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer()),
    };
    const { imprinter, bus } = imprinting;
    ha = await TestClient.connect(broker.url);
    await ha.subscribe(`${PREFIX}/#`);
    await ha.subscribe(`${BASE}/#`);
    agent = await startAgent({ url: broker.url, imprinter, bus, logger, cameras: ['door'], latestFrame: () => frame });
  });
  after(async () => {
    await ha?.end();
    await agent?.stop();
    await broker?.cleanup();
    await imprinting?.stop();
  });

  void it('announces one retained config per device, nothing per entity', async () => {
    await waitFor(() => deviceConfigs().length >= 2, 5000, 'device configs');
    await new Promise((r) => setTimeout(r, 300));
    const configs = ha.messages.filter((m) => m.topic.startsWith(`${PREFIX}/`) && m.topic.endsWith('/config'));
    assert.deepEqual([...new Set(configs.map((m) => m.topic))].sort(), [DOOR, NODE]);
    for (const m of configs) {
      assert.equal(m.retain, false, 'a live announce (the retained copy is checked below)');
      for (const [key, c] of Object.entries(componentsIn(m))) {
        const platform = c.p as Platform;
        for (const k of ['unique_id', ...REQUIRED_KEYS[platform]]) assert.ok(k in c, `${key} lacks ${k}`);
      }
    }
    const late = await TestClient.connect(broker.url);
    await late.subscribe(`${PREFIX}/+/edge_imprint_testnode/+/config`);
    await waitFor(() => late.messages.length >= 2, 3000, 'the retained device configs');
    await late.end();
    assert.ok(late.messages.every((m) => m.retain && isDevice(m)));
  });

  void it('re-announces when Home Assistant sends its birth message', async () => {
    const from = ha.messages.length;
    await ha.publish(`${PREFIX}/status`, 'online');
    await waitFor(() => deviceConfigs(from).some((m) => m.topic === NODE) && deviceConfigs(from).some((m) => m.topic === DOOR), 5000, 're-announce');
  });

  void it('a new class gets an entity; a removed or renamed class loses it the way HA documents', async () => {
    const has = (key: string) => (p: Buffer) => p.length > 0 && key in (JSON.parse(p.toString()) as { cmps: object }).cmps;
    let from = ha.messages.length;
    await ha.request('class/enroll/cat', CAT, { raw: true, responseCommand: 'class/enroll' });
    await ha.request('class/enroll/dog', CAT, { raw: true, responseCommand: 'class/enroll' });
    await ha.next(DOOR, from, has('door_class_cat'));
    await ha.next(DOOR, from, has('door_class_dog'));
    // More shots of a known class change no entity: nothing is re-sent.
    const quiet = ha.messages.length;
    await ha.request('class/enroll/cat', CAT, { raw: true, responseCommand: 'class/enroll' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(deviceConfigs(quiet).length, 0, 'unchanged configs are not republished');

    from = ha.messages.length;
    await ha.request('class/remove', { label: 'cat' });
    const tombstone = await ha.next(DOOR, from, (p) => componentsIn({ payload: p } as Message).door_class_cat !== undefined);
    assert.deepEqual(componentsIn(tombstone).door_class_cat, { p: 'binary_sensor' }, 'first: the component with its platform only');
    const at = ha.messages.indexOf(tombstone);
    const final = await ha.next(DOOR, at + 1);
    assert.equal(componentsIn(final).door_class_cat, undefined, 'then: the config without it');
    assert.ok(componentsIn(final).door_class_dog);

    from = ha.messages.length;
    await ha.request('class/rename', { label: 'dog', to: 'hound' });
    const renamed = await ha.next(DOOR, from, (p) => componentsIn({ payload: p } as Message).door_class_dog !== undefined);
    assert.deepEqual(componentsIn(renamed).door_class_dog, { p: 'binary_sensor' });
    assert.ok(componentsIn(renamed).door_class_hound, 'the new entity comes in the same update');
    // A Home Assistant starting now finds the final config only.
    const late = await TestClient.connect(broker.url);
    await late.subscribe(DOOR);
    const retained = await late.next(DOOR);
    await late.end();
    const cmps = componentsIn(retained);
    assert.ok(cmps.door_class_hound);
    assert.equal(cmps.door_class_cat, undefined);
    assert.equal(cmps.door_class_dog, undefined);
    assert.equal(Object.values(cmps).filter((c) => Object.keys(c).length === 1).length, 0, 'no leftover removal entries');
  });

  void it('clears a stray config that appears later: a per-entity one or a device that is gone', async () => {
    const stray = `${PREFIX}/binary_sensor/edge_imprint_testnode/door_class_ghost/config`;
    const gone = `${PREFIX}/device/edge_imprint_testnode/camera_gone/config`;
    const from = ha.messages.length;
    await ha.publish(stray, JSON.stringify({ state_topic: 'x', unique_id: 'ghost' }), { retain: true });
    await ha.publish(gone, JSON.stringify({ dev: { ids: ['x'] }, o: { name: 'x' }, cmps: {} }), { retain: true });
    await ha.next(stray, from, (p) => p.length === 0);
    await ha.next(gone, from, (p) => p.length === 0);
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
    assert.deepEqual(enrollAnswerCounts(JSON.parse(res.payload.toString())), { status: 'ok', data: { label: 'parcel', shots: 1, added: 1 } });
    await ha.next(DOOR, from, (p) => p.length > 0 && 'door_class_parcel' in componentsIn({ payload: p } as Message));
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
