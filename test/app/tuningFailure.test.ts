/**
 * A real agent process whose background fine-tuning fails: a shot in its store that is no
 * embedding (written by another process, as a damaged disk or a foreign tool would leave
 * it) makes the tuning read throw. Before the fix that rejection went unhandled and ended
 * the agent; it must log, keep the imprinted weights and keep answering.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { STORE_FILE } from '../../src/storage/classStore.js';
import { AgentProbe } from '../helpers/agentProbe.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { image, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { alive } from '../helpers/processes.js';

const BASE = 'tuning-failure';
const b64 = (name: string): string => readFileSync(image(name)).toString('base64');

describe('an agent whose fine-tuning throws', { timeout: 180_000 }, () => {
  const dir = tempDir('edge-imprint-tuning-failure-');
  let broker: Mosquitto;
  let agent: AgentProcess;
  let probe: AgentProbe;

  before(async () => {
    broker = await startMosquitto();
    agent = await startAgentProcess({
      dir: dir.path,
      config: {
        node_id: 'tuning_failure',
        mqtt: { url: broker.url, base_topic: BASE, discovery: { enabled: false } },
        detector: { type: 'cpu', threads: 1 },
        classifier: { fine_tune: true },
        log: { level: 'info' },
      },
    });
    probe = await AgentProbe.connect(broker.url, BASE);
  });
  after(async () => {
    await probe?.close();
    await agent?.stop(5000);
    await broker?.cleanup();
    dir.cleanup();
  });

  it('tunes in the background after enrollments', async () => {
    for (const [label, photos] of [
      ['cat', ['cat_train_0.jpg', 'cat_720p.jpg']],
      ['dog', ['dog_train_0.jpg', 'pets.jpg']],
    ] as const) {
      const answer = await probe.request('class/enroll', { label, images: photos.map(b64) }, 60_000);
      assert.equal(answer.status, 'ok', `enroll ${label}: ${answer.error}`);
    }
    await agent.waitForLog(/fine-tuning: /);
  });

  it('a shot it cannot read: tuning fails and is logged, the agent keeps classifying and stays healthy', async () => {
    const db = new Database(join(dir.path, 'data', STORE_FILE));
    try {
      db.prepare("UPDATE shots SET embedding = x'010203' WHERE id = (SELECT max(id) FROM shots)").run();
    } finally {
      db.close();
    }
    // The agent notices the change by itself (store polling), reloads and tunes again.
    const failed = /fine-tuning failed; keeping the imprinted weights/;
    await waitFor(() => failed.test(agent.log()) || agent.proc.exitCode !== null, 30_000, 'the tuning failure');
    assert.ok(agent.proc.exitCode === null && alive(agent.pid), `the agent died:\n${agent.log().slice(-3000)}`);
    assert.match(agent.log(), failed);
    const answer = await probe.request('classify', { image: b64('cat_test_0.jpg') });
    assert.equal(answer.status, 'ok', `classify: ${answer.error}`);
    assert.equal((answer.data as { label: string }).label, 'cat');
    const health = await fetch(`http://127.0.0.1:${agent.httpPort}/health`);
    assert.equal(health.status, 200);
    assert.doesNotMatch(agent.log(), /unhandled promise rejection/, 'the failure was handled where it happened');
  });
});
