import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { probeBroker } from '../../src/mqtt/brokerProbe.js';
import { startAgentProcess } from '../helpers/agentProcess.js';
import { freePort, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

/** A TCP listener on a free loopback port that is not an MQTT broker. */
async function plainListener(onConnection: (socket: Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}

const silent = (): void => undefined;
const http = (socket: Socket): void => {
  socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'));
};

void describe('probing for an MQTT broker with a real CONNECT/CONNACK', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  void it('nothing listening: none', async () => {
    const result = await probeBroker({ host: '127.0.0.1', port: await freePort() });
    assert.equal(result.kind, 'none');
  });

  void it('a mosquitto that allows anonymous logins: broker; one with users refuses anonymous and wrong passwords', async () => {
    const open = await startMosquitto({ persistence: false });
    cleanups.push(() => open.cleanup());
    assert.deepEqual(await probeBroker({ host: '127.0.0.1', port: open.port }), { kind: 'broker' });

    const closed = await startMosquitto({ persistence: false, users: { agent: 'agent-pw' } });
    cleanups.push(() => closed.cleanup());
    const anonymous = await probeBroker({ host: '127.0.0.1', port: closed.port });
    assert.equal(anonymous.kind, 'refused');
    const wrong = await probeBroker({ host: '127.0.0.1', port: closed.port, username: 'agent', password: 'nope' });
    assert.equal(wrong.kind, 'refused');
    assert.ok(wrong.kind === 'refused' && [4, 5].includes(wrong.code), JSON.stringify(wrong));
    assert.deepEqual(await probeBroker({ host: '127.0.0.1', port: closed.port, username: 'agent', password: 'agent-pw' }), { kind: 'broker' });
  });

  void it('a listener that is not MQTT: not_mqtt, whether it stays silent, answers HTTP or hangs up', async () => {
    for (const [name, behaviour] of [
      ['silent', silent],
      ['http', http],
      ['hang-up', (s: Socket) => s.destroy()],
    ] as const) {
      const listener = await plainListener(behaviour);
      cleanups.push(() => listener.close());
      const result = await probeBroker({ host: '127.0.0.1', port: listener.port, timeoutMs: 500 });
      assert.equal(result.kind, 'not_mqtt', `${name}: ${JSON.stringify(result)}`);
    }
  });
});

void describe('the agent with no mqtt.url', () => {
  const dir = tempDir();
  const brokers: Mosquitto[] = [];
  after(async () => {
    for (const b of brokers) await b.cleanup();
    dir.cleanup();
  });

  const config = (port: number): Record<string, unknown> => ({
    node_id: 'local_broker',
    detector: { type: 'cpu' },
    mqtt: { embedded: { port }, discovery: { enabled: false } },
  });

  void it('uses a broker already answering on the embedded address, says so, and leaves it running', async () => {
    const broker = await startMosquitto({ persistence: false });
    brokers.push(broker);
    const agent = await startAgentProcess({ dir: dir.path, config: config(broker.port) });
    try {
      assert.match(agent.log(), new RegExp(`using the MQTT broker already answering on mqtt://127\\.0\\.0\\.1:${broker.port}`));
      assert.doesNotMatch(agent.log(), /started the embedded MQTT broker/);
      const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      try {
        const online = new Promise<string>((resolve) => client.on('message', (_t, payload) => resolve(payload.toString())));
        await client.subscribeAsync('edge-imprint/available');
        assert.equal(await online, 'online');
      } finally {
        await client.endAsync(true);
      }
      assert.match(broker.log(), /as edge-imprint-local_broker/);
    } finally {
      assert.equal(await agent.stop(), 0);
    }
    // The user's broker is still there after the agent stopped.
    const after = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    await after.endAsync(true);
  });

  void it('a broker that refuses the anonymous login: exit 1 with one line saying which settings to set', async () => {
    const broker = await startMosquitto({ persistence: false, users: { someone: 'pw' } });
    brokers.push(broker);
    await assert.rejects(startAgentProcess({ dir: dir.path, config: config(broker.port) }), (err: Error) => {
      assert.match(err.message, /exited with 1/);
      assert.match(
        err.message,
        new RegExp(`MQTT broker on 127\\.0\\.0\\.1:${broker.port} refused an anonymous login \\(not authorised\\): set mqtt\\.url to it with mqtt\\.username and mqtt\\.password`),
      );
      return true;
    });
  });

  void it('a port taken by a program that is not MQTT: exit 1 naming the port and the fix', async () => {
    const listener = await plainListener(silent);
    try {
      await assert.rejects(startAgentProcess({ dir: dir.path, config: config(listener.port) }), (err: Error) => {
        assert.match(err.message, /exited with 1/);
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${listener.port} is in use by a program that is not an MQTT broker`));
        assert.match(err.message, /set mqtt\.embedded\.port to a free port/);
        return true;
      });
    } finally {
      await listener.close();
    }
  });

  void it('nothing on the embedded address: starts the embedded broker there', async () => {
    const port = await freePort();
    const agent = await startAgentProcess({ dir: dir.path, config: config(port) });
    try {
      assert.match(agent.log(), new RegExp(`started the embedded MQTT broker on mqtt://127\\.0\\.0\\.1:${port}`));
    } finally {
      assert.equal(await agent.stop(), 0);
    }
    await waitFor(async () => (await probeBroker({ host: '127.0.0.1', port })).kind === 'none', 5000, 'the embedded broker to close');
  });
});
