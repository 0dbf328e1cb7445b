import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { safeResponseTopic } from '../../src/mqtt/requests.js';
import { testLogger } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE, startAgent, startTestImprinting, TestClient, type Agent, type TestImprinting } from './harness.js';

const GALLERY = 'edge-imprint-gallery';

void describe('MQTT v5 response_topic is never one of the agent\'s own topics', () => {
  const cases: Array<[string, boolean]> = [
    ['client/42/reply', true],
    ['edge-imprint/response/classify', true],
    ['edge-imprint/response/mine/1', true],
    ['edge-imprint/available', false],
    ['edge-imprint/door/cat', false],
    ['edge-imprint/state', false],
    ['edge-imprint', false],
    ['homeassistant/binary_sensor/x/config', false],
    ['homeassistant', false],
    ['edge-imprint-gallery/mallory/manifest', false],
    ['edge-imprint-gallery', false],
    ['edge-imprint-gallery-other/x', true],
    ['$SYS/broker/uptime', false],
    ['$share/group/reply', false],
    ['reply/+/x', false],
    ['reply/#', false],
    ['', false],
    ['edge-imprinter/other', true],
  ];
  for (const [topic, ok] of cases) {
    void it(`${JSON.stringify(topic)} → ${ok ? 'allowed' : 'refused'}`, () => {
      assert.equal(safeResponseTopic(topic, 'edge-imprint', 'homeassistant', GALLERY), ok);
    });
  }
});

void describe('response_topic through a real mosquitto (MQTT v5)', () => {
  let broker: Mosquitto;
  let agent: Agent;
  let client: TestClient;
  let imprinting: TestImprinting;

  before(async () => {
    broker = await startMosquitto();
    imprinting = await startTestImprinting();
    agent = await startAgent({ url: broker.url, imprinter: imprinting.imprinter, bus: imprinting.bus, logger: testLogger(), discovery: false });
    client = await TestClient.connect(broker.url, { protocolVersion: 5 });
  });

  after(async () => {
    await client?.end();
    await agent?.stop();
    await broker?.cleanup();
    await imprinting?.stop();
  });

  void it('an answer never lands in the gallery subtree; a response_topic elsewhere gets it with its correlation data', async () => {
    await client.subscribe(`${GALLERY}/#`);
    await client.subscribe('client/reply');
    await client.subscribe(`${BASE}/response/class/list`);
    const intoGallery = `${GALLERY}/mallory/manifest`;
    await client.publish(`${BASE}/request/class/list`, JSON.stringify({ transaction: 'bad' }), {
      properties: { responseTopic: intoGallery, correlationData: Buffer.from('c-bad') },
    });
    await client.next(`${BASE}/response/class/list`, 0, (p) => p.toString().includes('"bad"'));
    // A later answer on a sound response topic: the agent's answers arrive in order, so by then the first would have too.
    await client.publish(`${BASE}/request/class/list`, JSON.stringify({ transaction: 'good' }), {
      properties: { responseTopic: 'client/reply', correlationData: Buffer.from('c-good') },
    });
    const good = await client.next('client/reply', 0, (p) => p.toString().includes('"good"'));
    assert.deepEqual((good.properties as { correlationData?: Buffer }).correlationData, Buffer.from('c-good'));
    assert.deepEqual(client.messages.filter((m) => m.topic.startsWith(`${GALLERY}/`)).map((m) => m.topic), []);
  });
});
