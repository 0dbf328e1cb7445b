/**
 * Retained requests and retained button presses (real mosquitto, the real imprinter): a
 * request published retained is refused before it acts, with an answer saying how to clear
 * it; clearing it is not a request; Home Assistant's enroll button acts on live presses only.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { PixelShot } from '../../src/imprinting/imprinter.js';
import { image, testLogger } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE, startAgent, startTestImprinting, TestClient, type Agent, type TestImprinting } from './harness.js';

const CAT = readFileSync(image('cat_train_0.jpg'));

void describe('retained requests and presses', () => {
  let broker: Mosquitto;
  let imprinting: TestImprinting;
  let agent: Agent | undefined;
  let client: TestClient;
  let frame: PixelShot;

  before(async () => {
    broker = await startMosquitto();
    imprinting = await startTestImprinting();
    await imprinting.imprinter.enrollImages('cat', [CAT], { source: 'test' });
    const { width, height } = imprinting.inputSize;
    frame = { rgb: new Uint8Array(await sharp(CAT).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer()) };
    client = await TestClient.connect(broker.url);
    // One subscription per response topic (overlapping ones would deliver each answer twice).
    for (const command of ['class/set', 'class/enroll', 'class/list']) await client.subscribe(`${BASE}/response/${command}`);
  });
  after(async () => {
    await client?.end();
    await agent?.stop();
    await broker?.cleanup();
    await imprinting?.stop();
  });

  const start = (): Promise<Agent> => {
    const { imprinter, classes, corrections, bus } = imprinting;
    return startAgent({ url: broker.url, imprinter, classes, corrections, bus, logger: testLogger(), latestFrame: () => frame });
  };
  const threshold = (): number | undefined => imprinting.imprinter.list().find((c) => c.label === 'cat')?.threshold;
  const answersOn = (command: string, from: number) =>
    client.messages.slice(from).filter((m) => m.topic === `${BASE}/response/${command}`).map((m) => JSON.parse(m.payload.toString()) as Record<string, unknown>);

  void it('class/set published retained is refused, not applied, and says how to clear it; the clear gets no answer', async () => {
    agent = await start();
    const before = threshold();
    const from = client.messages.length;
    const topic = `${BASE}/request/class/set`;
    await client.publish(topic, JSON.stringify({ label: 'cat', threshold: 0.99, transaction: 'kept' }), { retain: true });
    const answer = await client.next(`${BASE}/response/class/set`, from);
    const body = JSON.parse(answer.payload.toString()) as Record<string, unknown>;
    assert.equal(body.status, 'error');
    assert.equal(body.code, 'bad_request');
    assert.match(String(body.error), /retain/);
    assert.ok(String(body.error).includes(`mosquitto_pub -r -n -t '${topic}'`), String(body.error));
    assert.equal(threshold(), before, 'not applied');

    await client.publish(topic, '', { retain: true });
    const live = await client.request('class/set', { label: 'cat', threshold: 0.5 });
    assert.equal(live.status, 'ok', 'the same request published live is applied');
    assert.deepEqual(answersOn('class/set', from).map((a) => a.status), ['error', 'ok'], 'the clear itself got no answer');
    await agent.stop();
    agent = undefined;
  });

  void it('the enroll button acts on live presses only, never on a retained one', async () => {
    const press = `${BASE}/enroll_form/enroll`;
    await client.publish(press, 'PRESS', { retain: true });
    const from = client.messages.length;
    agent = await start();
    await client.publish(`${BASE}/enroll_form/label/set`, 'parcel');
    await client.subscribe(`${BASE}/enroll_form/label`);
    await client.next(`${BASE}/enroll_form/label`, from, (p) => p.toString() === 'parcel');
    await client.publish(press, 'PRESS', { retain: true });
    await client.publish(press, 'PRESS');
    await client.next(`${BASE}/response/class/enroll`, from);
    // The retained presses (at subscribe, then live) came before the live one and are answered in order.
    await client.request('class/list', {});
    assert.deepEqual(answersOn('class/enroll', from).map((a) => a.status), ['ok']);
    assert.equal(imprinting.imprinter.list().find((c) => c.label === 'parcel')?.shots, 1, 'enrolled once');
    await client.publish(press, '', { retain: true });
  });
});
