/**
 * A real agent process whose detector child keeps dying: /health, the retained `state`
 * and `stats` must say so (Docker's HEALTHCHECK and Home Assistant read them), and the
 * agent itself stays up and answers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AgentProbe } from '../helpers/agentProbe.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { image, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { alive, descendants } from '../helpers/processes.js';

const BASE = 'detector-failure';

interface Health {
  status: string;
  down: string[];
  checks: Record<string, { up: boolean; detail?: string }>;
}

async function health(port: number): Promise<{ code: number; body: Health }> {
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  return { code: response.status, body: (await response.json()) as Health };
}

function detectorChild(agentPid: number): number {
  const cmdline = (pid: number): string => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  };
  return descendants(agentPid).find((pid) => cmdline(pid).includes('detector/child')) ?? 0;
}

const detectorState = (text: string): string => (JSON.parse(text) as { detector: { state: string } }).detector.state;

describe('an agent whose detector child keeps dying', { timeout: 180_000 }, () => {
  const dir = tempDir('edge-imprint-detector-failure-');
  let broker: Mosquitto;
  let agent: AgentProcess;
  let probe: AgentProbe;

  before(async () => {
    broker = await startMosquitto();
    agent = await startAgentProcess({
      dir: dir.path,
      config: {
        node_id: 'detector_failure',
        mqtt: { url: broker.url, base_topic: BASE, stats_interval: 1, discovery: { enabled: false } },
        detector: { type: 'cpu', threads: 1 },
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

  it('is healthy and says ready while the detector runs', async () => {
    const { code, body } = await health(agent.httpPort);
    assert.equal(code, 200, JSON.stringify(body));
    assert.deepEqual(body.checks.detector, { up: true, detail: 'cpu' });
    await probe.next('state', (t) => detectorState(t) === 'ready');
  });

  it('SIGKILLed until it gives up: /health 503, state and stats say failed, requests are refused at once', async () => {
    let kills = 0;
    let pid = 0;
    // /health is 503 while a child restarts too; `failed` is the give-up.
    const failed = async (): Promise<boolean> => (await health(agent.httpPort)).body.checks.detector?.detail === 'failed';
    for (;;) {
      const next = await waitFor(async () => {
        if (await failed()) return -1;
        const found = detectorChild(agent.pid);
        return found !== pid && found;
      }, 20_000, 'a new detector child or the give-up');
      if (next === -1) break;
      assert.ok(kills < 10, `not failed after ${kills} kills`);
      pid = next;
      process.kill(pid, 'SIGKILL');
      kills++;
    }
    assert.equal(kills, 5, 'gives up after the fifth crash without an inference');
    const { code, body } = await health(agent.httpPort);
    assert.equal(code, 503, JSON.stringify(body));
    assert.deepEqual(body.down, ['detector']);
    assert.deepEqual(body.checks.detector, { up: false, detail: 'failed' });
    assert.equal(detectorChild(agent.pid), 0, 'no detector child runs while failed');

    await probe.next('state', (t) => detectorState(t) === 'failed');
    await probe.next('stats', (t) => detectorState(t) === 'failed', { since: Date.now() });
    // Retained: Home Assistant connecting now is told `failed`.
    const late = await AgentProbe.connect(broker.url, BASE);
    try {
      const retained = await late.next('state', () => true);
      assert.ok(retained.retain);
      assert.equal(detectorState(retained.text), 'failed');
    } finally {
      await late.close();
    }

    const answer = await probe.request('classify', { image: readFileSync(image('cat_test_0.jpg')).toString('base64') });
    assert.equal(answer.status, 'error');
    assert.equal(answer.code, 'detector_unavailable');
    assert.match(answer.error ?? '', /the detector failed \(5 crashes/);
    assert.ok(alive(agent.pid), 'the agent itself keeps running');
    assert.equal((await probe.request('class/list', {})).status, 'ok');
  });
});
