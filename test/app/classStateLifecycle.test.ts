/**
 * What a class left ON becomes on the broker, against the real agent process (real
 * mosquitto, a real ffmpeg camera looping a dog photo, the real model): stopping the agent
 * turns it OFF and ends its event before `offline`; removing, renaming or making it
 * background ends its event and leaves its cleared topic cleared.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { AgentProbe } from '../helpers/agentProbe.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { runCli } from '../helpers/cli.js';
import { image, MODEL_DIR, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { buildTestClip } from '../helpers/rtspServer.js';

const BASE = 'lifecycle';
const OFF_DELAY_S = 2;

interface EventMessage {
  type: 'start' | 'end';
  id: string;
  label: string;
}

/** Every retained message under `<base>/` as a fresh subscriber gets it. */
async function retainedOnBroker(url: string): Promise<Map<string, string>> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5 });
  const retained = new Map<string, string>();
  client.on('message', (topic, payload, packet) => {
    if (packet.retain) retained.set(topic, payload.toString());
  });
  await client.subscribeAsync(`${BASE}/#`, { qos: 1 });
  // The broker sends the retained messages right after SUBACK; a round trip of our own comes after them.
  await client.publishAsync(`${BASE}-probe/done`, 'x', { qos: 1 });
  await client.endAsync();
  return retained;
}

void describe('a class left ON', { timeout: 240_000 }, () => {
  const dir = tempDir('edge-imprint-lifecycle-');
  let broker: Mosquitto;
  let clip = '';
  let agent: AgentProcess | null = null;
  let probe: AgentProbe;
  let run = 0;

  before(async () => {
    broker = await startMosquitto();
    clip = buildTestClip(dir.path, 'dog', { images: [image('dog_test_0.jpg')], secondsEach: 10 });
    probe = await AgentProbe.connect(broker.url, BASE);
  });

  after(async () => {
    await probe?.close();
    await agent?.stop();
    await broker?.cleanup();
    dir.cleanup();
  });

  /**
   * A fresh agent whose class `label` (the photo the camera shows) is enrolled before it
   * starts, so it is ON from the first frames: the camera never learns the dog as its empty
   * scene. Resolves with the class's start event.
   */
  async function startAgentWithClassOn(label: string): Promise<EventMessage> {
    run++;
    const runDir = join(dir.path, `run${run}`);
    mkdirSync(runDir);
    const enrolled = runCli(['enroll', label, image('dog_test_0.jpg'), '--data-dir', join(runDir, 'data'), '--model-dir', MODEL_DIR], { cwd: runDir });
    assert.equal(enrolled.code, 0, enrolled.stderr);
    const since = Date.now();
    agent = await startAgentProcess({
      dir: runDir,
      config: {
        node_id: `lifecycle_${run}`,
        mqtt: { url: broker.url, base_topic: BASE, discovery: { enabled: false } },
        detector: { type: 'cpu', threads: 1 },
        classifier: { vote: { window: 3, min_hits: 2 }, off_delay_s: OFF_DELAY_S },
        cameras: { porch: { url: clip, fps: 2 } },
      },
    });
    await probe.next(`porch/${label}`, (t) => t === 'ON', { since, timeoutMs: 30_000 });
    return waitFor(() => events().find((e) => e.type === 'start' && e.label === label), 10_000, `the start of ${label}`);
  }

  function events(): EventMessage[] {
    return probe.seen.filter((m) => m.topic === `${BASE}/events`).map((m) => JSON.parse(m.text) as EventMessage);
  }

  void it('on SIGTERM the broker holds OFF, the open event got its end, and `offline` came last', async () => {
    const start = await startAgentWithClassOn('dog');
    assert.equal(await agent?.stop(), 0, agent?.log());
    agent = null;
    const retained = await retainedOnBroker(broker.url);
    assert.equal(retained.get(`${BASE}/porch/dog`), 'OFF', 'the class went OFF on the broker');
    assert.equal(retained.get(`${BASE}/available`), 'offline');
    const end = await waitFor(() => events().find((e) => e.type === 'end' && e.id === start.id), 5000, 'the end event');
    assert.equal(end.label, 'dog');
    const order = probe.seen.map((m) => m.topic);
    const lastOff = probe.seen.findLastIndex((m) => m.topic === `${BASE}/porch/dog` && m.text === 'OFF');
    assert.ok(lastOff >= 0 && lastOff < order.lastIndexOf(`${BASE}/available`), '`offline` after the OFF');
  });

  void it('removed, renamed or made background while ON: the event ends and the cleared topic stays empty', async () => {
    const changes: Array<[string, Record<string, unknown>]> = [
      ['class/remove', {}],
      ['class/rename', { to: 'pup' }],
      ['class/set', { background: true }],
    ];
    for (const [command, extra] of changes) {
      const label = `dog${command.replace(/\W/g, '_')}`;
      const start = await startAgentWithClassOn(label);
      const answer = await probe.request(command, { label, ...extra });
      assert.equal(answer.status, 'ok', `${command}: ${answer.error}`);
      const changedAt = Date.now();
      await waitFor(() => events().find((e) => e.type === 'end' && e.id === start.id), 10_000, `the end of ${label} (${command})`);
      // Past the off delay, when the forgotten class would have expired.
      await sleep(OFF_DELAY_S * 1000 + 1500);
      const topic = `${BASE}/porch/${label}`;
      const after = probe.seen.filter((m) => m.topic === topic && m.at >= changedAt - 50).map((m) => m.text);
      assert.deepEqual(after.filter((t) => t !== ''), [], `${command}: nothing written back to ${topic} (${after.join(',')})`);
      assert.equal((await retainedOnBroker(broker.url)).has(topic), false, `${command}: ${topic} stays cleared`);
      assert.equal(await agent?.stop(), 0);
      agent = null;
    }
  });
});
