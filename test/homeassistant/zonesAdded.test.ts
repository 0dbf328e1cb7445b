/**
 * A camera given zones between two runs (real mosquitto, the real imprinter): Home Assistant
 * is told to remove the camera's own components the documented way, and the camera-level
 * topics no unit publishes any more are cleared on the broker.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { image, testLogger, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE, PREFIX, startAgent, startTestImprinting, TestClient, type Agent, type TestImprinting } from '../mqtt/harness.js';

const CAT = readFileSync(image('cat_train_0.jpg'));
const DOOR = `${PREFIX}/device/edge_imprint_testnode/camera_door/config`;
const CAMERA_LEVEL = [`${BASE}/door/label`, `${BASE}/door/attributes`, `${BASE}/door/cat`];

type Cmps = Record<string, Record<string, unknown>>;
const cmpsOf = (payload: Buffer): Cmps => (payload.length > 0 ? (JSON.parse(payload.toString()) as { cmps: Cmps }).cmps : {});

/** What a client subscribing now gets retained under `filter`. */
async function retained(url: string, filter: string): Promise<Map<string, Buffer>> {
  const late = await TestClient.connect(url);
  await late.subscribe(filter);
  // Retained messages come right after SUBACK; our own round trip comes after them.
  await late.subscribe('zones-added-probe/done');
  await late.publish('zones-added-probe/done', 'x');
  await late.next('zones-added-probe/done');
  await late.end();
  return new Map(late.messages.filter((m) => m.retain).map((m) => [m.topic, m.payload]));
}

void describe('a camera given zones between two runs', () => {
  let broker: Mosquitto;
  let imprinting: TestImprinting;
  let agent: Agent | undefined;
  let ha: TestClient;

  before(async () => {
    broker = await startMosquitto();
    imprinting = await startTestImprinting();
    await imprinting.imprinter.enrollImages('cat', [CAT], { source: 'test' });
    ha = await TestClient.connect(broker.url);
    await ha.subscribe(`${PREFIX}/#`);
  });
  after(async () => {
    await ha?.end();
    await agent?.stop();
    await broker?.cleanup();
    await imprinting?.stop();
  });

  void it('its own components get {"p": platform} once, then go; its label, attributes and class states are cleared', async () => {
    const { imprinter, bus } = imprinting;
    agent = await startAgent({ url: broker.url, imprinter, bus, logger: testLogger(), cameras: ['door'] });
    await ha.next(DOOR, 0, (p) => 'door_class_cat' in cmpsOf(p));
    bus.emit('cameraResult', { camera: 'door', zone: null, label: 'cat', score: 0.9, scores: { cat: 0.9 }, at: new Date() });
    await waitFor(async () => {
      const now = await retained(broker.url, `${BASE}/door/#`);
      return CAMERA_LEVEL.every((t) => (now.get(t)?.length ?? 0) > 0);
    }, 5000, 'the camera-level topics of the first run');
    const before = Object.entries(cmpsOf((await retained(broker.url, DOOR)).get(DOOR)!));
    await agent.stop();

    const from = ha.messages.length;
    agent = await startAgent({ url: broker.url, imprinter, bus, logger: testLogger(), cameras: ['door'], zones: { door: ['step'] } });
    const final = await ha.next(DOOR, from, (p) => 'door_zone_step_class_cat' in cmpsOf(p) && Object.values(cmpsOf(p)).every((c) => Object.keys(c).length > 1), 10_000);
    const gone = before.filter(([key]) => !(key in cmpsOf(final.payload)));
    assert.deepEqual(gone.map(([key]) => key).sort(), ['door_class_cat', 'door_label', 'door_right', 'door_scene', 'door_wrong']);
    const marker = ha.messages.slice(from, ha.messages.indexOf(final)).find((m) => m.topic === DOOR && m.payload.length > 0);
    assert.ok(marker, 'the removal marker comes before the final config');
    for (const [key, c] of gone) assert.deepEqual(cmpsOf(marker.payload)[key], { p: c.p }, `${key}: its platform only`);

    const after = await retained(broker.url, `${BASE}/door/#`);
    for (const topic of CAMERA_LEVEL) assert.equal(after.has(topic), false, `${topic} cleared`);
    assert.ok(after.has(`${BASE}/door/step/cat`), 'the zone publishes its own class state');
  });
});
