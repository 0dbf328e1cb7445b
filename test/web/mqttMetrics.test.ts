import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { Metrics } from '../../src/web/metrics.js';
import { testLogger } from '../helpers/env.js';

const series = (text: string, reason: string): number => {
  const m = new RegExp(`^edge_imprint_mqtt_dropped_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  assert.ok(m, `no series for ${reason}`);
  return Number(m[1]);
};

void describe('metrics: MQTT messages dropped while disconnected', () => {
  void it('counts every drop of the connection by reason, each reason shown from the start', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const fresh = await metrics.text();
    for (const reason of ['offline_qos0', 'queue_full', 'expired']) assert.equal(series(fresh, reason), 0);

    let now = 0;
    // Never started: everything published now meets a connection that is not there.
    const connection = new MqttConnection(
      {
        url: 'mqtt://127.0.0.1:1',
        username: '',
        password: '',
        clientId: 'metrics',
        cleanSession: true,
        protocolVersion: 5,
        tls: { ca: '', cert: '', key: '' },
        availabilityTopic: 'edge-imprint/available',
        offlineQueueSize: 2,
        offlineQueueMaxAgeMs: 1000,
      },
      testLogger(),
      { now: () => now, onDropped: (reason, count) => metrics.recordMqttDropped(reason, count) },
    );
    for (let i = 0; i < 3; i++) await connection.publish('edge-imprint/stats', '{}', { qos: 0 });
    for (let i = 0; i < 3; i++) await connection.publish('edge-imprint/events', `e${i}`, { qos: 1 });
    now = 5000;
    await connection.publish('edge-imprint/events', 'late', { qos: 1 });
    await connection.publish('edge-imprint/state', '{}', { retain: true }); // retained: never dropped

    const text = await metrics.text();
    assert.equal(series(text, 'offline_qos0'), 3);
    assert.equal(series(text, 'queue_full'), 1);
    assert.equal(series(text, 'expired'), 2);
    assert.deepEqual(
      (({ dropped_offline_qos0, dropped_queue_full, dropped_expired, queued }) => ({ dropped_offline_qos0, dropped_queue_full, dropped_expired, queued }))(
        connection.stats(),
      ),
      { dropped_offline_qos0: 3, dropped_queue_full: 1, dropped_expired: 2, queued: 1 },
    );
  });
});
