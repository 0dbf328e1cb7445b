import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { EventBus } from '../../src/eventBus.js';
import { attributesPayload, eventPayload, unitLabels } from '../../src/mqtt/publisher.js';
import { image, testLogger, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE, startAgent, startTestImprinting, TestClient, type Agent, type TestImprinting } from './harness.js';

const SNAPSHOT = readFileSync(image('cat_test_0.jpg'));

void describe('payload builders', () => {
  void it('events: ISO times, no snapshot bytes, rounded score', () => {
    const p = eventPayload({
      type: 'end',
      id: 'e1',
      camera: 'door',
      zone: null,
      label: 'cat',
      score: 0.912345678,
      start_time: new Date('2026-01-02T03:04:05Z'),
      end_time: new Date('2026-01-02T03:04:09Z'),
      snapshot: SNAPSHOT,
      embedding: null,
      residual: null,
      crop: null,
    });
    assert.deepEqual(p, {
      type: 'end',
      id: 'e1',
      camera: 'door',
      label: 'cat',
      score: 0.9123,
      start_time: '2026-01-02T03:04:05.000Z',
      end_time: '2026-01-02T03:04:09.000Z',
    });
  });

  void it('events of a zone carry the zone', () => {
    const p = eventPayload({
      type: 'start', id: 'e2', camera: 'drive', zone: 'bin', label: 'bin_out', score: 0.8,
      start_time: new Date(0), end_time: null, snapshot: null, embedding: null, residual: null, crop: null,
    });
    assert.equal(p.zone, 'bin');
  });

  void it('a zone with a class list has ON/OFF topics for those classes only', () => {
    assert.deepEqual(unitLabels({ camera: 'drive', zone: 'bin', classes: ['bin_out', 'bin_in'] }, ['cat', 'bin_in', 'bin_out']), ['bin_in', 'bin_out']);
    assert.deepEqual(unitLabels({ camera: 'door', zone: null, classes: [] }, ['cat', 'dog']), ['cat', 'dog']);
  });

  void it('attributes: label, score, scores, at', () => {
    const p = attributesPayload({ camera: 'door', zone: null, label: 'cat', score: 0.8, scores: { cat: 0.8, dog: 0.123456 }, at: new Date(0) });
    assert.deepEqual(p, { label: 'cat', score: 0.8, scores: { cat: 0.8, dog: 0.1235 }, at: '1970-01-01T00:00:00.000Z' });
  });

  void it('a class found in a region of the frame: attributes and the start event carry its box, rounded (contract round 3)', () => {
    const box = { x: 0.656249999, y: 0.47222, width: 0.25, height: 0.444444 };
    const a = attributesPayload({ camera: 'yard', zone: null, label: 'tabby', score: 0.5, scores: { tabby: 0.5 }, at: new Date(0), box });
    assert.deepEqual(a.box, { x: 0.6562, y: 0.4722, width: 0.25, height: 0.4444 });
    const e = eventPayload({
      type: 'start', id: 'e3', camera: 'yard', zone: null, label: 'tabby', score: 0.5,
      start_time: new Date(0), end_time: null, snapshot: null, embedding: null, residual: null, crop: null, box,
    });
    assert.deepEqual(e.box, { x: 0.6562, y: 0.4722, width: 0.25, height: 0.4444 });
  });
});

void describe('publisher through a real mosquitto', () => {
  let broker: Mosquitto;
  let agent: Agent;
  let bus: EventBus;
  let watcher: TestClient;
  let imprinting: TestImprinting;
  const logger = testLogger();

  before(async () => {
    broker = await startMosquitto();
    imprinting = await startTestImprinting();
    bus = imprinting.bus;
    const imprinter = imprinting.imprinter;
    await imprinter.enrollImages('cat', [SNAPSHOT], { source: 'test' });
    await imprinter.enrollImages('empty room', [SNAPSHOT], { source: 'test', background: true });
    agent = await startAgent({ url: broker.url, imprinter, bus, logger, cameras: ['door'], statsIntervalS: 1, discovery: false });
    watcher = await TestClient.connect(broker.url);
    await watcher.subscribe(`${BASE}/#`);
  });
  after(async () => {
    await watcher?.end();
    await agent?.stop();
    await broker?.cleanup();
    await imprinting?.stop();
  });

  void it('publishes state, classes, camera status and per-class OFF at start (retained)', async () => {
    const state = JSON.parse((await watcher.next(`${BASE}/state`)).payload.toString()) as Record<string, unknown>;
    for (const key of ['version', 'node_id', 'detector', 'classes', 'cameras', 'started_at']) assert.ok(key in state, key);
    assert.deepEqual(state.cameras, { door: { status: 'online' } });
    const classes = JSON.parse((await watcher.next(`${BASE}/classes`)).payload.toString()) as Array<Record<string, unknown>>;
    assert.deepEqual(classes.map((c) => c.label).sort(), ['cat', 'empty room']);
    for (const key of ['label', 'shots', 'background', 'created_at', 'updated_at']) assert.ok(key in classes[0]!, key);
    assert.equal((await watcher.next(`${BASE}/door/status`)).payload.toString(), 'online');
    assert.equal((await watcher.next(`${BASE}/door/cat`)).payload.toString(), 'OFF');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(watcher.count(`${BASE}/door/empty room`), 0, 'no ON/OFF topic for a background class');
  });

  void it('stats every interval, not retained', async () => {
    const from = watcher.messages.length;
    await waitFor(() => watcher.messages.slice(from).filter((m) => m.topic === `${BASE}/stats`).length >= 2, 3500, 'two stats');
    const stats = JSON.parse((await watcher.next(`${BASE}/stats`, from)).payload.toString()) as Record<string, unknown>;
    for (const key of ['uptime_s', 'rss_mb', 'detector', 'cameras']) assert.ok(key in stats, key);
  });

  void it('bus events become label, attributes, ON/OFF, snapshot and events', async () => {
    const from = watcher.messages.length;
    bus.emit('cameraStatus', { camera: 'door', status: 'offline' });
    bus.emit('cameraResult', { camera: 'door', zone: null, label: 'cat', score: 0.9, scores: { cat: 0.9 }, at: new Date() });
    bus.emit('classState', { camera: 'door', zone: null, label: 'cat', on: true });
    bus.emit('detectionEvent', {
      type: 'start', id: 'ev1', camera: 'door', zone: null, label: 'cat', score: 0.9, start_time: new Date(), end_time: null, snapshot: SNAPSHOT,
      embedding: null, residual: null, crop: null,
    });
    assert.equal((await watcher.next(`${BASE}/door/status`, from)).payload.toString(), 'offline');
    assert.equal((await watcher.next(`${BASE}/door/label`, from)).payload.toString(), 'cat');
    const attrs = JSON.parse((await watcher.next(`${BASE}/door/attributes`, from)).payload.toString()) as Record<string, unknown>;
    assert.equal(attrs.label, 'cat');
    assert.equal((await watcher.next(`${BASE}/door/cat`, from)).payload.toString(), 'ON');
    assert.ok((await watcher.next(`${BASE}/door/snapshot`, from)).payload.equals(SNAPSHOT));
    const event = JSON.parse((await watcher.next(`${BASE}/events`, from)).payload.toString()) as Record<string, unknown>;
    assert.equal(event.type, 'start');
    assert.equal(event.end_time, null);
    const state = JSON.parse((await watcher.next(`${BASE}/state`, from)).payload.toString()) as { cameras: unknown };
    assert.deepEqual(state.cameras, { door: { status: 'online' } }, 'state comes from the provider');
    // The same label again: no new label message (it only changes on change).
    const again = watcher.messages.length;
    bus.emit('cameraResult', { camera: 'door', zone: null, label: 'cat', score: 0.91, scores: { cat: 0.91 }, at: new Date() });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(watcher.messages.slice(again).filter((m) => m.topic === `${BASE}/door/label`).length, 0);
  });

  void it('retain flags as the contract says: a late subscriber gets states, not events or stats', async () => {
    const late = await TestClient.connect(broker.url);
    await late.subscribe(`${BASE}/#`);
    await new Promise((r) => setTimeout(r, 400));
    const retained = new Set(late.messages.filter((m) => m.retain).map((m) => m.topic));
    await late.end();
    for (const t of ['available', 'state', 'classes', 'door/status', 'door/label', 'door/attributes', 'door/cat', 'door/snapshot']) {
      assert.ok(retained.has(`${BASE}/${t}`), `${t} is retained`);
    }
    assert.equal(retained.has(`${BASE}/events`), false);
    assert.equal(retained.has(`${BASE}/stats`), false);
  });

  void it('a removed class clears its ON/OFF topic', async () => {
    const from = watcher.messages.length;
    const res = await watcher.request('class/remove', { label: 'cat' });
    assert.equal(res.status, 'ok');
    const cleared = await watcher.next(`${BASE}/door/cat`, from);
    assert.equal(cleared.payload.length, 0);
    const classes = JSON.parse((await watcher.next(`${BASE}/classes`, from)).payload.toString()) as unknown[];
    assert.equal(classes.length, 1);
  });
});
