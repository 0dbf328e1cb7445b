/**
 * The bridged set-up of docs/deploy.md ("Bridged brokers, one per site"): two real mosquitto
 * brokers, the site broker bridging only the gallery topic to the central one with the
 * documented bridge lines; a node on each. A class crosses the bridge, a node that joins the
 * site later gets it from the retained messages, and a removal crosses back.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { image, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { recognizes, startNode, type FleetNode } from './node.js';

const TOPIC = 'edge-imprint-gallery';
const read = (name: string): Buffer => readFileSync(image(name));

let central: Mosquitto;
let site: Mosquitto;
const dirs: Array<{ cleanup: () => void }> = [];
const dir = (): string => {
  const d = tempDir('edge-imprint-bridge-');
  dirs.push(d);
  return d.path;
};

before(async () => {
  central = await startMosquitto();
  // The lines of docs/deploy.md, pointed at the test's central broker (no TLS on loopback).
  site = await startMosquitto({
    extra: [
      'connection gallery-site-to-central',
      `address 127.0.0.1:${central.port}`,
      'remote_clientid bridge-site',
      'bridge_protocol_version mqttv50',
      'cleansession false',
      'try_private true',
      `topic ${TOPIC}/# both 1`,
    ],
  });
});

after(async () => {
  await site.cleanup();
  await central.cleanup();
  for (const d of dirs) d.cleanup();
});

const labels = (n: FleetNode) => n.core.imprinter.list().map((c) => `${c.label}:${c.shots}`).join(',');

describe('fleet gallery across a mosquitto bridge', () => {
  it('carries classes both ways, retained, and nothing but the gallery', async () => {
    await waitFor(() => /Received SUBACK from local\.bridge-site/.test(site.log()), 10_000, 'the bridge to connect');
    const a = await startNode({ name: 'a', url: central.url, dataDir: dir(), gallery: { topic: TOPIC } });
    const b = await startNode({ name: 'b', url: site.url, dataDir: dir(), gallery: { topic: TOPIC } });
    let c: FleetNode | null = null;
    const watcher = await mqtt.connectAsync(central.url);
    const seenCentral: string[] = [];
    watcher.on('message', (t) => seenCentral.push(t));
    await watcher.subscribeAsync('#', { qos: 1 });
    try {
      await a.core.imprinter.enrollImages('cat', [read('cat_train_0.jpg')], { source: 'test' });
      await waitFor(() => labels(b) === 'cat:1', 15_000, 'the class on the site node');
      await recognizes(b, 'cat_test_0.jpg', 'cat');
      await b.core.imprinter.enrollImages('dog', [read('dog_train_0.jpg')], { source: 'test' });
      await waitFor(() => labels(a) === 'cat:1,dog:1', 15_000, 'the site class at the centre');
      // A node joining the site later: the bridge kept the central gallery retained on the site broker.
      c = await startNode({ name: 'c', url: site.url, dataDir: dir(), gallery: { topic: TOPIC } });
      await waitFor(() => labels(c!) === 'cat:1,dog:1', 15_000, 'the late node to get everything');
      b.core.imprinter.remove('cat');
      await waitFor(() => labels(a) === 'dog:1' && labels(c!) === 'dog:1', 15_000, 'the removal to cross the bridge');
      // Nothing but the gallery leaves the site.
      const local = await mqtt.connectAsync(site.url);
      await local.publishAsync('site-only/state', 'private', { qos: 1, retain: true });
      await local.publishAsync(`${TOPIC}/probe/marker`, 'crosses', { qos: 1 });
      await local.endAsync();
      await waitFor(() => seenCentral.includes(`${TOPIC}/probe/marker`), 10_000, 'the gallery marker at the centre');
      assert.ok(!seenCentral.includes('site-only/state'));
    } finally {
      await watcher.endAsync();
      await c?.stop();
      await b.stop();
      await a.stop();
    }
  });
});
