import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import sharp from 'sharp';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { image, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { alive } from '../helpers/processes.js';
import { percentile, RequestTracker, rssMb, RssSampler, tally, treeRssMb, type TrackedRequest } from '../helpers/requestTracker.js';
import { buildTestClip, startRtspServer, type RtspServer } from '../helpers/rtspServer.js';

/**
 * Load: 4 RTSP cameras streaming into a real agent process while `classify` requests
 * arrive at a steady 50/s. The CPU detector cannot keep up on 2 cores, so the bounded
 * queue must answer `busy` at once instead of letting latency and memory pile up, and
 * every request must still get exactly one answer. EDGE_IMPRINT_LOAD_SECONDS shortens it.
 */

const BASE = 'edge-imprint';
const SECONDS = Number(process.env.EDGE_IMPRINT_LOAD_SECONDS ?? 60);
const RATE = 50;
const CAMERAS = ['cam1', 'cam2', 'cam3', 'cam4'];
const CAMERA_FPS = 3;
const RSS_LIMIT_MB = 400;
/**
 * A bounded queue keeps an ok answer within about queue_size (16) x the service time:
 * 3-4.5 s here on a shared 2-core machine. An unbounded one would be past a minute by the
 * end (50/s in, ~6/s out), so 8 s leaves room for a busy CI box and still catches it.
 */
const P95_LIMIT_MS = 8000;

interface CameraStats {
  status: string;
  process_fps: number;
}

interface StatsMessage {
  at: number;
  cameras: Record<string, CameraStats>;
  restarts: number;
}

void describe(`load: 4 cameras + ${RATE} classify/s for ${SECONDS} s`, () => {
  const dir = tempDir('edge-imprint-load-');
  let rtsp: RtspServer;
  let broker: Mosquitto;
  let agent: AgentProcess;
  let tracker: RequestTracker;
  let watcher: MqttClient;
  const stats: StatsMessage[] = [];

  before(async () => {
    // Long enough to stream through the whole run without an end-of-file reconnect.
    const clip = buildTestClip(dir.path, 'load', { width: 320, height: 240, fps: 10, secondsEach: 5, repeat: Math.ceil((SECONDS + 60) / 20) });
    [rtsp, broker] = await Promise.all([startRtspServer({ file: clip }), startMosquitto({ persistence: false })]);
    const agentDir = join(dir.path, 'agent');
    mkdirSync(agentDir);
    agent = await startAgentProcess({
      dir: agentDir,
      config: {
        mqtt: { url: broker.url, stats_interval: 5 },
        // TFLite, the slow reference: the point is a detector that cannot keep up (ONNX Runtime keeps up with 50/s).
        detector: { type: 'cpu', backend: 'tflite' },
        // Each camera keeps its own RTSP session (the server gives every client its own pipeline).
        cameras: Object.fromEntries(CAMERAS.map((name) => [name, { url: rtsp.url, fps: CAMERA_FPS }])),
        log: { level: 'info' },
      },
    });
    watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    watcher.on('message', (topic, payload) => {
      if (topic === `${BASE}/stats`) {
        const body = JSON.parse(payload.toString()) as { cameras: Record<string, CameraStats>; detector: { restarts: number } };
        stats.push({ at: performance.now(), cameras: body.cameras, restarts: body.detector.restarts });
      }
    });
    await watcher.subscribeAsync(`${BASE}/stats`, { qos: 1 });
    tracker = await RequestTracker.connect(broker.url, BASE, `load${process.pid}`);
  });

  after(async () => {
    await tracker?.close();
    await watcher?.endAsync();
    await agent?.stop();
    await broker?.cleanup();
    await rtsp?.stop();
    dir.cleanup();
  });

  void it('no crash, busy instead of a growing queue, every request answered once, RSS bounded', { timeout: (SECONDS + 120) * 1000 }, async () => {
    const started = performance.now();
    await waitFor(() => stats.some((s) => CAMERAS.every((c) => s.cameras[c]?.status === 'online')), 30_000, 'all 4 cameras online');
    await enrollOneClass();
    const jpegs = await requestImages();
    const rssStart = rssMb(agent.pid);
    const treeStart = treeRssMb(agent.pid);
    const sampler = new RssSampler(agent.pid, 500);
    sampler.start();

    // A steady rate: request i leaves at t0 + i/RATE whatever the answers do.
    const total = SECONDS * RATE;
    const sends: Array<Promise<TrackedRequest>> = [];
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      const wait = t0 + (i * 1000) / RATE - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const id = `load-${i}`;
      const payload = Buffer.from(JSON.stringify({ image: jpegs[i % jpegs.length], transaction: id }));
      sends.push(tracker.send({ id, command: 'classify', payload, byTransaction: true }));
    }
    const sendSeconds = (performance.now() - t0) / 1000;
    const requests = await Promise.all(sends);
    await waitFor(() => tracker.pending().length === 0, 30_000, 'every answer').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000)); // room for a duplicate to show up
    sampler.stop();
    const rssEnd = rssMb(agent.pid);

    const counts = tally(requests);
    const okLatency = requests.flatMap((r) => (r.answers[0]?.status === 'ok' ? [r.answers[0].at - r.sentAt] : []));
    const busyLatency = requests.flatMap((r) => (r.answers[0]?.code === 'busy' ? [r.answers[0].at - r.sentAt] : []));
    const during = stats.filter((s) => s.at > t0 + 5000 && s.at <= t0 + sendSeconds * 1000);
    const fps = CAMERAS.map((c) => mean(during.map((s) => s.cameras[c]?.process_fps ?? 0)).toFixed(1));
    const fmt = (v: number): string => v.toFixed(0);
    // Ok latency early vs late in the run: a queue that grows shows up as a rising trend.
    const okIn = (from: number, to: number): number[] =>
      requests.flatMap((r) => {
        const a = r.answers[0];
        const t = (r.sentAt - t0) / 1000;
        return a?.status === 'ok' && t >= from && t < to ? [a.at - r.sentAt] : [];
      });
    const early = percentile(okIn(2, SECONDS / 3), 95);
    const late = percentile(okIn((2 * SECONDS) / 3, SECONDS), 95);
    const restarts = stats.at(-1)?.restarts ?? 0;
    console.log(
      `LOAD summary: seconds=${SECONDS} rate=${RATE}/s sent=${counts.sent} answered=${counts.answered} ok=${counts.ok} error=${counts.error} busy=${counts.busy} ` +
        `ok_latency_ms p50=${fmt(percentile(okLatency, 50))} p95=${fmt(percentile(okLatency, 95))} p99=${fmt(percentile(okLatency, 99))} max=${fmt(Math.max(...okLatency))} ` +
        `ok_p95_early/late=${fmt(early)}/${fmt(late)} busy_latency_ms p95=${fmt(percentile(busyLatency, 95))} detector_restarts=${restarts} ok_per_s=${(counts.ok / sendSeconds).toFixed(1)} camera_process_fps=${fps.join('/')} ` +
        `rss_mb start=${fmt(rssStart)} peak=${fmt(sampler.peak)} end=${fmt(rssEnd)} tree_mb start=${fmt(treeStart)} peak=${fmt(sampler.treePeak)} ` +
        `runtime_s=${((performance.now() - started) / 1000).toFixed(1)}`,
    );

    // Every request answered exactly once, on its own transaction.
    assert.deepEqual(tracker.strays, [], 'stray answers');
    const wrongCount = requests.filter((r) => r.answers.length !== 1).map((r) => `${r.id}: ${r.answers.length} answers`);
    assert.deepEqual(wrongCount.slice(0, 10), [], `${wrongCount.length} requests not answered exactly once`);
    assert.equal(counts.answered, counts.sent, 'answered == sent');
    assert.equal(counts.error, 0, 'valid images: only ok or busy');

    // The agent survived, the queue stayed bounded, memory too, cameras kept being processed.
    assert.ok(alive(agent.pid), `the agent died:\n${agent.log().slice(-3000)}`);
    assert.ok(counts.ok > 0 && counts.busy > 0, `expected both ok and busy answers at ${RATE}/s (ok ${counts.ok}, busy ${counts.busy})`);
    assert.ok(percentile(okLatency, 95) < P95_LIMIT_MS, `ok latency p95 ${fmt(percentile(okLatency, 95))} ms: the queue grew`);
    assert.ok(late < early * 1.5 + 500, `ok latency p95 rose from ${fmt(early)} to ${fmt(late)} ms: the queue grew`);
    assert.equal(restarts, 0, 'the detector was restarted under load');
    assert.ok(percentile(busyLatency, 95) < 1000, `busy answers must be immediate, p95 ${fmt(percentile(busyLatency, 95))} ms`);
    assert.ok(sampler.peak < RSS_LIMIT_MB, `agent RSS peaked at ${fmt(sampler.peak)} MB`);
    for (const [i, camera] of CAMERAS.entries()) {
      assert.ok(Number(fps[i]) > 0, `${camera} was not processed under load (process_fps ${fps[i]})`);
    }
    assert.doesNotMatch(agent.log(), /uncaught|unhandled|"level":60/i, 'no crash report in the agent log');
  });

  /** One class, so classify scores against something, enrolled through the raw-image topic. */
  async function enrollOneClass(): Promise<void> {
    const request = await tracker.send({
      id: 'enroll-cat',
      command: 'class/enroll/cat',
      payload: readFileSync(image('cat_train_0.jpg')),
      byTransaction: false,
      responseTopic: 'reply',
    });
    await waitFor(() => request.answers.length > 0, 30_000, 'the enrollment');
    assert.equal(request.answers[0]?.status, 'ok', 'enrolling cat');
  }
});

/** Small 320x240 JPEGs of a few photos, base64 for the JSON request. */
async function requestImages(): Promise<string[]> {
  const names = ['cat_test_0.jpg', 'dog_test_0.jpg', 'hotdog_test_0.jpg', 'sunflower.jpg'];
  return Promise.all(
    names.map(async (name) => (await sharp(image(name)).resize(320, 240, { fit: 'fill' }).jpeg({ quality: 80 }).toBuffer()).toString('base64')),
  );
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}
