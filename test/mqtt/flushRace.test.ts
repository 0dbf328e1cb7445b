/**
 * A QoS 1 message published while the offline queue is being flushed on connect (real
 * mosquitto): it goes out on that connection, not at the next reconnect.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from './harness.js';

let broker: Mosquitto;
let watcher: TestClient;

before(async () => {
  broker = await startMosquitto();
  watcher = await TestClient.connect(broker.url);
  await watcher.subscribe('flush/#');
});
after(async () => {
  await watcher?.end();
  await broker?.cleanup();
});

void test('a message published as the flush of the offline queue ends is delivered without a reconnect', async () => {
  let connection: MqttConnection | null = null;
  // The flush logs what it sent right after it found the queue empty: publish from there,
  // the moment between that check and the connection being marked ready.
  const logger = pino(
    {
      level: 'info',
      hooks: {
        logMethod(args, method) {
          if (args.some((a) => typeof a === 'string' && a.includes('queued while disconnected'))) {
            void connection?.publish('flush/late', 'late', { qos: 1 });
          }
          method.apply(this, args);
        },
      },
    },
    new Writable({ write: (_c, _e, done) => done() }),
  );
  connection = new MqttConnection(
    {
      url: broker.url,
      username: '',
      password: '',
      clientId: 'flush-race',
      cleanSession: true,
      protocolVersion: 5,
      tls: { ca: '', cert: '', key: '' },
      availabilityTopic: 'flush/available',
    },
    logger,
  );
  try {
    await connection.publish('flush/early', 'early', { qos: 1 }); // queued: not connected yet
    await connection.start();
    await watcher.next('flush/early');
    await watcher.next('flush/late', 0, () => true, 5000);
    assert.equal(connection.stats().connects, 1, 'on the same connection');
    assert.equal(connection.stats().queued, 0);
  } finally {
    await connection.stop();
  }
});
