import { loadConfig } from '../../src/config/load.js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../src/errors.js';
import { redactUrl } from '../../src/config/redact.js';
import { checkUrl, connectionOptions, type ConnectionOptions } from '../../src/mqtt/clientOptions.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { freePort, tempDir, testLogger, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE, TestClient } from './harness.js';

/** A throw-away CA, a server certificate for 127.0.0.1 and a client certificate. */
function makeCerts(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca');
  ssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\n" > san.ext'], { cwd: dir });
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  ssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=edge-imprint');
  ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2');
  ssl('req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=other-ca');
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644); // mosquitto runs as its own user
}

function options(url: string, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return {
    url,
    username: '',
    password: '',
    clientId: `transport-${Math.random().toString(16).slice(2, 8)}`,
    cleanSession: true,
    protocolVersion: 5,
    tls: { ca: '', cert: '', key: '' },
    availabilityTopic: `${BASE}/available`,
    minReconnectMs: 100,
    maxReconnectMs: 500,
    ...extra,
  };
}

void describe('MQTT transports: mqtts with CA and client certificate, websockets', () => {
  let broker: Mosquitto;
  const certs = tempDir('edge-imprint-certs-');
  let tlsPort = 0;
  let wsPort = 0;
  const stops: Array<() => Promise<void>> = [];

  before(async () => {
    chmodSync(certs.path, 0o755);
    makeCerts(certs.path);
    tlsPort = await freePort();
    wsPort = await freePort();
    const c = (f: string) => join(certs.path, f);
    broker = await startMosquitto({
      persistence: false,
      extra: [
        `listener ${tlsPort} 127.0.0.1`,
        `cafile ${c('ca.crt')}`,
        `certfile ${c('server.crt')}`,
        `keyfile ${c('server.key')}`,
        'require_certificate true',
        `listener ${wsPort} 127.0.0.1`,
        'protocol websockets',
      ],
    });
  });
  after(async () => {
    for (const stop of stops) await stop().catch(() => undefined);
    await broker?.cleanup();
    certs.cleanup();
  });

  const watch = async (): Promise<TestClient> => {
    const client = await TestClient.connect(broker.url);
    stops.push(() => client.end());
    await client.subscribe(`${BASE}/available`);
    return client;
  };

  void it('mqtts:// with the CA, a client certificate and key read from files', async () => {
    const c = (f: string) => join(certs.path, f);
    const watcher = await watch();
    const connection = new MqttConnection(
      options(`mqtts://127.0.0.1:${tlsPort}`, { tls: { ca: c('ca.crt'), cert: c('client.crt'), key: c('client.key') } }),
      testLogger(),
    );
    stops.push(() => connection.stop());
    await connection.start();
    assert.equal(connection.connected, true);
    await watcher.next(`${BASE}/available`, 0, (p) => p.toString() === 'online');
  });

  void it('mqtts:// with the wrong CA fails cleanly and keeps retrying', async () => {
    const c = (f: string) => join(certs.path, f);
    const connection = new MqttConnection(
      options(`mqtts://127.0.0.1:${tlsPort}`, { tls: { ca: c('other-ca.crt'), cert: c('client.crt'), key: c('client.key') } }),
      testLogger(),
    );
    stops.push(() => connection.stop());
    await connection.start();
    assert.equal(connection.connected, false);
  });

  void it('an unreadable TLS file is a config error naming the key', async () => {
    const connection = new MqttConnection(options(`mqtts://127.0.0.1:${tlsPort}`, { tls: { ca: '/nonexistent/ca.crt', cert: '', key: '' } }), testLogger());
    await assert.rejects(connection.start(), (err: unknown) => err instanceof AppError && err.code === 'config' && /mqtt\.tls\.ca/.test(err.message));
  });

  void it('ws:// websockets', async () => {
    const watcher = await watch();
    const from = watcher.messages.length;
    const connection = new MqttConnection(options(`ws://127.0.0.1:${wsPort}`), testLogger());
    stops.push(() => connection.stop());
    await connection.start();
    await waitFor(() => connection.connected, 3000, 'ws connect');
    await watcher.next(`${BASE}/available`, from, (p) => p.toString() === 'online');
  });

  void it('URL checks and redaction never echo credentials', () => {
    assert.throws(() => checkUrl('http://user:pw@host'), (e: Error) => /unsupported scheme "http"/.test(e.message) && !e.message.includes('pw'));
    assert.throws(() => checkUrl('not a url'), /mqtt\.url: must be empty or a URL like mqtt:\/\/host:1883/);
    checkUrl('mqtts://host:8883');
    checkUrl('tls://host:8883'); // mqtt.js takes tls:// as mqtts://, and so does the config schema
    assert.equal(redactUrl('mqtt://bob:hunter2@host:1883'), 'mqtt://***:***@host:1883');
    const opts = connectionOptions(
      { ...loadConfig({ env: {} }).mqtt, url: 'mqtt://h', username: 'u', password: 'p', client_id: '' },
      'garage',
      'mqtt://h',
    );
    assert.equal(opts.clientId, 'edge-imprint-garage');
    assert.equal(opts.cleanSession, false);
    assert.equal(opts.availabilityTopic, 'edge-imprint/available');
  });
});
