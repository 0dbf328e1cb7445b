import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from '../../src/process/backoff.js';
import { clientOptions } from '../../src/mqtt/clientOptions.js';
import { OfflineQueue, type DropReason, type QueuedMessage } from '../../src/mqtt/offlineQueue.js';

function message(topic: string, at: number): QueuedMessage {
  return { topic, payload: topic, opts: { qos: 1 }, at };
}

function queue(maxSize: number, maxAgeMs: number) {
  let now = 0;
  const drops: Record<DropReason, number> = { offline_qos0: 0, queue_full: 0, expired: 0 };
  const q = new OfflineQueue(maxSize, maxAgeMs, () => now, (reason, count) => (drops[reason] += count));
  const drain = (): string[] => {
    const out: string[] = [];
    for (let m = q.shift(); m; m = q.shift()) out.push(m.topic);
    return out;
  };
  return { q, drops, drain, setNow: (t: number) => (now = t) };
}

void describe('offline queue', () => {
  void it('keeps at most maxSize messages: the oldest go first, and are counted', () => {
    const { q, drops, drain } = queue(3, 60_000);
    for (const t of ['a', 'b', 'c', 'd', 'e']) q.push(message(t, 0));
    assert.equal(q.length, 3);
    assert.equal(drops.queue_full, 2);
    assert.deepEqual(drain(), ['c', 'd', 'e']);
  });

  void it('never hands out a message older than maxAgeMs; aged-out ones are counted', () => {
    const { q, drops, drain, setNow } = queue(10, 1000);
    q.push(message('old1', 0));
    q.push(message('old2', 500));
    setNow(1200);
    q.push(message('young', 1200));
    // old1 aged out on the push; old2 (700 ms old) is still fine.
    assert.equal(drops.expired, 1);
    setNow(1600);
    assert.deepEqual(drain(), ['young'], 'old2 is 1100 ms old by now');
    assert.equal(drops.expired, 2);
  });

  void it('requeued in-flight messages go back in front, keep their age, respect the cap', () => {
    const { q, drops, drain, setNow } = queue(3, 1000);
    q.push(message('later1', 100));
    q.push(message('later2', 100));
    q.requeue([message('inflight-old', -2000), message('inflight1', 50), message('inflight2', 60)]);
    assert.equal(drops.expired, 1, 'the one already too old is dropped');
    assert.equal(drops.queue_full, 1, 'then the oldest beyond the cap');
    setNow(200);
    assert.deepEqual(drain(), ['inflight2', 'later1', 'later2']);
  });
});

void describe('reconnect backoff', () => {
  void it('doubles from min up to max, with up to 20 % jitter taken off, and resets', () => {
    const top = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.2, random: () => 0 });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => top.next()), [100, 200, 400, 800, 1000, 1000]);
    const bottom = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.2, random: () => 1 });
    assert.deepEqual([1, 2, 3, 4, 5].map(() => bottom.next()), [80, 160, 320, 640, 800]);
    top.reset();
    assert.equal(top.next(), 100);
    const random = new Backoff({ initialMs: 1000, maxMs: 30_000, jitter: 0.2 });
    for (let i = 0; i < 50; i++) {
      const d = random.next();
      assert.ok(d >= 800 && d <= 30_000, `${d} within [0.8·min, max]`);
    }
  });
});

void describe('mqtt.js client options', () => {
  const base = {
    url: 'mqtt://127.0.0.1:1883',
    username: 'agent',
    password: 'secret',
    clientId: 'edge-imprint-x',
    cleanSession: false,
    protocolVersion: 5 as const,
    tls: { ca: '', cert: '', key: '' },
    availabilityTopic: 'edge-imprint/available',
  };

  void it('mqtt.js neither reconnects nor queues QoS 0: the connection owns both', () => {
    const o = clientOptions(base);
    assert.equal(o.reconnectPeriod, 0);
    assert.equal(o.queueQoSZero, false);
    assert.equal(o.resubscribe, false);
    assert.equal(o.clean, false);
    assert.equal(o.clientId, 'edge-imprint-x');
    assert.deepEqual(o.properties, { sessionExpiryInterval: 3600 });
    assert.equal(o.will?.topic, 'edge-imprint/available');
  });

  void it('the 3.1.1 fallback is a new option set with protocol 4 and no v5 properties', () => {
    const v5 = clientOptions(base);
    const v4 = clientOptions(base, 4);
    assert.equal(v4.protocolVersion, 4);
    assert.equal(v4.properties, undefined);
    assert.equal(v5.protocolVersion, 5, 'building the fallback left the first set alone');
  });
});
