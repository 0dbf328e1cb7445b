/**
 * runAgent's last-resort handlers, in real agent processes: a promise rejection nobody
 * handled is logged and the agent keeps serving; an uncaught exception is logged and the
 * agent exits 1 (for systemd or Docker to restart it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { alive } from '../helpers/processes.js';

const INJECT = new URL('./injectFault.mjs', import.meta.url).href;

describe('errors no part caught, in a real agent process', { timeout: 180_000 }, () => {
  const dirs: Array<{ path: string; cleanup: () => void }> = [];
  const agents: AgentProcess[] = [];
  let broker: Mosquitto;

  before(async () => {
    broker = await startMosquitto();
  });
  after(async () => {
    for (const agent of agents) await agent.stop(5000);
    await broker?.cleanup();
    for (const dir of dirs) dir.cleanup();
  });

  async function start(fault: 'rejection' | 'exception'): Promise<AgentProcess> {
    const dir = tempDir(`edge-imprint-guard-${fault}-`);
    dirs.push(dir);
    const agent = await startAgentProcess({
      dir: dir.path,
      config: {
        node_id: `guard_${fault}`,
        mqtt: { url: broker.url, base_topic: `guard-${fault}`, discovery: { enabled: false } },
        detector: { type: 'cpu', threads: 1 },
        log: { level: 'info' },
      },
      env: { NODE_OPTIONS: `--import ${INJECT}`, INJECT_FAULT: fault },
    });
    agents.push(agent);
    return agent;
  }

  it('an unhandled rejection is logged and the agent keeps running and answering', async () => {
    const agent = await start('rejection');
    process.kill(agent.pid, 'SIGUSR2');
    await agent.waitForLog(/unhandled promise rejection.*still running/);
    assert.match(agent.log(), /injected rejection/);
    assert.ok(alive(agent.pid), `the agent died:\n${agent.log().slice(-2000)}`);
    const health = await fetch(`http://127.0.0.1:${agent.httpPort}/health`);
    assert.equal(health.status, 200);
  });

  it('an uncaught exception is logged and the agent exits 1', async () => {
    const agent = await start('exception');
    process.kill(agent.pid, 'SIGUSR2');
    await waitFor(() => agent.proc.exitCode !== null || agent.proc.signalCode !== null, 20_000, 'the agent to exit');
    assert.equal(agent.proc.exitCode, 1);
    assert.match(agent.log(), /uncaught exception.*exiting/);
    assert.match(agent.log(), /injected exception/);
  });
});
