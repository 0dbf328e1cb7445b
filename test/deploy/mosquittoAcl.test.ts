/**
 * The recommended broker set-up (deploy/mosquitto: config and ACL; the users'
 * password file as deploy/make-secrets.sh makes it) on a real mosquitto: each user can do
 * what the docs say and nothing more.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { ROOT, freePort, tempDir, waitFor } from '../helpers/env.js';

const DEPLOY = join(ROOT, 'deploy', 'mosquitto');
const PASSWORDS = {
  'edge-imprint': 'test-edge-imprint-password',
  homeassistant: 'test-homeassistant-password',
  enroller: 'test-enroller-password',
  'edge-imprint-garage': 'test-edge-imprint-garage-password',
};

/** The hashed password file for PASSWORDS, as make-secrets.sh writes it (mosquitto_passwd -U). */
function writePasswd(file: string): void {
  writeFileSync(file, Object.entries(PASSWORDS).map(([user, pw]) => `${user}:${pw}\n`).join(''));
  const r = spawnSync('mosquitto_passwd', ['-U', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
}

let broker: ChildProcess;
let dir: { path: string; cleanup: () => void };
let port: number;
let brokerLog = '';
const clients: MqttClient[] = [];

/** deploy/mosquitto/mosquitto.conf with the paths and port of this test. */
function testConfig(): string {
  const conf = readFileSync(join(DEPLOY, 'mosquitto.conf'), 'utf8')
    .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
    .replace(/^password_file .*$/m, `password_file ${join(dir.path, 'passwd')}`)
    .replace(/^acl_file .*$/m, `acl_file ${join(dir.path, 'acl')}`)
    .replace(/^persistence_location .*$/m, `persistence_location ${dir.path}/`)
    .replace(/^log_dest stdout$/m, 'log_dest stderr');
  const file = join(dir.path, 'mosquitto.conf');
  writeFileSync(file, conf);
  return file;
}

before(async () => {
  dir = tempDir('edge-imprint-acl-');
  chmodSync(dir.path, 0o777); // mosquitto may drop to its own user
  port = await freePort();
  writePasswd(join(dir.path, 'passwd'));
  copyFileSync(join(DEPLOY, 'acl'), join(dir.path, 'acl'));
  chmodSync(join(dir.path, 'passwd'), 0o644);
  chmodSync(join(dir.path, 'acl'), 0o644);
  broker = spawn('/usr/sbin/mosquitto', ['-c', testConfig()], { stdio: ['ignore', 'ignore', 'pipe'] });
  broker.stderr?.on('data', (d: Buffer) => (brokerLog += d.toString()));
  await waitFor(() => brokerLog.includes('running'), 5000, `mosquitto to start: ${brokerLog}`);
});

after(async () => {
  for (const c of clients) await c.endAsync(true);
  broker.kill('SIGTERM');
  await new Promise((r) => (broker.exitCode === null ? broker.once('exit', r) : r(null)));
  dir.cleanup();
});

async function connect(username?: keyof typeof PASSWORDS, password?: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 3000,
    ...(username ? { username, password: password ?? PASSWORDS[username] } : {}),
  });
  clients.push(client);
  return client;
}

/** Publishes at QoS 1; mosquitto answers a forbidden topic with reason code 135. */
async function allowed(client: MqttClient, topic: string, payload = 'x', retain = false): Promise<boolean> {
  try {
    await client.publishAsync(topic, payload, { qos: 1, retain });
    return true;
  } catch (err) {
    if (/not authori[sz]ed/i.test(String(err))) return false;
    throw err;
  }
}

function collect(client: MqttClient): Array<{ topic: string; payload: string }> {
  const seen: Array<{ topic: string; payload: string }> = [];
  client.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  return seen;
}

void describe('deploy/mosquitto (config, example users, recommended ACL)', () => {
  void it('refuses anonymous clients and wrong passwords', async () => {
    await assert.rejects(connect());
    await assert.rejects(connect('homeassistant', 'wrong'));
  });

  void it('lets the agent publish its topics and its own discovery, nothing else', async () => {
    const agent = await connect('edge-imprint');
    assert.equal(await allowed(agent, 'edge-imprint/available', 'online', true), true);
    assert.equal(await allowed(agent, 'homeassistant/binary_sensor/edge_imprint_home/door_dog/config', '{}', true), true);
    assert.equal(await allowed(agent, 'homeassistant/light/kitchen/light/config', '{}'), false);
    assert.equal(await allowed(agent, 'homeassistant/status', 'offline'), false);
    assert.equal(await allowed(agent, 'zigbee2mqtt/bridge/request/permit_join', 'true'), false);
  });

  void it('lets Home Assistant read states and ask, but not fake the agent', async () => {
    const agent = await connect('edge-imprint');
    const agentSeen = collect(agent);
    await agent.subscribeAsync(['edge-imprint/request/#', 'edge-imprint/enroll_form/#', 'edge-imprint/available'], { qos: 1 });
    const ha = await connect('homeassistant');
    const haSeen = collect(ha);
    await ha.subscribeAsync(['edge-imprint/#', 'homeassistant/#'], { qos: 1 });
    await waitFor(() => haSeen.some((m) => m.topic === 'edge-imprint/available'), 3000, 'retained availability');
    await waitFor(() => haSeen.some((m) => m.topic.endsWith('edge_imprint_home/door_dog/config')), 3000, 'retained discovery');

    assert.equal(await allowed(ha, 'edge-imprint/request/class/list', '{}'), true);
    assert.equal(await allowed(ha, 'edge-imprint/enroll_form/label/set', 'dog'), true);
    assert.equal(await allowed(ha, 'edge-imprint/enroll_form/enroll', 'PRESS'), true);
    assert.equal(await allowed(ha, 'edge-imprint/enroll_form/zone/door/set', 'mat'), true);
    // The agent's answers and the form's state are the agent's: HA cannot fake them.
    assert.equal(await allowed(ha, 'edge-imprint/last_enrollment', '{"result":"ok"}'), false);
    assert.equal(await allowed(ha, 'edge-imprint/enroll_form/zone/door', 'mat'), false);
    assert.equal(await allowed(ha, 'homeassistant/status', 'online'), true);
    assert.equal(await allowed(ha, 'edge-imprint/available', 'offline'), false);
    assert.equal(await allowed(ha, 'edge-imprint/door/dog', 'ON'), false);
    assert.equal(await allowed(ha, 'edge-imprint/response/classify', '{}'), false);
    await waitFor(() => agentSeen.some((m) => m.topic === 'edge-imprint/enroll_form/enroll'), 3000, 'the enroll press');
    assert.ok(agentSeen.some((m) => m.topic === 'edge-imprint/request/class/list'));
    assert.ok(!agentSeen.some((m) => m.topic === 'edge-imprint/available' && m.payload === 'offline'));
  });

  void it('gives the fleet gallery to the agents only, each writing its own subtree', async () => {
    const home = await connect('edge-imprint'); // node_id home
    const garage = await connect('edge-imprint-garage'); // node_id garage
    const ha = await connect('homeassistant');
    const script = await connect('enroller');
    const seen = { home: collect(home), ha: collect(ha), script: collect(script) };
    await home.subscribeAsync('edge-imprint-gallery/#', { qos: 1 });
    await ha.subscribeAsync('edge-imprint-gallery/#', { qos: 1 });
    await script.subscribeAsync('edge-imprint-gallery/#', { qos: 1 });
    assert.equal(await allowed(home, 'edge-imprint-gallery/home/manifest', '{"home":1}', true), true);
    assert.equal(await allowed(garage, 'edge-imprint-gallery/garage/class/0123456789abcdef/cat', '{"garage":1}', true), true);
    assert.equal(await allowed(garage, 'edge-imprint-gallery/home/manifest', '{"forged":1}'), false);
    assert.equal(await allowed(home, 'edge-imprint-gallery/garage/ops', '{"forged":1}'), false);
    assert.equal(await allowed(ha, 'edge-imprint-gallery/homeassistant/manifest', '{"fake peer":1}'), false);
    assert.equal(await allowed(script, 'edge-imprint-gallery/enroller/manifest', '{"fake peer":1}'), false);
    // Each agent still owns only its own base topic.
    assert.equal(await allowed(garage, 'edge-imprint-garage/available', 'online', true), true);
    assert.equal(await allowed(garage, 'edge-imprint/available', 'offline'), false);
    // Home Assistant asks the second agent as it asks the first, and cannot fake its states.
    assert.equal(await allowed(ha, 'edge-imprint-garage/request/class/list', '{}'), true);
    assert.equal(await allowed(ha, 'edge-imprint-garage/available', 'offline'), false);
    await waitFor(() => seen.home.some((m) => m.topic === 'edge-imprint-gallery/garage/class/0123456789abcdef/cat'), 3000, "home to read garage's contribution");
    assert.ok(!seen.home.some((m) => m.payload.includes('forged') || m.payload.includes('fake peer')));
    await allowed(home, 'edge-imprint-gallery/home/ops', '{"home":2}');
    await waitFor(() => seen.home.some((m) => m.topic === 'edge-imprint-gallery/home/ops'), 3000, 'home to read its own');
    assert.deepEqual([...seen.ha, ...seen.script].filter((m) => m.topic.startsWith('edge-imprint-gallery/')), [], 'Home Assistant and scripts read no gallery');
  });

  void it('lets an enrolling script ask and read answers, not states', async () => {
    const agent = await connect('edge-imprint');
    const script = await connect('enroller');
    const seen = collect(script);
    await script.subscribeAsync(['edge-imprint/response/#', 'edge-imprint/door/#', 'edge-imprint/available'], { qos: 1 });
    assert.equal(await allowed(script, 'edge-imprint/request/class/enroll', '{}'), true);
    assert.equal(await allowed(script, 'edge-imprint/enroll_form/enroll', 'PRESS'), false);
    await allowed(agent, 'edge-imprint/door/label', 'dog');
    await allowed(agent, 'edge-imprint/response/class/enroll', '{"status":"ok"}');
    await waitFor(() => seen.some((m) => m.topic === 'edge-imprint/response/class/enroll'), 3000, 'the response');
    assert.ok(!seen.some((m) => m.topic === 'edge-imprint/door/label' || m.topic === 'edge-imprint/available'));
  });
});
