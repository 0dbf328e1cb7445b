/**
 * A peer's thumbnail goes through the image checks before it is decoded (issue 18, item 6):
 * a forged contribution under another model whose thumbnail is a PNG decompression bomb is
 * refused and counted by a real agent process, which stays up and still takes in a sound one.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import sharp from 'sharp';
import { formatStamp } from '../../src/fleet/hlc.js';
import { contributionPayload, type OwnRecord } from '../../src/fleet/payloads.js';
import { galleryClassTopic } from '../../src/mqtt/topics.js';
import { l2Normalize } from '../../src/recognition/vector.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { AgentProbe } from '../helpers/agentProbe.js';
import { image, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { pngBomb } from '../helpers/pngBomb.js';

const GALLERY = 'bomb-test-gallery';
const BASE = 'bomb-node';
const OTHER_MODEL = 'e'.repeat(64);

let broker: Mosquitto;
let dir: { path: string; cleanup: () => void };
let agent: AgentProcess;
let probe: AgentProbe;

before(async () => {
  broker = await startMosquitto();
  dir = tempDir('edge-imprint-bomb-');
  agent = await startAgentProcess({
    dir: dir.path,
    config: {
      node_id: 'target',
      mqtt: { url: broker.url, base_topic: BASE, discovery: { enabled: false } },
      detector: { type: 'cpu' },
      gallery: { sync: true, topic: GALLERY },
      log: { level: 'info', format: 'json' },
    },
  });
  probe = await AgentProbe.connect(broker.url, BASE);
});

after(async () => {
  await probe?.close();
  await agent?.stop();
  await broker?.cleanup();
  dir?.cleanup();
});

/** A contribution of one shot from `node`, embedded by another model, carrying `thumbnail`. */
function contribution(node: string, label: string, thumbnail: Buffer): string {
  const wall = Date.now();
  const at = formatStamp({ wall, counter: 1 }, node);
  const embedding = l2Normalize(Float32Array.from({ length: 1024 }, (_x, j) => Math.sin(j + label.length)));
  const shot: OwnRecord = { id: `${'0'.repeat(15)}1@${node}`, kind: 'shot', at, labelAt: at, embedding, thumbnail };
  const settingsAt = formatStamp({ wall, counter: 0 }, node);
  const payload = contributionPayload({
    node,
    label,
    model: OTHER_MODEL,
    version: formatStamp({ wall, counter: 99 }, node),
    settings: { background: false, threshold: null, at: settingsAt, labelAt: settingsAt },
    shots: [shot],
    negatives: [],
    thumbnails: true,
  });
  return JSON.stringify(payload);
}

const rejected = (): Record<string, number> => ((probe.state()?.gallery ?? {}) as { rejected?: Record<string, number> }).rejected ?? {};

void describe('gallery thumbnails from peers', () => {
  void it('a PNG bomb thumbnail under another model is refused and counted; the agent stays up', async () => {
    const client = await mqtt.connectAsync(broker.url);
    try {
      // 49 megapixels (over limits.max_megapixels: 40) in a few tens of kB.
      const bomb = await pngBomb(7000, 7000);
      await client.publishAsync(galleryClassTopic(GALLERY, 'mallory', OTHER_MODEL, 'bomb'), contribution('mallory', 'bomb', bomb), { qos: 1 });
      await waitFor(() => rejected().oversized === 1, 20_000, `the bomb to be counted (${JSON.stringify(rejected())})`);
      assert.match(agent.log(), /message ignored \(oversized\): a thumbnail is refused: thumbnail: 7000x7000 is 49\.0 megapixels/);
      const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
      assert.match(metrics, /edge_imprint_gallery_rejected_total\{reason="oversized"\} 1/);

      // Up and still taking in peers: a sound thumbnail under another model is re-embedded.
      const sound = await sharp(readFileSync(image('cat_train_0.jpg'))).resize(224, 224, { fit: 'fill' }).jpeg().toBuffer();
      await client.publishAsync(galleryClassTopic(GALLERY, 'ghost', OTHER_MODEL, 'ghostcat'), contribution('ghost', 'ghostcat', sound), { qos: 1 });
      await waitFor(() => probe.classes().some((c) => c.label === 'ghostcat'), 20_000, 'the sound contribution to be taken in');
      assert.ok(!probe.classes().some((c) => c.label === 'bomb'), 'the bomb class is not taken in');
      assert.equal(agent.proc.exitCode, null);
      assert.equal((await fetch(`http://127.0.0.1:${agent.httpPort}/health`)).status, 200);
    } finally {
      await client.endAsync();
    }
  });
});
