import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { CLI } from '../helpers/cli.js';
import { freePort, MODEL_DIR, tempDir, waitFor } from '../helpers/env.js';
import { alive, descendants } from '../helpers/processes.js';

describe('first run: no config, no broker, no models installed', () => {
  const dir = tempDir();
  let agent: ChildProcess;
  let client: mqtt.MqttClient;
  let log = '';
  let brokerPort = 0;
  let httpPort = 0;
  const messages = new Map<string, string>();
  const seen: Array<[string, string]> = [];

  before(async () => {
    brokerPort = await freePort();
    httpPort = await freePort();
    agent = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, 'run'], {
      cwd: dir.path,
      env: {
        ...process.env,
        EDGE_IMPRINT_MODEL_MIRROR: MODEL_DIR,
        EDGE_IMPRINT_MQTT_EMBEDDED_PORT: String(brokerPort),
        EDGE_IMPRINT_HTTP_PORT: String(httpPort),
        EDGE_IMPRINT_MQTT_STATS_INTERVAL: '2',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout?.on('data', (b: Buffer) => (log += b.toString()));
    agent.stderr?.on('data', (b: Buffer) => (log += b.toString()));
    await waitFor(() => log.includes('Enroll a first class'), 90_000, 'the start-up banner');
    client = mqtt.connect(`mqtt://127.0.0.1:${brokerPort}`, { reconnectPeriod: 200 });
    client.on('message', (topic, payload) => {
      messages.set(topic, payload.toString());
      seen.push([topic, payload.toString()]);
    });
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await client.subscribeAsync(['edge-imprint/#', 'homeassistant/#']);
  });
  after(async () => {
    client?.end(true);
    if (agent.exitCode === null) agent.kill('SIGKILL');
    dir.cleanup();
  });

  it('installs the models from the mirror and says what it runs on', () => {
    assert.match(log, /copying them from/);
    assert.match(log, /using the CPU \(2 threads\) because no Coral/);
    assert.match(log, /demo camera/);
  });

  it('ends its start-up log with the mosquitto_pub command that enrolls a first class', () => {
    assert.match(log, new RegExp(`mosquitto_pub -h 127\\.0\\.0\\.1 -p ${brokerPort} -t 'edge-imprint/request/class/enroll/cat' -f cat\\.jpg`));
    assert.match(log, /Home Assistant/);
  });

  it('announces itself: available online, state, discovery', async () => {
    await waitFor(() => messages.get('edge-imprint/available') === 'online', 10_000, 'available online');
    const state = JSON.parse(await waitFor(() => messages.get('edge-imprint/state'), 10_000, 'state')) as {
      detector: { type: string };
      cameras: Record<string, unknown>;
    };
    assert.equal(state.detector.type, 'cpu');
    assert.ok('demo' in state.cameras);
    // Device-based discovery: one config for the node, one for the demo camera.
    const discovery = await waitFor(() => {
      const topics = [...messages.keys()].filter((t) => /^homeassistant\/device\/.+\/config$/.test(t));
      return topics.length >= 2 ? topics : undefined;
    }, 10_000, 'the device discovery configs');
    assert.deepEqual(discovery.map((t) => t.split('/')[3]).sort(), ['camera_demo', 'node']);
  });

  it('the demo camera delivers frames that are classified', async () => {
    await waitFor(() => messages.get('edge-imprint/demo/status') === 'online', 20_000, 'demo camera online');
    await waitFor(() => messages.get('edge-imprint/demo/attributes'), 20_000, 'a classification of a demo frame');
    const stats = JSON.parse(
      await waitFor(
        () => seen.filter(([t]) => t === 'edge-imprint/stats').map(([, p]) => p).find((p) => JSON.parse(p).cameras?.demo?.process_fps > 0),
        20_000,
        'stats with processed frames',
      ),
    ) as { cameras: { demo: { camera_fps: number } } };
    assert.ok(stats.cameras.demo.camera_fps > 0);
  });

  it('/health is 200 with the detector and MQTT up', async () => {
    const response = await fetch(`http://127.0.0.1:${httpPort}/health`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { status: string };
    assert.equal(body.status, 'ok');
  });

  it('SIGTERM publishes offline and leaves no child process', async () => {
    const children = descendants(agent.pid!);
    assert.ok(children.length >= 2, `expected the detector and ffmpeg children, got ${children.length}`);
    const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
    agent.kill('SIGTERM');
    assert.equal(await exited, 0);
    // The broker was inside the agent; "offline" must have been published before it went.
    assert.equal(seen.filter(([t]) => t === 'edge-imprint/available').at(-1)?.[1], 'offline');
    await waitFor(() => children.every((pid) => !alive(pid)), 5000, 'every child to exit');
  });
});
