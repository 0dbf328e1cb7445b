import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import type { ConnectionOptions } from '../../src/mqtt/clientOptions.js';
import { MqttConnection, type ConnectFn } from '../../src/mqtt/connection.js';
import { EmbeddedBroker } from '../../src/mqtt/embeddedBroker.js';
import { freePort, image, testLogger, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE, PREFIX, startAgent, startTestImprinting, TestClient, type Agent, type TestImprinting } from './harness.js';

const CAT = readFileSync(image('cat_train_0.jpg'));

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Freezes every plain object under `value` (Buffers and functions stay as they are). */
function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return;
  for (const inner of Object.values(value)) deepFreeze(inner);
  Object.freeze(value);
}

/** A comparable picture of a client's options (Buffers as hex, functions by name). */
function snapshot(options: object): string {
  return JSON.stringify(options, (_k, v: unknown) => {
    if (typeof v === 'function') return `fn:${v.name}`;
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer') return `buf:${String((v as { data: unknown }).data)}`;
    return v;
  });
}

/** Options of a watcher whose session (and QoS 1 messages) the broker keeps across its restart. */
const PERSISTENT = (clientId: string): mqtt.IClientOptions => ({
  clean: false,
  clientId,
  reconnectPeriod: 20,
  properties: { sessionExpiryInterval: 300 },
});

/** mqtt.connect, with every client's `options` frozen the moment it exists: any later write throws. */
function freezingConnect(): { connect: ConnectFn; clients: Array<{ client: MqttClient; before: string }> } {
  const clients: Array<{ client: MqttClient; before: string }> = [];
  const connect: ConnectFn = (url, opts) => {
    const client = mqtt.connect(url, opts);
    deepFreeze(client.options);
    clients.push({ client, before: snapshot(client.options) });
    return client;
  };
  return { connect, clients };
}

function plainOptions(url: string, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return {
    url,
    username: '',
    password: '',
    clientId: `conn-${Math.random().toString(16).slice(2, 8)}`,
    cleanSession: false,
    protocolVersion: 5,
    tls: { ca: '', cert: '', key: '' },
    availabilityTopic: `${BASE}/available`,
    minReconnectMs: 200,
    maxReconnectMs: 400,
    ...extra,
  };
}

void describe('MQTT connection', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let imprinting: TestImprinting;
  before(async () => {
    imprinting = await startTestImprinting();
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await imprinting?.stop();
  });
  const track = <T extends { stop?: () => Promise<void>; end?: () => Promise<void>; cleanup?: () => Promise<void> }>(x: T): T => {
    cleanups.push(async () => {
      if (x.cleanup) await x.cleanup();
      else if (x.stop) await x.stop();
      else if (x.end) await x.end();
    });
    return x;
  };

  void it('connects with a password under an ACL and serves requests', async () => {
    const broker: Mosquitto = track(
      await startMosquitto({
        users: { agent: 'agent-pw', user: 'user-pw' },
        acl: ['user agent', `topic readwrite ${BASE}/#`, `topic readwrite ${PREFIX}/#`, '', 'user user', `topic readwrite ${BASE}/#`, ''].join('\n'),
      }),
    );
    const logger = testLogger();
    const { imprinter, bus } = imprinting;
    const agent: Agent = track(
      await startAgent({
        url: broker.url,
        imprinter,
        bus,
        logger,
        connection: { username: 'agent', password: 'agent-pw' },
      }),
    );
    assert.equal(agent.connection.connected, true);
    const client = track(await TestClient.connect(broker.url, { username: 'user', password: 'user-pw' }));
    await client.subscribe(`${BASE}/available`);
    assert.equal((await client.next(`${BASE}/available`)).payload.toString(), 'online');
    const res = await client.request('class/enroll/cat', CAT, { raw: true, responseCommand: 'class/enroll' });
    assert.equal(res.status, 'ok');
    // The ACL is really enforced: `user` may not see discovery, so nothing arrives there.
    await client.subscribe(`${PREFIX}/#`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(client.messages.filter((m) => m.topic.startsWith(`${PREFIX}/`)).length, 0);
  });

  void it('wrong credentials: one clear error line, no secret, retries with backoff, no crash', async () => {
    const broker: Mosquitto = track(await startMosquitto({ users: { agent: 'agent-pw' } }));
    const { logger, lines } = capturingLogger();
    const connection = track(
      new MqttConnection(
        {
          url: broker.url,
          username: 'agent',
          password: 'WRONG-secret-123',
          clientId: 'wrong-creds',
          cleanSession: true,
          protocolVersion: 5,
          tls: { ca: '', cert: '', key: '' },
          availabilityTopic: `${BASE}/available`,
          minReconnectMs: 100,
          maxReconnectMs: 400,
        },
        logger,
      ),
    );
    await connection.start(); // resolves after the refused attempt; does not throw
    assert.equal(connection.connected, false);
    await waitFor(() => (broker.log().match(/not authorised|bad user name or password/gi) ?? []).length >= 4, 5000, 'retries');
    const errors = lines().filter((l) => (l.level as number) >= 50);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(String(errors[0]?.msg), /(rejected the credentials of|refused) user "agent".*(password|credentials).*retrying/);
    const all = JSON.stringify(lines());
    assert.equal(all.includes('WRONG-secret-123'), false, 'the password is never logged');
    const attempts = (broker.log().match(/not authorised|bad user name or password/gi) ?? []).length;
    assert.ok(attempts < 30, `backoff keeps it from a tight loop (${attempts} attempts)`);
  });

  void it('broker restart: reconnects, republishes availability, discovery and states, answers a request sent while away', async () => {
    const broker: Mosquitto = track(await startMosquitto());
    const logger = testLogger();
    const { imprinter, bus } = imprinting;
    const agent: Agent = track(
      await startAgent({
        url: broker.url,
        imprinter,
        bus,
        logger,
        connection: { clientId: 'edge-imprint-persistent', cleanSession: false, minReconnectMs: 2500, maxReconnectMs: 2500 },
      }),
    );
    bus.emit('classState', { camera: 'door', zone: null, label: 'cat', on: true });
    const observer = track(await TestClient.connect(broker.url, { reconnectPeriod: 50, clean: true }));
    await observer.subscribe(`${BASE}/door/cat`);
    await observer.next(`${BASE}/door/cat`);

    await broker.restart();
    const from = observer.messages.length;
    await waitFor(() => observer.client.connected, 3000, 'observer reconnect');
    await observer.subscribe(`${BASE}/#`);
    await observer.subscribe(`${PREFIX}/#`);
    assert.equal(agent.connection.connected, false, 'the agent is still away (backoff 2.5 s)');
    await observer.publish(`${BASE}/request/class/list`, JSON.stringify({ transaction: 'while-away' }));

    const answer = await observer.next(`${BASE}/response/class/list`, from, (p) => p.toString().includes('while-away'), 10_000);
    assert.equal((JSON.parse(answer.payload.toString()) as { status: string }).status, 'ok');
    // Live (not retained-copy) messages prove the agent republished after reconnecting.
    const liveOn = (match: (m: { topic: string; payload: Buffer }) => boolean, what: string) =>
      waitFor(() => observer.messages.slice(from).some((m) => !m.retain && match(m)), 5000, what);
    await liveOn((m) => m.topic === `${BASE}/available` && m.payload.toString() === 'online', 'online republished');
    await liveOn((m) => m.topic === `${BASE}/door/cat` && m.payload.toString() === 'ON', 'class state republished');
    await liveOn((m) => m.topic === `${BASE}/state`, 'state republished');
    await liveOn((m) => m.topic.startsWith(`${PREFIX}/`) && m.topic.endsWith('/config'), 'discovery republished');
  });

  void it('last will: `offline` when the agent vanishes, `online` again on reconnect', async () => {
    const broker: Mosquitto = track(await startMosquitto());
    const logger = testLogger();
    const { imprinter, bus } = imprinting;
    const agent: Agent = track(await startAgent({ url: broker.url, imprinter, bus, logger, discovery: false }));
    const observer = track(await TestClient.connect(broker.url));
    await observer.subscribe(`${BASE}/available`);
    await observer.next(`${BASE}/available`, 0, (p) => p.toString() === 'online');
    const from = observer.messages.length;
    // Cut the TCP connection under the client: the broker sends the will.
    (agent.connection as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy();
    await observer.next(`${BASE}/available`, from, (p) => p.toString() === 'offline');
    await observer.next(`${BASE}/available`, from, (p) => p.toString() === 'online');
    await agent.stop();
    const stopped = observer.messages.length;
    await observer.next(`${BASE}/available`, stopped - 1, (p) => p.toString() === 'offline');
  });

  void it('falls back to MQTT 3.1.1 with a broker that refuses v5 (the embedded aedes)', async () => {
    const port = await freePort();
    const embedded = track(new EmbeddedBroker({ host: '127.0.0.1', port }, testLogger()));
    await embedded.start();
    assert.equal(embedded.url, `mqtt://127.0.0.1:${port}`);
    const logger = testLogger();
    const { imprinter, bus } = imprinting;
    const agent: Agent = track(
      await startAgent({ url: embedded.url, imprinter, bus, logger, connection: { protocolVersion: 5 } }),
    );
    await waitFor(() => agent.connection.connected, 5000, 'connected after fallback');
    assert.equal(agent.connection.protocolVersion, 4);
    const client = track(await TestClient.connect(embedded.url, { protocolVersion: 4 }));
    const res = await client.request('class/enroll/cat', CAT, { raw: true, responseCommand: 'class/enroll' });
    assert.equal(res.status, 'ok');
    // A second embedded broker on the same port fails with a clear config error.
    const clash = new EmbeddedBroker({ host: '127.0.0.1', port }, testLogger());
    await assert.rejects(clash.start(), /embedded MQTT broker: cannot listen on 127\.0\.0\.1:\d+/);
  });
});

void describe('MQTT connection: no mqtt.js internals, bounded while offline', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });
  const track = <T extends { stop?: () => Promise<void>; end?: () => Promise<void>; cleanup?: () => Promise<void> }>(x: T): T => {
    cleanups.push(async () => {
      if (x.cleanup) await x.cleanup();
      else if (x.stop) await x.stop();
      else if (x.end) await x.end();
    });
    return x;
  };

  void it('never writes client.options: reconnect and the v5 -> 3.1.1 fallback with frozen options', async () => {
    // Broker restart: the connection comes back on a new client; no option of the old one is touched.
    const broker: Mosquitto = track(await startMosquitto());
    const restart = freezingConnect();
    const connection = track(new MqttConnection(plainOptions(broker.url), testLogger(), { connect: restart.connect }));
    await connection.start();
    assert.equal(connection.connected, true);
    await broker.restart();
    await waitFor(() => !connection.connected || undefined, 3000, 'the loss noticed');
    await waitFor(() => connection.connected, 5000, 'reconnected after the broker restart');
    assert.ok(restart.clients.length >= 2, `a fresh client per attempt (${restart.clients.length})`);
    for (const { client, before } of restart.clients) {
      assert.equal(Object.isFrozen(client.options), true);
      assert.equal(snapshot(client.options), before, 'options unchanged');
    }

    // A broker that refuses v5 (the embedded aedes): the next client is built with protocol 4.
    const port = await freePort();
    const embedded = track(new EmbeddedBroker({ host: '127.0.0.1', port }, testLogger()));
    await embedded.start();
    const fallback = freezingConnect();
    const old = track(new MqttConnection(plainOptions(embedded.url), testLogger(), { connect: fallback.connect }));
    await old.start();
    await waitFor(() => old.connected, 5000, 'connected after the fallback');
    assert.equal(old.protocolVersion, 4);
    assert.equal(fallback.clients[0]?.client.options.protocolVersion, 5, 'the refused client kept its options');
    assert.equal(fallback.clients.at(-1)?.client.options.protocolVersion, 4);
    for (const { client, before } of fallback.clients) assert.equal(snapshot(client.options), before, 'options unchanged');
  });

  void it('while disconnected: QoS 0 dropped and counted, QoS 1 queued and sent after, retained state and clears sent again', async () => {
    const broker: Mosquitto = track(await startMosquitto());
    const seed = track(await TestClient.connect(broker.url));
    await seed.publish(`${BASE}/gone`, 'left by an earlier run', { retain: true });
    // A persistent watcher: the broker keeps its QoS 1 messages while it reconnects after the restart.
    const watcher = track(await TestClient.connect(broker.url, PERSISTENT('offline-watcher')));
    await watcher.subscribe(`${BASE}/#`);
    const connection = track(new MqttConnection(plainOptions(broker.url, { minReconnectMs: 1500, maxReconnectMs: 1500 }), testLogger()));
    await connection.start();
    await connection.publish(`${BASE}/state`, 'v1', { retain: true });
    await broker.stop();
    await waitFor(() => !connection.connected || undefined, 3000, 'the loss noticed');

    for (let i = 0; i < 5; i++) await connection.publish(`${BASE}/stats`, `s${i}`, { qos: 0 });
    for (let i = 0; i < 3; i++) await connection.publish(`${BASE}/events`, `e${i}`, { qos: 1 });
    await connection.publish(`${BASE}/state`, 'v2', { retain: true });
    await connection.publish(`${BASE}/gone`, '', { retain: true });
    const away = connection.stats();
    assert.equal(away.dropped_offline_qos0, 5);
    assert.equal(away.queued, 3);
    assert.equal(away.state, 'waiting');

    const from = watcher.messages.length;
    await broker.restart();
    await waitFor(() => connection.connected, 5000, 'reconnected');
    await waitFor(() => watcher.messages.slice(from).filter((m) => m.topic === `${BASE}/events`).length >= 3, 5000, 'queued events');
    const after = watcher.messages.slice(from);
    assert.deepEqual(after.filter((m) => m.topic === `${BASE}/events`).map((m) => m.payload.toString()), ['e0', 'e1', 'e2']);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(watcher.messages.slice(from).filter((m) => m.topic === `${BASE}/stats`).length, 0, 'no QoS 0 backlog');
    assert.equal(connection.stats().queued, 0);
    // A late subscriber sees the state as it is now, and the topic cleared while offline is gone.
    const late = track(await TestClient.connect(broker.url));
    await late.subscribe(`${BASE}/#`);
    await late.next(`${BASE}/state`, 0, (p) => p.toString() === 'v2');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(late.count(`${BASE}/gone`), 0, 'the retained clear made while offline reached the broker');
  });

  void it('the offline queue is capped by count and by age, oldest out first', async () => {
    const broker: Mosquitto = track(await startMosquitto());
    let now = 1_000_000;
    const watcher = track(await TestClient.connect(broker.url, PERSISTENT('cap-watcher')));
    await watcher.subscribe(`${BASE}/events`);
    const dropped: string[] = [];
    const connection = track(
      new MqttConnection(
        plainOptions(broker.url, { minReconnectMs: 1500, maxReconnectMs: 1500, offlineQueueSize: 3, offlineQueueMaxAgeMs: 10_000 }),
        testLogger(),
        { now: () => now, onDropped: (reason, count) => dropped.push(`${reason}:${count}`) },
      ),
    );
    await connection.start();
    await broker.stop();
    await waitFor(() => !connection.connected || undefined, 3000, 'the loss noticed');
    await connection.publish(`${BASE}/events`, 'aged', { qos: 1 });
    now += 20_000; // 'aged' is now older than the age cap
    for (const p of ['q1', 'q2', 'q3', 'q4']) await connection.publish(`${BASE}/events`, p, { qos: 1 });
    assert.deepEqual(dropped, ['expired:1', 'queue_full:1']);
    const stats = connection.stats();
    assert.equal(stats.queued, 3);
    assert.equal(stats.dropped_expired, 1);
    assert.equal(stats.dropped_queue_full, 1);

    const from = watcher.messages.length;
    await broker.restart();
    await waitFor(() => watcher.messages.length - from >= 3, 6000, 'the queue flushed');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(watcher.messages.slice(from).map((m) => m.payload.toString()), ['q2', 'q3', 'q4']);
  });
});
