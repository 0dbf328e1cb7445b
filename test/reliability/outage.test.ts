/**
 * A 60 s broker outage under load, on a real mosquitto: stats every second, a detection
 * event every 3 s, and extra QoS 0 traffic (40 messages/s of 8 KiB, about 19 MiB over the
 * outage) so that an unbounded offline queue would show in memory. The agent's queue must
 * stay within its cap, its memory flat, and after the restart a subscriber must get no
 * burst: at most the queue cap of events, none older than the age cap, and no stats backlog.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import mqtt, { type MqttClient } from 'mqtt';
import { EventBus } from '../../src/eventBus.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { MqttPublisher, type EventPayload } from '../../src/mqtt/publisher.js';
import { testLogger, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE } from '../mqtt/harness.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const OUTAGE_MS = 60_000;
const QUEUE_SIZE = 8;
const QUEUE_AGE_MS = 30_000;
const EVENT_EVERY_MS = 3000;
const WINDOW_MS = 6000;

interface Received {
  topic: string;
  payload: Buffer;
  at: number;
}

/** Heap and array buffers after a full collection: what the agent really holds on to. */
function retainedBytes(): { held: number; rss: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { held: m.heapUsed + m.arrayBuffers, rss: m.rss };
}

const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

void describe('MQTT broker outage of 60 s under load', () => {
  let broker: Mosquitto;
  let connection: MqttConnection;
  let publisher: MqttPublisher;
  let watcher: MqttClient;
  const received: Received[] = [];
  const timers: NodeJS.Timeout[] = [];

  before(async () => {
    broker = await startMosquitto();
    const logger = testLogger();
    connection = new MqttConnection(
      {
        url: broker.url,
        username: '',
        password: '',
        clientId: 'edge-imprint-outage',
        cleanSession: false,
        protocolVersion: 5,
        tls: { ca: '', cert: '', key: '' },
        availabilityTopic: `${BASE}/available`,
        minReconnectMs: 1500,
        maxReconnectMs: 1500,
        offlineQueueSize: QUEUE_SIZE,
        offlineQueueMaxAgeMs: QUEUE_AGE_MS,
      },
      logger,
    );
    const bus = new EventBus(logger);
    publisher = new MqttPublisher({
      transport: connection,
      bus,
      baseTopic: BASE,
      logger,
      getState: () => ({
        version: '0.1.0',
        node_id: 'outage',
        detector: { type: 'cpu', device: '1 thread', model: 'test.tflite', state: 'ready' },
        classes: ['cat'],
        cameras: { door: { status: 'online' } },
        started_at: new Date(0).toISOString(),
      }),
      getStats: () => ({
        uptime_s: Math.round(process.uptime()),
        rss_mb: mib(process.memoryUsage().rss),
        detector: { type: 'cpu', state: 'ready', inference_ms: 12.5, restarts: 0 },
        cameras: { door: { status: 'online', camera_fps: 5, process_fps: 5, skipped_fps: 0, reconnects: 0 } },
      }),
      listClasses: () => [],
      cameras: () => ['door'],
      units: () => [{ camera: 'door', zone: null, classes: [] }],
      statsIntervalS: 1,
    });
    await publisher.start();
    await connection.start();
    // Home Assistant's side: a persistent session, so the broker keeps its QoS 1 messages.
    watcher = await mqtt.connectAsync(broker.url, {
      clientId: 'outage-watcher',
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 600 },
      reconnectPeriod: 20,
    });
    watcher.on('message', (topic, payload) => received.push({ topic, payload, at: Date.now() }));
    await watcher.subscribeAsync([`${BASE}/events`, `${BASE}/stats`], { qos: 1 });

    let n = 0;
    timers.push(
      setInterval(() => {
        const now = new Date();
        bus.emit('detectionEvent', {
          type: 'start', id: `ev${n++}`, camera: 'door', zone: null, label: 'cat', score: 0.9, start_time: now, end_time: null, snapshot: null,
          embedding: null, residual: null, crop: null,
        });
      }, EVENT_EVERY_MS),
      setInterval(() => {
        void connection.publish(`${BASE}/load`, Buffer.alloc(8192, n % 256), { qos: 0 });
      }, 25),
    );
  });

  after(async () => {
    for (const t of timers) clearInterval(t);
    await publisher?.stop();
    await connection?.stop();
    await watcher?.endAsync(true);
    await broker?.cleanup();
  });

  void it('keeps the queue bounded and memory flat, and sends no burst after the restart', async (t) => {
    await waitFor(() => received.some((m) => m.topic === `${BASE}/events`), 5000, 'a first live event');
    await broker.stop();
    const stoppedAt = Date.now();
    await waitFor(() => !connection.connected || undefined, 3000, 'the outage noticed');
    await new Promise((r) => setTimeout(r, 2000));
    const start = retainedBytes();
    let maxQueued = 0;
    while (Date.now() - stoppedAt < OUTAGE_MS - 2000) {
      maxQueued = Math.max(maxQueued, connection.stats().queued);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const end = retainedBytes();
    await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + OUTAGE_MS - Date.now())));
    const away = connection.stats();

    const from = received.length;
    await broker.restart();
    const reconnectedAt = await waitFor(() => (connection.connected ? Date.now() : undefined), 5000, 'reconnected');
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const windowEnd = reconnectedAt + WINDOW_MS;
    const inWindow = received.slice(from).filter((m) => m.at <= windowEnd);
    const events = inWindow.filter((m) => m.topic === `${BASE}/events`);
    const stats = inWindow.filter((m) => m.topic === `${BASE}/stats`);
    const ages = events.map((m) => m.at - Date.parse((JSON.parse(m.payload.toString()) as EventPayload).start_time));
    const liveEvents = Math.ceil(WINDOW_MS / EVENT_EVERY_MS) + 1;

    t.diagnostic(
      `outage ${OUTAGE_MS / 1000} s: queue max ${maxQueued}/${QUEUE_SIZE}; dropped: ${away.dropped_offline_qos0} QoS 0, ` +
        `${away.dropped_queue_full} queue full, ${away.dropped_expired} aged out; held (heap + buffers, after GC) ` +
        `${mib(start.held)} -> ${mib(end.held)} MiB, RSS ${mib(start.rss)} -> ${mib(end.rss)} MiB; ` +
        `${WINDOW_MS / 1000} s after reconnect: ${events.length} events (oldest ${Math.max(...ages)} ms), ${stats.length} stats`,
    );
    assert.ok(maxQueued <= QUEUE_SIZE, `queue ${maxQueued} within its cap`);
    assert.ok(away.dropped_offline_qos0 >= (OUTAGE_MS / 1000) * 20, `QoS 0 dropped while away (${away.dropped_offline_qos0})`);
    assert.ok(away.dropped_queue_full + away.dropped_expired > 0, 'the caps were reached');
    assert.ok(end.held - start.held < 8 * 1024 * 1024, `held memory flat: +${mib(end.held - start.held)} MiB`);
    assert.ok(end.rss - start.rss < 64 * 1024 * 1024, `RSS flat within noise: +${mib(end.rss - start.rss)} MiB`);
    assert.ok(events.length >= 5, `the queued events were delivered (${events.length})`);
    assert.ok(events.length <= QUEUE_SIZE + liveEvents, `no event burst: ${events.length}`);
    for (const age of ages) assert.ok(age <= QUEUE_AGE_MS + 2000, `no event older than the age cap (${age} ms)`);
    assert.ok(stats.length <= WINDOW_MS / 1000 + 2, `no stats backlog: ${stats.length} in ${WINDOW_MS / 1000} s`);
  });
});
