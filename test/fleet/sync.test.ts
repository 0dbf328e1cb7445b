/**
 * The fleet gallery between in-process nodes (real inference core, SQLite, MQTT connection)
 * through a real mosquitto: classes, settings, undos, renames and removals travel; a restarted
 * node works from its store and catches up; shots of another model are re-embedded from their
 * thumbnails or ignored; garbled, oversized and forged messages are ignored and counted.
 * (Three agent processes: test/reliability/fleet.test.ts.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import sharp from 'sharp';
import { formatStamp } from '../../src/fleet/hlc.js';
import { contributionPayload, type OwnRecord } from '../../src/fleet/payloads.js';
import { l2Normalize } from '../../src/recognition/vector.js';
import { imageLimitsOf, prepareImage } from '../../src/media/image.js';
import { galleryClassTopic, galleryManifestTopic, galleryOpsTopic } from '../../src/mqtt/topics.js';
import { image, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { recognizes, startNode, type FleetNode } from './node.js';

const read = (name: string): Buffer => readFileSync(image(name));
const WAIT = 15_000;

let broker: Mosquitto;
const dirs: Array<{ path: string; cleanup: () => void }> = [];
let topicCount = 0;

before(async () => {
  broker = await startMosquitto();
});

after(async () => {
  await broker.cleanup();
  for (const d of dirs) d.cleanup();
});

function newDir(): string {
  const d = tempDir('edge-imprint-fleet-');
  dirs.push(d);
  return d.path;
}

/** Nodes of one gallery (a topic of their own, so tests do not see each other). */
async function fleet(names: string[], gallery: Record<string, unknown> = {}): Promise<{ topic: string; nodes: FleetNode[]; stop: () => Promise<void> }> {
  const topic = `gallery-test-${++topicCount}`;
  const nodes: FleetNode[] = [];
  for (const name of names) nodes.push(await startNode({ name, url: broker.url, dataDir: newDir(), gallery: { topic, ...gallery } }));
  return { topic, nodes, stop: async () => void (await Promise.all(nodes.map((n) => n.stop()))) };
}

const classes = (n: FleetNode) => n.core.imprinter.list();

const cls = (n: FleetNode, label: string) => classes(n).find((c) => c.label === label);
const localLabels = (n: FleetNode) => n.core.core.store.listClasses().map((c) => `${c.label}:${c.shots}`);

void describe('fleet gallery between nodes', () => {
  void it('shares classes, shots, settings, undo, rename and removal', async () => {
    const { nodes, stop } = await fleet(['a', 'b']);
    const [a, b] = nodes as [FleetNode, FleetNode];
    try {
      await a.core.imprinter.enrollImages('cat', [read('cat_train_0.jpg')], { source: 'test' });
      await a.core.imprinter.enrollImages('dog', [read('dog_train_0.jpg')], { source: 'test' });
      await waitFor(() => cls(b, 'cat') && cls(b, 'dog'), WAIT, 'b to know cat and dog');
      await recognizes(b, 'cat_test_0.jpg', 'cat');
      await recognizes(b, 'dog_test_0.jpg', 'dog');
      assert.deepEqual(localLabels(b), [], 'b keeps the shots of a as a\'s, not in its own classes');
      assert.equal(cls(b, 'cat')!.origin, 'a');

      // A correction on a (a frame its user said was not the cat) travels with the class.
      const { detector, config } = a.core;
      const frame = await detector.embed((await prepareImage(read('dog_test_0.jpg'), detector.inputSize, imageLimitsOf(config.limits))).rgb);
      a.core.core.events.addNegative({ label: 'cat', camera: 'door', zone: null, embedding: frame, residual: null, model: a.core.core.detector.modelId(), thumbnail: null, eventId: 'e1' });
      a.core.imprinter.notifyChanged();
      await waitFor(() => b.core.imprinter.recognizerData().classNegatives?.length === 1, WAIT, 'b to take a\'s negative');
      assert.deepEqual([...b.core.imprinter.recognizerData().classNegatives![0]!.embedding], [...frame]);
      assert.equal(b.core.imprinter.recognizerData().negatives.length, 0, 'it is no camera unit\'s negative on b');

      // b adds a shot to a's class: one class, both contributions, on both nodes.
      await b.core.imprinter.enrollImages('cat', [read('cat.jpg')], { source: 'test' });
      await waitFor(() => cls(a, 'cat')?.shots === 2, WAIT, 'a to count b\'s shot');
      assert.equal(cls(b, 'cat')!.shots, 2);

      // Settings travel: b sets a threshold on the class.
      b.core.imprinter.setClass('cat', { threshold: 0.55 });
      await waitFor(() => cls(a, 'cat')?.threshold === 0.55, WAIT, 'a to take b\'s threshold');
      // ... and its own class row follows (the threshold in effect fleet-wide).
      await waitFor(() => a.core.core.store.listClasses().find((c) => c.label === 'cat')!.threshold_override === 0.55, WAIT, 'a\'s row to follow');

      // Undo on a removes the newest shot of the fleet: b's.
      assert.deepEqual(a.core.imprinter.undo('cat'), { label: 'cat', shots: 1 });
      await waitFor(() => cls(b, 'cat')?.shots === 1, WAIT, 'b to lose its own shot');
      assert.deepEqual(localLabels(b), []);

      // A rename on b moves a's shots on a.
      b.core.imprinter.rename('dog', 'puppy');
      await waitFor(() => localLabels(a).includes('puppy:1') && !localLabels(a).some((l) => l.startsWith('dog')), WAIT, 'a to move its dog shots');
      await waitFor(() => cls(b, 'puppy') && !cls(b, 'dog'), WAIT, 'b to list puppy');
      await recognizes(a, 'dog_test_0.jpg', 'puppy');

      // A removal on b removes a's shots on a.
      b.core.imprinter.remove('cat');
      await waitFor(() => !localLabels(a).some((l) => l.startsWith('cat')), WAIT, 'a to delete its cat shots');
      assert.equal(cls(a, 'cat'), undefined);
      assert.equal(cls(b, 'cat'), undefined);
      assert.deepEqual(classes(a).map((c) => c.label), ['puppy']);
      assert.deepEqual(classes(b).map((c) => c.label), ['puppy']);

      assert.deepEqual(a.sync.status().peers, ['b']);
      assert.equal(b.sync.status().classes_from_peers, 1);
      assert.ok(b.sync.status().last_sync);
    } finally {
      await stop();
    }
  });

  void it('a restarted node works from its store, then catches up with what changed while it was away', async () => {
    const { topic, nodes } = await fleet(['a', 'b']);
    const [a, b] = nodes as [FleetNode, FleetNode];
    const bDir = b.core.config.data_dir;
    let b2: FleetNode | null = null;
    try {
      await a.core.imprinter.enrollImages('hotdog', [read('hotdog_train_0.jpg'), read('hotdog_train_1.jpg')], { source: 'test' });
      await waitFor(() => cls(b, 'hotdog')?.shots === 2, WAIT, 'b to know hotdog');
      await b.stop();
      await a.core.imprinter.enrollImages('owl', [read('owl.jpg')], { source: 'test' });
      a.core.imprinter.remove('hotdog');
      // b back: before hearing anything it recognises what it stored.
      b2 = await startNode({ name: 'b', url: 'mqtt://127.0.0.1:1', dataDir: bDir, gallery: { topic } });
      assert.equal(cls(b2, 'hotdog')?.shots, 2);
      await recognizes(b2, 'hotdog_test_0.jpg', 'hotdog');
      await b2.stop();
      b2 = await startNode({ name: 'b', url: broker.url, dataDir: bDir, gallery: { topic } });
      await waitFor(() => cls(b2!, 'owl') && !cls(b2!, 'hotdog'), WAIT, 'b to catch up');
    } finally {
      await b2?.stop();
      await a.stop();
    }
  });

  void it('re-embeds shots of another model from their thumbnails, and ignores them (one log line) without', async () => {
    const { topic, nodes, stop } = await fleet(['a']);
    const [a] = nodes as [FleetNode];
    const client = await mqtt.connectAsync(broker.url);
    try {
      const other = 'f'.repeat(64);
      const thumbnail = await sharp(read('cat_train_0.jpg')).resize(224, 224, { fit: 'fill' }).jpeg().toBuffer();
      const withThumb = craft({ node: 'ghost', label: 'ghostcat', model: other, shots: 1, thumbnail });
      await client.publishAsync(galleryClassTopic(topic, 'ghost', other, 'ghostcat'), withThumb, { retain: true, qos: 1 });
      await waitFor(() => cls(a, 'ghostcat'), WAIT, 'a to re-embed the ghost\'s shot');
      await recognizes(a, 'cat_test_0.jpg', 'ghostcat');

      const noThumb = (label: string) => craft({ node: 'ghost2', label, model: other, shots: 1, thumbnail: null });
      await client.publishAsync(galleryClassTopic(topic, 'ghost2', other, 'shadow'), noThumb('shadow'), { qos: 1 });
      await client.publishAsync(galleryClassTopic(topic, 'ghost2', other, 'shade'), noThumb('shade'), { qos: 1 });
      await waitFor(() => a.logs.some((l) => l.includes('without thumbnails')), WAIT, 'the log line');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(a.logs.filter((l) => l.includes('without thumbnails')).length, 1);
      assert.equal(cls(a, 'shadow'), undefined);
      assert.equal(cls(a, 'shade'), undefined);
    } finally {
      await client.publishAsync(galleryClassTopic(topic, 'ghost', 'f'.repeat(64), 'ghostcat'), '', { retain: true, qos: 1 });
      await client.endAsync();
      await stop();
    }
  });

  void it('ignores garbled, oversized and forged messages, counts them, and keeps its classes', async () => {
    const { topic, nodes, stop } = await fleet(['a', 'b'], { max_message_bytes: 256 * 1024 });
    const [a, b] = nodes as [FleetNode, FleetNode];
    const client = await mqtt.connectAsync(broker.url);
    try {
      await b.core.imprinter.enrollImages('cat', [read('cat_train_0.jpg')], { source: 'test' });
      await waitFor(() => cls(a, 'cat'), WAIT, 'a to know cat');
      const model = a.core.core.detector.modelId();
      const send = (node: string, label: string, payload: string | Buffer) => client.publishAsync(galleryClassTopic(topic, node, model, label), payload, { qos: 1 });
      await send('b', 'junk', 'not json {');
      await send('b', 'junk', JSON.stringify({ v: 1, node: 'b' }));
      await send('b', 'fake', craft({ node: 'mallory', label: 'fake', model, shots: 1 })); // payload node ≠ topic node
      await send('b', 'fake', craft({ node: 'b', label: 'fake', model, shots: 1, idNode: 'mallory' })); // a shot minted by another node
      await send('b', 'big', Buffer.alloc(300 * 1024, 'x'));
      await send('b', 'skew', craft({ node: 'b', label: 'skew', model, shots: 1, wall: Date.now() + 3_600_000 }));
      await send('b', 'norm', craft({ node: 'b', label: 'norm', model, shots: 1, scale: 2 }));
      await client.publishAsync(galleryOpsTopic(topic, 'b'), JSON.stringify({ v: 1, node: 'b', at: formatStamp({ wall: Date.now(), counter: 0 }, 'b'), ops: [{ kind: 'remove', label: 'cat', at: formatStamp({ wall: Date.now(), counter: 1 }, 'mallory') }] }), { qos: 1 });
      // Someone writing a's own subtree: counted, and a puts its own manifest back.
      const manifestTopic = galleryManifestTopic(topic, 'a');
      await client.publishAsync(manifestTopic, JSON.stringify({ v: 1, node: 'a', at: formatStamp({ wall: Date.now(), counter: 0 }, 'a'), thumbnails: true, classes: [] }), { qos: 1, retain: true });
      await waitFor(() => sum(a.sync.status().rejected) === 9, WAIT, `9 rejections (${JSON.stringify(a.sync.status().rejected)})`);
      assert.deepEqual(a.sync.status().rejected, { garbled: 3, oversized: 1, forged: 4, clock: 1 });
      assert.deepEqual(classes(a).map((c) => c.label), ['cat']);
      await recognizes(a, 'cat_test_0.jpg', 'cat');
      // a's own manifest is back on the broker.
      const restored = await retainedOn(manifestTopic);
      assert.equal((JSON.parse(restored) as { thumbnails: boolean }).thumbnails, false, restored);
      assert.ok(a.logs.some((l) => l.includes('message ignored (forged)')));
    } finally {
      await client.endAsync();
      await stop();
    }
  });
});

function sum(r: Record<string, number>): number {
  return Object.values(r).reduce((x, y) => x + y, 0);
}

async function retainedOn(topic: string): Promise<string> {
  const c = await mqtt.connectAsync(broker.url);
  try {
    const got = new Promise<string>((resolve) => c.on('message', (_t, p) => resolve(p.toString())));
    await c.subscribeAsync(topic, { qos: 1 });
    return await got;
  } finally {
    await c.endAsync();
  }
}

/** A contribution as a peer would send it, with unit vectors (or not, `scale`) and optional thumbnails. */
function craft(o: { node: string; label: string; model: string; shots: number; thumbnail?: Buffer | null; idNode?: string; wall?: number; scale?: number }): string {
  const wall = o.wall ?? Date.now();
  const records: OwnRecord[] = Array.from({ length: o.shots }, (_, i) => {
    const v = l2Normalize(Float32Array.from({ length: 1024 }, (_x, j) => Math.sin(j * (i + 1) + o.label.length)));
    if (o.scale) for (let j = 0; j < v.length; j++) v[j] = v[j]! * o.scale;
    const at = formatStamp({ wall, counter: i + 1 }, o.node);
    return { id: `${'0'.repeat(15)}${i}@${o.idNode ?? o.node}`, kind: 'shot', at, labelAt: at, embedding: v, thumbnail: o.thumbnail ?? null };
  });
  const at = formatStamp({ wall, counter: 0 }, o.node);
  return JSON.stringify(contributionPayload({ node: o.node, label: o.label, model: o.model, version: formatStamp({ wall, counter: 99 }, o.node), settings: { background: false, threshold: null, at, labelAt: at }, shots: records, negatives: [], thumbnails: true }));
}
