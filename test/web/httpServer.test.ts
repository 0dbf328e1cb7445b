import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { configSecrets } from '../../src/config/redact.js';
import { AppError } from '../../src/errors.js';
import { HttpServer, type HealthChecks } from '../../src/web/httpServer.js';
import { Metrics } from '../../src/web/metrics.js';
import { freePort, tempDir, testLogger } from '../helpers/env.js';

interface Running {
  server: HttpServer;
  base: string;
  metrics: Metrics;
}

const running: HttpServer[] = [];
after(async () => {
  for (const s of running) await s.stop();
});

async function serve(checks: HealthChecks, extra: { secrets?: string[]; checkTimeoutMs?: number } = {}): Promise<Running> {
  const metrics = new Metrics({ processMetrics: false });
  const port = await freePort();
  const server = new HttpServer({ config: { host: '127.0.0.1', port }, logger: testLogger(), metrics, checks, ...extra });
  running.push(server);
  await server.start();
  return { server, base: `http://127.0.0.1:${server.port}`, metrics };
}

void describe('/health', () => {
  void it('is 200 with JSON when the detector and MQTT are up', async () => {
    const { base } = await serve({ detector: () => true, mqtt: async () => ({ up: true, detail: 'connected' }) });
    const res = await fetch(`${base}/health`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await res.json(), {
      status: 'ok',
      down: [],
      checks: { detector: { up: true }, mqtt: { up: true, detail: 'connected' } },
    });
  });

  void it('is 503 naming what is down: false, throwing and hanging checks', async () => {
    const { base } = await serve(
      {
        detector: () => true,
        mqtt: () => ({ up: false, detail: 'reconnecting' }),
        store: () => {
          throw new Error('boom');
        },
        slow: () => new Promise<boolean>(() => undefined),
      },
      { checkTimeoutMs: 200 },
    );
    const res = await fetch(`${base}/health`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { status: string; down: string[]; checks: Record<string, { up: boolean; detail?: string }> };
    assert.equal(body.status, 'down');
    assert.deepEqual(body.down, ['mqtt', 'store', 'slow']);
    assert.deepEqual(body.checks.mqtt, { up: false, detail: 'reconnecting' });
    assert.deepEqual(body.checks.store, { up: false, detail: 'check failed' });
    assert.deepEqual(body.checks.slow, { up: false, detail: 'check timed out' });
    assert.deepEqual(body.checks.detector, { up: true });
  });

  void it('answers HEAD without a body, 404 elsewhere and 405 for other methods', async () => {
    const { base } = await serve({ detector: () => true });
    const head = await fetch(`${base}/health?x=1`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(`${base}/`)).status, 404);
    assert.equal((await fetch(`${base}/healthz`)).status, 404);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });
});

void describe('/metrics', () => {
  void it('serves the Prometheus text of the agent', async () => {
    const { base, metrics } = await serve({ detector: () => true });
    metrics.observeInference(12);
    metrics.recordRequestError('class/rename');
    metrics.setCameraStatsProvider(() => ({ door: { camera_fps: 10, process_fps: 2, skipped_fps: 1, reconnects: 2, status: 'online' } }));
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /^edge_imprint_inference_seconds_count 1$/m);
    assert.match(text, /^edge_imprint_request_errors_total\{command="class\/rename"\} 1$/m);
    assert.match(text, /^edge_imprint_camera_skipped_fps\{camera="door"\} 1$/m);
    assert.match(text, /^edge_imprint_camera_reconnects\{camera="door"\} 2$/m);
  });
});

void describe('lifecycle', () => {
  void it('stops cleanly, twice, and before it ever started', async () => {
    const idle = new HttpServer({ config: { host: '127.0.0.1', port: 0 }, logger: testLogger(), metrics: new Metrics({ processMetrics: false }), checks: {} });
    await idle.stop();
    const { server, base } = await serve({});
    assert.equal((await fetch(`${base}/health`)).status, 200);
    // A kept-alive connection must not hold stop() open.
    await server.stop();
    await server.stop();
    await assert.rejects(fetch(`${base}/health`));
  });

  void it('binds port 0 to a free port, and does nothing when disabled', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const any = new HttpServer({ config: { host: '127.0.0.1', port: 0 }, logger: testLogger(), metrics, checks: {} });
    running.push(any);
    await any.start();
    assert.ok(any.port > 0);
    const disabled = new HttpServer({ config: { enabled: false, host: '127.0.0.1', port: 1 }, logger: testLogger(), metrics, checks: {} });
    await disabled.start();
    assert.equal(disabled.port, 0);
    await disabled.stop();
  });

  void it('fails to start with one clear line when the port is taken', async () => {
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const server = new HttpServer({ config: { host: '127.0.0.1', port }, logger: testLogger(), metrics: new Metrics({ processMetrics: false }), checks: {} });
      await assert.rejects(server.start(), (err: unknown) => {
        assert.ok(err instanceof AppError);
        assert.equal(err.message, `http: cannot listen on 127.0.0.1:${port} (EADDRINUSE); change http.port or http.host`);
        return true;
      });
      await server.stop();
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

void describe('secrets', () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  void it('never serves the MQTT password or RTSP credentials, even when a check reports them', async () => {
    const file = join(dir.path, 'config.yaml');
    writeFileSync(
      file,
      [
        'mqtt: { url: "mqtt://agent:Mqtt-Pa55word@broker:1883", password: "Mqtt-Pa55word", username: agent }',
        'cameras:',
        '  door: { url: "rtsp://admin:Rtsp-S3cret@10.0.0.2/stream" }',
        '  yard: { url: "rtsp://viewer:Yard-S3cret@10.0.0.3/s" }',
      ].join('\n'),
    );
    const config = loadConfig({ file, env: {}, hostname: 'h' });
    const secrets = configSecrets(config);
    for (const s of ['Mqtt-Pa55word', 'Rtsp-S3cret', 'Yard-S3cret']) assert.ok(secrets.includes(s), s);
    const { base, metrics } = await serve(
      {
        detector: () => ({ up: true, detail: `camera ${config.cameras.door?.url ?? ''} ok` }),
        mqtt: () => ({ up: false, detail: `cannot reach ${config.mqtt.url}` }),
        auth: () => ({ up: false, detail: `password Mqtt-Pa55word rejected` }),
      },
      { secrets },
    );
    metrics.setCameraStatsProvider(() =>
      Object.fromEntries(
        Object.keys(config.cameras).map((name) => [name, { camera_fps: 1, process_fps: 1, skipped_fps: 0, reconnects: 0, status: 'online' }]),
      ),
    );
    const health = await (await fetch(`${base}/health`)).text();
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(health, /rtsp:\/\/\*\*\*:\*\*\*@10\.0\.0\.2/);
    assert.match(text, /camera="yard"/);
    for (const body of [health, text]) {
      for (const s of ['Mqtt-Pa55word', 'Rtsp-S3cret', 'Yard-S3cret', 'admin:', 'viewer:']) assert.ok(!body.includes(s), `${s} served`);
    }
  });
});
