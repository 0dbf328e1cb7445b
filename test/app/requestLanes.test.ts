/**
 * Request lanes against the real agent process (real mosquitto, a real ffmpeg camera, the
 * real model): a long camera enrollment must neither hold quick commands back nor keep the
 * agent from stopping.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { image, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { buildTestClip } from '../helpers/rtspServer.js';

const BASE = 'edge-imprint';

void describe('request lanes in the running agent', { timeout: 180_000 }, () => {
  const dir = tempDir('edge-imprint-lanes-');
  let broker: Mosquitto;
  let agent: AgentProcess;
  let client: MqttClient;
  const answers: Array<{ topic: string; body: { status: string; code?: string; transaction?: string }; at: number }> = [];

  before(async () => {
    broker = await startMosquitto();
    const clip = buildTestClip(dir.path, 'door', { images: [image('cat_test_0.jpg')], secondsEach: 10 });
    agent = await startAgentProcess({
      dir: dir.path,
      config: {
        mqtt: { url: broker.url, discovery: { enabled: false } },
        detector: { type: 'cpu' },
        cameras: { door: { url: clip, fps: 2 } },
      },
    });
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    client.on('message', (topic, payload) => answers.push({ topic, body: JSON.parse(payload.toString()) as never, at: Date.now() }));
    await client.subscribeAsync(`${BASE}/response/#`);
    const status = await mqtt.connectAsync(broker.url);
    await status.subscribeAsync(`${BASE}/door/status`);
    await new Promise<void>((resolve) => status.on('message', (_t, p) => p.toString() === 'online' && resolve()));
    await status.endAsync();
  });

  after(async () => {
    await client?.endAsync();
    await agent?.stop();
    await broker?.cleanup();
    dir.cleanup();
  });

  void it('class/list answers in under a second while a 50-frame camera enrollment runs; SIGTERM ends the agent in under 5 s', async () => {
    const enroll = { label: 'slow', camera: 'door', frames: 50, interval_ms: 10_000, transaction: 'long' };
    await client.publishAsync(`${BASE}/request/class/enroll`, JSON.stringify(enroll), { qos: 1 });
    // Let the enrollment take its first frame and start waiting for the second.
    await new Promise((r) => setTimeout(r, 1500));

    const sent = Date.now();
    await client.publishAsync(`${BASE}/request/class/list`, JSON.stringify({ transaction: 'quick' }), { qos: 1 });
    const list = await waitFor(() => answers.find((a) => a.body.transaction === 'quick'), 5000, 'the class/list answer');
    assert.equal(list.body.status, 'ok');
    assert.ok(list.at - sent < 1000, `class/list answered in ${list.at - sent} ms`);
    assert.equal(answers.some((a) => a.body.transaction === 'long'), false, 'the enrollment is still running');

    const stopping = Date.now();
    const code = await agent.stop(10_000);
    const took = Date.now() - stopping;
    assert.equal(code, 0, agent.log());
    assert.ok(took < 5000, `the agent stopped in ${took} ms`);
    const long = await waitFor(() => answers.find((a) => a.body.transaction === 'long'), 2000, 'the enrollment answer');
    assert.equal(long.body.code, 'busy', 'the cancelled enrollment is answered: the agent is stopping');
    assert.equal(answers.filter((a) => a.body.transaction === 'long').length, 1, 'answered exactly once');
  });

  void it('the cancelled enrollment stored nothing', async () => {
    agent = await startAgentProcess({ dir: dir.path, config: { mqtt: { url: broker.url, discovery: { enabled: false } }, detector: { type: 'cpu' } } });
    const before = answers.length;
    await client.publishAsync(`${BASE}/request/class/list`, JSON.stringify({ transaction: 'after' }), { qos: 1 });
    const list = await waitFor(() => answers.slice(before).find((a) => a.body.transaction === 'after'), 10_000, 'class/list');
    assert.deepEqual((list.body as unknown as { data: unknown[] }).data, []);
  });
});
