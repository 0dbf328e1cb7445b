import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { PixelShot } from '../../src/imprinting/imprinter.js';
import { image, testLogger, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE, startAgent, startTestImprinting, TestClient, type Agent, type TestImprinting } from './harness.js';
import { enrollCounts } from '../helpers/enrollAnswer.js';

const CAT = readFileSync(image('cat_train_0.jpg'));
const DOG = readFileSync(image('dog_train_0.jpg'));
const FLOWER = readFileSync(image('sunflower.jpg'));
const b64 = (buf: Buffer): string => buf.toString('base64');

async function frameOf(path: string, size: { width: number; height: number }): Promise<PixelShot> {
  const rgb = await sharp(path).resize(size.width, size.height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
  return { rgb: new Uint8Array(rgb) };
}

function assertError(res: Record<string, unknown>, code: string, mentions: RegExp): void {
  assert.equal(res.status, 'error', JSON.stringify(res));
  assert.equal(res.code, code, JSON.stringify(res));
  assert.match(String(res.error), mentions);
  assert.equal('data' in res, false);
}

void describe('MQTT requests through a real mosquitto', () => {
  let broker: Mosquitto;
  let agent: Agent;
  let client: TestClient;
  let imprinting: TestImprinting;
  let frame: PixelShot;
  const logger = testLogger();

  before(async () => {
    broker = await startMosquitto();
    const limits = { max_payload_bytes: 4 * 1024 * 1024, max_megapixels: 10, queue_size: 4 };
    imprinting = await startTestImprinting(limits);
    frame = await frameOf(image('cat_test_0.jpg'), imprinting.inputSize);
    agent = await startAgent({
      url: broker.url,
      imprinter: imprinting.imprinter,
      bus: imprinting.bus,
      logger,
      cameras: ['door', 'garage'],
      latestFrame: (camera) => (camera === 'door' ? frame : null),
      limits,
      discovery: false,
    });
    client = await TestClient.connect(broker.url);
  });

  after(async () => {
    await client?.end();
    await agent?.stop();
    await broker?.cleanup();
    await imprinting?.stop();
  });

  void it('class/enroll with base64 images imprints them and echoes the transaction', async () => {
    const res = await client.request('class/enroll', { label: 'cat', images: [b64(CAT), b64(CAT)] });
    assert.equal(res.status, 'ok');
    assert.deepEqual(enrollCounts(res.data), { label: 'cat', shots: 2, added: 2 });
    assert.match(String(res.transaction), /^tx-/);
  });

  void it('class/enroll/<label> takes raw image bytes and answers on response/class/enroll', async () => {
    const res = await client.request('class/enroll/dog', DOG, { raw: true, responseCommand: 'class/enroll' });
    assert.equal(res.status, 'ok');
    assert.deepEqual(enrollCounts(res.data), { label: 'dog', shots: 1, added: 1 });
    assert.equal('transaction' in res, false);
  });

  void it('class/enroll from live camera frames takes `frames` shots', async () => {
    const res = await client.request('class/enroll', { label: 'door cat', camera: 'door', frames: 3, interval_ms: 10 });
    assert.equal(res.status, 'ok', JSON.stringify(res));
    assert.deepEqual(enrollCounts(res.data), { label: 'door cat', shots: 3, added: 3 });
  });

  void it('class/enroll rejects bad camera requests', async () => {
    assertError(await client.request('class/enroll', { label: 'x', camera: 'attic' }), 'not_found', /camera.*attic/);
    assertError(await client.request('class/enroll', { label: 'x', camera: 'garage' }), 'not_found', /camera: "garage" has no live frame/);
    assertError(await client.request('class/enroll', { label: 'x', camera: 'door', frames: 51 }), 'bad_request', /frames/);
    assertError(
      await client.request('class/enroll', { label: 'x', camera: 'door', images: [b64(CAT)] }),
      'bad_request',
      /exactly one of "images" or "camera"/,
    );
  });

  void it('class/enroll rejects bad labels, naming the field', async () => {
    const reserved = await client.request('class/enroll', { label: 'unknown', images: [b64(CAT)] });
    assertError(reserved, 'bad_label', /label.*reserved/);
    assert.match(String(reserved.transaction), /^tx-/, 'the transaction is echoed on errors too');
    assertError(await client.request('class/enroll', { label: 'None', images: [b64(CAT)] }), 'bad_label', /reserved/);
    assertError(await client.request('class/enroll', { label: 'x'.repeat(65), images: [b64(CAT)] }), 'bad_label', /1-64/);
    assertError(await client.request('class/enroll', { label: ' cat', images: [b64(CAT)] }), 'bad_label', /space/);
    assertError(await client.request('class/enroll', { label: 'a+b', images: [b64(CAT)] }), 'bad_label', /letters/);
    assertError(await client.request('class/enroll', { label: '', images: [b64(CAT)] }), 'bad_label', /1-64/);
    assertError(await client.request('class/enroll/none', CAT, { raw: true, responseCommand: 'class/enroll' }), 'bad_label', /reserved/);
    assertError(await client.request('class/enroll/a/b', CAT, { raw: true, responseCommand: 'class/enroll' }), 'bad_label', /letters/);
    const ok = await client.request('class/enroll', { label: 'Ünïcode snake_case-1.0', images: [b64(FLOWER)] });
    assert.equal(ok.status, 'ok', 'unicode letters, digits, space, _ - . are allowed');
  });

  void it('class/enroll rejects wrong types, unknown fields and bad JSON', async () => {
    const typed = await client.request('class/enroll', { label: 42, images: 'nope' });
    assertError(typed, 'bad_request', /label: must be string/);
    assert.match(String(typed.error), /images: must be array/, 'every wrong field is listed');
    assertError(await client.request('class/enroll', { label: 'cat', images: [b64(CAT)], colour: 1 }), 'bad_request', /colour: unknown field/);
    assertError(await client.request('class/enroll', { images: [b64(CAT)] }), 'bad_request', /label: is required/);
    assertError(await client.request('class/enroll', '{"label": "cat", ', { raw: true }), 'bad_request', /not valid JSON/);
    assertError(await client.request('class/enroll', [1, 2]), 'bad_request', /payload: must be object/);
  });

  void it('rejects what is not an image', async () => {
    assertError(await client.request('class/enroll', { label: 'cat', images: ['***not base64***'] }), 'bad_image', /images\[0\]: not valid base64/);
    assertError(await client.request('class/enroll', { label: 'cat', images: [b64(Buffer.from('hello world'))] }), 'bad_image', /images\[0\]: not an image \(expected a JPEG, PNG or WebP/);
    assertError(await client.request('class/enroll/cat', 'hello', { raw: true, responseCommand: 'class/enroll' }), 'bad_image', /payload: not an image/);
    assertError(await client.request('class/enroll/cat', '', { raw: true, responseCommand: 'class/enroll' }), 'bad_image', /empty/);
    const truncated = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100)]);
    assertError(await client.request('class/enroll/cat', truncated, { raw: true, responseCommand: 'class/enroll' }), 'bad_image', /cannot be read/);
  });

  void it('rejects oversized payloads and images over the megapixel limit', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0xff);
    assertError(await client.request('class/enroll/cat', big, { raw: true, responseCommand: 'class/enroll' }), 'too_large', /max_payload_bytes/);
    const huge = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    assertError(await client.request('classify', huge, { raw: true }), 'too_large', /4000x3000 .* over the limit of 10/);
  });

  void it('refuses a retained request instead of replaying it on every reconnect', async () => {
    await client.subscribe(`${BASE}/response/class/remove`);
    const from = client.messages.length;
    await client.publish(`${BASE}/request/class/remove`, JSON.stringify({ label: 'dog' }), { retain: true });
    // MQTT v5 "retain as published": live delivery keeps the flag, so it is refused at once too.
    const live = await client.next(`${BASE}/response/class/remove`, from);
    assert.equal((JSON.parse(live.payload.toString()) as { code: string }).code, 'bad_request');
    // A client (re)subscribing gets the stored copy with the retain flag: refused, not replayed.
    await agent.requests.stop();
    const again = client.messages.length;
    await agent.requests.start();
    const replay = await client.next(`${BASE}/response/class/remove`, again);
    const body = JSON.parse(replay.payload.toString()) as Record<string, unknown>;
    assert.equal(body.code, 'bad_request');
    assert.match(String(body.error), /retain/);
    await client.publish(`${BASE}/request/class/remove`, '', { retain: true }); // clear it
  });

  void it('answers an unknown command', async () => {
    assertError(await client.request('class/frobnicate', {}), 'bad_request', /unknown command "class\/frobnicate"/);
    assertError(await client.request('reboot', 'now', { raw: true }), 'bad_request', /unknown command "reboot"/);
  });

  void it('class/list returns the classes', async () => {
    const res = await client.request('class/list', {});
    assert.equal(res.status, 'ok');
    const labels = (res.data as Array<{ label: string; shots: number; background: boolean }>).map((c) => c.label);
    assert.ok(labels.includes('cat') && labels.includes('dog'), labels.join(','));
    const empty = await client.request('class/list', '', { raw: true });
    assert.equal(empty.status, 'ok', 'an empty payload is an empty request');
    assertError(await client.request('class/list', { verbose: true }), 'bad_request', /verbose: unknown field/);
  });

  void it('classify accepts base64 JSON and raw bytes', async () => {
    for (const res of [
      await client.request('classify', { image: b64(CAT) }),
      await client.request('classify', CAT, { raw: true }),
    ]) {
      assert.equal(res.status, 'ok', JSON.stringify(res));
      const data = res.data as { label: string; score: number; scores: Record<string, number> };
      assert.equal(data.label, 'cat', 'the real model recognises the enrolled cat');
      assert.deepEqual(Object.keys(data).sort(), ['label', 'score', 'scores'], 'the contract\'s answer, no embedding');
      assert.equal(typeof data.score, 'number');
      assert.ok((data.scores.cat ?? 0) > (data.scores.dog ?? 1), JSON.stringify(data.scores));
    }
    assertError(await client.request('classify', {}), 'bad_request', /image: is required/);
    assertError(await client.request('classify', { image: b64(Buffer.from('GIF89a....')) }), 'bad_image', /image: not an image/);
    assertError(await client.request('classify', 'plain text', { raw: true }), 'bad_request', /not valid JSON/);
  });

  void it('class/rename, class/undo and class/remove', async () => {
    await client.request('class/enroll', { label: 'bird', images: [b64(CAT)] });
    const renamed = await client.request('class/rename', { label: 'bird', to: 'owl' });
    assert.deepEqual(renamed.data, { label: 'bird', to: 'owl' });
    assertError(await client.request('class/rename', { label: 'owl', to: 'cat' }), 'conflict', /cat/);
    assertError(await client.request('class/rename', { label: 'owl', to: 'unknown' }), 'bad_label', /^to: .*reserved/);
    assertError(await client.request('class/rename', { label: 'owl' }), 'bad_request', /to: is required/);
    const undone = await client.request('class/undo', { label: 'cat' });
    assert.deepEqual(undone.data, { label: 'cat', shots: 1 });
    assertError(await client.request('class/undo', { label: 'ghost' }), 'not_found', /ghost/);
    const removed = await client.request('class/remove', { label: 'owl' });
    assert.deepEqual(removed.data, { label: 'owl' });
    assertError(await client.request('class/remove', { label: 'owl' }), 'not_found', /owl/);
    assertError(await client.request('class/remove', { label: 7 }), 'bad_request', /label: must be string/);
  });

  void it('labels one Home Assistant entity apart ("Cat" beside "cat") are a conflict naming the existing class', async () => {
    assert.equal((await client.request('class/enroll', { label: 'Red Fox', images: [b64(DOG)] })).status, 'ok');
    assertError(await client.request('class/enroll', { label: 'Cat', images: [b64(CAT)] }), 'conflict', /^label: "Cat" .*existing class "cat"/);
    assertError(await client.request('class/enroll', { label: 'red_fox', images: [b64(CAT)] }), 'conflict', /existing class "Red Fox"/);
    const raw = await client.request('class/enroll/CAT', CAT, { raw: true, responseCommand: 'class/enroll' });
    assertError(raw, 'conflict', /^class\/enroll\/CAT: label: "CAT" .*existing class "cat"/);
    assertError(await client.request('class/rename', { label: 'Red Fox', to: 'CAT' }), 'conflict', /^to: "CAT" .*existing class "cat"/);
    // A class may change its own case; the display name stays as typed.
    assert.deepEqual((await client.request('class/rename', { label: 'Red Fox', to: 'red fox' })).data, { label: 'Red Fox', to: 'red fox' });
    assert.deepEqual(enrollCounts((await client.request('class/enroll', { label: 'red fox', images: [b64(DOG)] })).data), { label: 'red fox', shots: 2, added: 1 });
    assert.equal((await client.request('class/remove', { label: 'red fox' })).status, 'ok');
  });

  void it('errors of raw-topic enrollments name the label', async () => {
    assertError(await client.request('class/enroll/cat', 'hello', { raw: true, responseCommand: 'class/enroll' }), 'bad_image', /^class\/enroll\/cat: payload: not an image/);
    assertError(await client.request('class/enroll/none', CAT, { raw: true, responseCommand: 'class/enroll' }), 'bad_label', /^class\/enroll\/none: label: .*reserved/);
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0xff);
    assertError(await client.request('class/enroll/dog', big, { raw: true, responseCommand: 'class/enroll' }), 'too_large', /^class\/enroll\/dog: payload: /);
  });

  void it('camera/detect switches detection through the provider', async () => {
    const res = await client.request('camera/detect', { camera: 'door', enabled: false });
    assert.deepEqual(res.data, { camera: 'door', enabled: false });
    assert.equal(agent.enabled.get('door'), false);
    await client.request('camera/detect', { camera: 'door', enabled: true });
    assert.equal(agent.enabled.get('door'), true);
    assertError(await client.request('camera/detect', { camera: 'attic', enabled: true }), 'not_found', /attic/);
    assertError(await client.request('camera/detect', { camera: 'door', enabled: 'yes' }), 'bad_request', /enabled: must be boolean/);
  });

  void it('a flood beyond the queue gets `busy`, and every request exactly one answer', async () => {
    const topic = `${BASE}/response/classify`;
    await client.subscribe(topic);
    const from = client.messages.length;
    const n = 30;
    await Promise.all(
      Array.from({ length: n }, (_, i) => client.publish(`${BASE}/request/classify`, JSON.stringify({ image: b64(CAT), transaction: i }))),
    );
    await waitFor(() => client.messages.slice(from).filter((m) => m.topic === topic).length >= n, 20_000, 'all answers');
    await new Promise((r) => setTimeout(r, 300)); // would a request be answered twice?
    const parsed = client.messages
      .slice(from)
      .filter((m) => m.topic === topic)
      .map((m) => JSON.parse(m.payload.toString()) as { status: string; code?: string; transaction: number });
    assert.equal(parsed.length, n, 'no request answered twice');
    assert.deepEqual([...new Set(parsed.map((p) => p.transaction))].sort((a, b) => a - b), [...Array(n).keys()]);
    const busy = parsed.filter((p) => p.code === 'busy').length;
    const ok = parsed.filter((p) => p.status === 'ok').length;
    assert.ok(busy > 0, `some requests were refused as busy (${busy})`);
    assert.ok(ok >= 4, `the queued ones were served (${ok})`);
    assert.equal(busy + ok, n);
  });
});
