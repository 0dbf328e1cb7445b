/**
 * mqtt.embedded.enabled (issue 18, item 9): with no mqtt.url and nothing answering, `auto`
 * starts the embedded broker only when no broker service of this machine takes the port, and
 * otherwise waits for it; `true` always embeds, `false` never. The broker service probe is
 * injected (and read from a directory laid out like `/`); ports and brokers are real.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import mqtt from 'mqtt';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { brokerServiceAt, chooseLocalBroker, MQTT_PORT, type BrokerService } from '../../src/mqtt/embeddedBroker.js';
import { startAgentProcess } from '../helpers/agentProcess.js';
import { freePort, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

const dirs: Array<{ path: string; cleanup: () => void }> = [];
const brokers: Mosquitto[] = [];

after(async () => {
  for (const b of brokers) await b.cleanup();
  for (const d of dirs) d.cleanup();
});

function newDir(): string {
  const d = tempDir('edge-imprint-embedded-');
  dirs.push(d);
  return d.path;
}

function capture(): { logger: pino.Logger; text: () => string } {
  let text = '';
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, done) => void ((text += chunk.toString()), done()) }));
  return { logger, text: () => text };
}

/** A root directory with the given paths (a trailing / makes a folder, `a -> b` a symlink). */
function rootWith(paths: string[]): string {
  const root = newDir();
  for (const p of paths) {
    const [path, target] = p.split(' -> ') as [string, string | undefined];
    mkdirSync(join(root, path.endsWith('/') ? path : join(path, '..')), { recursive: true });
    if (target) symlinkSync(target, join(root, path));
    else if (!path.endsWith('/')) writeFileSync(join(root, path), '');
  }
  return root;
}

const settings = (enabled: 'auto' | boolean, port: number) => ({ embedded: { enabled, host: '127.0.0.1', port }, username: '', password: '' });

void describe('a broker service this machine starts', () => {
  const wants = 'etc/systemd/system/multi-user.target.wants';
  void it('an enabled mosquitto (or snap, or EMQX) unit while systemd runs; an OpenRC service in the default runlevel', () => {
    const unit = `${wants}/mosquitto.service -> /lib/systemd/system/mosquitto.service`;
    assert.deepEqual(brokerServiceAt(rootWith(['run/systemd/system/', unit])), { description: 'systemd unit mosquitto.service', port: MQTT_PORT });
    assert.equal(brokerServiceAt(rootWith(['run/systemd/system/', `${wants}/snap.mosquitto.mosquitto.service`]))?.description, 'systemd unit snap.mosquitto.mosquitto.service');
    assert.equal(brokerServiceAt(rootWith(['run/systemd/system/', `${wants}/emqx.service`]))?.description, 'systemd unit emqx.service');
    assert.equal(brokerServiceAt(rootWith(['run/openrc/', 'etc/runlevels/default/mosquitto']))?.description, 'OpenRC service mosquitto');
  });

  void it('none: installed but not enabled, enabled where no init system runs (a container), or another service', () => {
    assert.equal(brokerServiceAt(rootWith(['run/systemd/system/', 'lib/systemd/system/mosquitto.service'])), null);
    assert.equal(brokerServiceAt(rootWith([`${wants}/mosquitto.service`, 'usr/sbin/mosquitto'])), null);
    assert.equal(brokerServiceAt(rootWith(['run/systemd/system/', `${wants}/postgresql.service`])), null);
    assert.equal(brokerServiceAt(rootWith(['run/openrc/', 'etc/runlevels/default/sshd'])), null);
  });
});

void describe('which broker with no mqtt.url (real ports)', () => {
  void it('auto, nothing answering, a broker service on that port: waits for it (says so) and connects once it is up', async () => {
    const port = await freePort();
    const log = capture();
    const service: BrokerService = { description: 'systemd unit mosquitto.service', port };
    const choice = await chooseLocalBroker(settings('auto', port), log.logger, () => service);
    assert.deepEqual(choice, { url: `mqtt://127.0.0.1:${port}`, embedded: false });
    assert.match(log.text(), /this machine starts one \(systemd unit mosquitto\.service\): waiting for it \(retrying\) instead of taking its port/);
    // The broker comes up later: a client of that URL, retrying, gets in.
    const client = mqtt.connect(choice.url, { reconnectPeriod: 200, connectTimeout: 1000 });
    try {
      brokers.push(await startMosquitto({ port }));
      await waitFor(() => client.connected, 15_000, 'the client to reach the late broker');
    } finally {
      await client.endAsync(true);
    }
  });

  void it('auto, nothing answering, no broker service (or one on another port): embedded, saying why', async () => {
    const port = await freePort();
    const none = capture();
    assert.deepEqual(await chooseLocalBroker(settings('auto', port), none.logger, () => null), { url: `mqtt://127.0.0.1:${port}`, embedded: true });
    assert.match(none.text(), /no MQTT broker service is set to start on this machine: starting the embedded broker \(mqtt\.embedded\.enabled: auto\)/);
    const other = capture();
    const elsewhere: BrokerService = { description: 'systemd unit mosquitto.service', port: port === MQTT_PORT ? port + 1 : MQTT_PORT };
    assert.equal((await chooseLocalBroker(settings('auto', port), other.logger, () => elsewhere)).embedded, true);
    assert.match(other.text(), /listens on \d+, not \d+: starting the embedded broker/);
  });

  void it('a broker answering is used under auto and false; true embeds without asking; false with nothing answering waits', async () => {
    const broker = await startMosquitto();
    brokers.push(broker);
    const service = (): BrokerService => ({ description: 'x', port: broker.port });
    for (const enabled of ['auto', false] as const) {
      assert.deepEqual(await chooseLocalBroker(settings(enabled, broker.port), capture().logger, service), { url: broker.url, embedded: false });
    }
    const yes = capture();
    assert.equal((await chooseLocalBroker(settings(true, await freePort()), yes.logger, service)).embedded, true);
    assert.match(yes.text(), /mqtt\.embedded\.enabled is true: the embedded broker serves/);
    const no = capture();
    const port = await freePort();
    assert.deepEqual(await chooseLocalBroker(settings(false, port), no.logger, () => null), { url: `mqtt://127.0.0.1:${port}`, embedded: false });
    assert.match(no.text(), /mqtt\.embedded\.enabled is false: waiting for it \(retrying\), no embedded broker/);
  });

  void it('the setting: auto, true or false, from the file or the environment; anything else is an error naming it', () => {
    assert.equal(loadConfig({ env: {}, hostname: 'x' }).mqtt.embedded.enabled, 'auto');
    assert.equal(loadConfig({ env: { EDGE_IMPRINT_MQTT_EMBEDDED_ENABLED: 'false' }, hostname: 'x' }).mqtt.embedded.enabled, false);
    assert.equal(loadConfig({ env: { EDGE_IMPRINT_MQTT_EMBEDDED_ENABLED: 'true' }, hostname: 'x' }).mqtt.embedded.enabled, true);
    assert.throws(() => loadConfig({ env: { EDGE_IMPRINT_MQTT_EMBEDDED_ENABLED: 'maybe' }, hostname: 'x' }), /mqtt\.embedded\.enabled.*must be auto, true or false/);
  });
});

void describe('an agent with mqtt.embedded.enabled: false', () => {
  void it('starts without a broker, says it waits, and comes online when the broker starts', async () => {
    const port = await freePort();
    const agent = await startAgentProcess({
      dir: newDir(),
      config: { node_id: 'waiting', detector: { type: 'cpu' }, mqtt: { embedded: { enabled: false, port }, discovery: { enabled: false } } },
    });
    try {
      assert.match(agent.log(), /mqtt\.embedded\.enabled is false: waiting for it/);
      assert.doesNotMatch(agent.log(), /started the embedded MQTT broker/);
      const broker = await startMosquitto({ port });
      brokers.push(broker);
      await waitFor(() => broker.log().includes('as edge-imprint-waiting'), 30_000, 'the agent to connect to the late broker');
    } finally {
      assert.equal(await agent.stop(), 0);
    }
  });
});
