import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { MqttConnection } from '../../src/mqtt/connection.js';
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
