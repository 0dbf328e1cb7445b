/**
 * The fleet gallery with three real agent processes (A, B, C) and a real mosquitto with
 * persistence, each agent with its own base topic, all with gallery.sync on the same topic:
 * - enroll on A → B and C classify it correctly within 2 s;
 * - remove on B → gone everywhere;
 * - C killed (kill -9), two enrollments on A and a rename on B, C restarted → C converges;
 * - the same label enrolled concurrently on A and B → one class with both contributions everywhere;
 * - the broker stopped, classes changed from the CLI on A and C meanwhile, the broker restarted
 *   with its persistence → all converge;
 * - a forged message → ignored and counted (state and /metrics), classes unchanged.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { AgentProbe, type ClassEntry } from '../helpers/agentProbe.js';
import { runCli } from '../helpers/cli.js';
import { image, MODEL_DIR, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

const GALLERY = 'fleet-test-gallery';
const NAMES = ['a', 'b', 'c'] as const;
type Name = (typeof NAMES)[number];

const b64 = (name: string): string => readFileSync(image(name)).toString('base64');

let broker: Mosquitto;
const dirs = new Map<Name, { path: string; cleanup: () => void }>();
const agents = new Map<Name, AgentProcess>();
const probes = new Map<Name, AgentProbe>();

const base = (name: Name): string => `fleet-${name}`;

function config(name: Name): Record<string, unknown> {
  return {
    node_id: name,
    mqtt: { url: broker.url, base_topic: base(name), discovery: { enabled: false } },
    detector: { type: 'cpu' },
    gallery: { sync: true, topic: GALLERY },
    log: { level: 'info', format: 'json' },
  };
}

async function startAgent(name: Name): Promise<void> {
  agents.set(name, await startAgentProcess({ dir: dirs.get(name)!.path, config: config(name) }));
}

const probe = (name: Name): AgentProbe => probes.get(name)!;
const agent = (name: Name): AgentProcess => agents.get(name)!;

/** A class list as labels with their shot counts (what must agree across nodes). */
function summary(name: Name): string {
  return probe(name)
    .classes()
    .map((c: ClassEntry) => `${c.label}:${c.shots}`)
    .join(',');
}

async function enroll(name: Name, label: string, images: string[]): Promise<void> {
  const answer = await probe(name).request('class/enroll', { label, images: images.map(b64) });
  assert.equal(answer.status, 'ok', JSON.stringify(answer));
}

async function classify(name: Name, picture: string): Promise<string> {
  const answer = await probe(name).request('classify', { image: b64(picture) });
  assert.equal(answer.status, 'ok', JSON.stringify(answer));
  return (answer.data as { label: string }).label;
}

async function converged(expected: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(() => NAMES.every((n) => summary(n) === expected), timeoutMs, `every node to list ${expected} (now ${NAMES.map((n) => `${n}: ${summary(n)}`).join('; ')})`);
}

function galleryState(name: Name): { peers: string[]; rejected: Record<string, number>; classes_from_peers: number } {
  return probe(name).state()!.gallery as { peers: string[]; rejected: Record<string, number>; classes_from_peers: number };
}

before(async () => {
  broker = await startMosquitto({ persistence: true });
  for (const name of NAMES) dirs.set(name, tempDir(`edge-imprint-fleet-${name}-`));
  for (const name of NAMES) await startAgent(name);
  for (const name of NAMES) probes.set(name, await AgentProbe.connect(broker.url, base(name)));
});

after(async () => {
  for (const p of probes.values()) await p.close();
  for (const a of agents.values()) await a.stop();
  await broker.cleanup();
  for (const d of dirs.values()) d.cleanup();
});

void describe('fleet gallery: three agents, one broker', () => {
  void it('enroll on A: B and C classify it correctly within 2 s', async () => {
    await enroll('a', 'dog', ['dog_train_0.jpg']);
    await converged('dog:1');
    await enroll('a', 'cat', ['cat_train_0.jpg']);
    const enrolledAt = Date.now();
    // Bounded wait: the class must be on B and C within 2 s of A's answer.
    await waitFor(() => summary('b').includes('cat:1') && summary('c').includes('cat:1'), 2000, 'B and C to know cat within 2 s');
    const after = Date.now() - enrolledAt;
    assert.equal(await classify('b', 'cat_test_0.jpg'), 'cat');
    assert.equal(await classify('c', 'cat_test_0.jpg'), 'cat');
    assert.equal(await classify('c', 'dog_test_0.jpg'), 'dog');
    assert.ok(after <= 2000);
    await waitFor(() => galleryState('b')?.peers.join() === 'a,c', 10_000, 'B to have seen A and C');
    assert.equal(galleryState('c').classes_from_peers, 2);
  });

  void it('remove on B: gone everywhere', async () => {
    const answer = await probe('b').request('class/remove', { label: 'dog' });
    assert.equal(answer.status, 'ok', JSON.stringify(answer));
    await converged('cat:1');
    assert.notEqual(await classify('a', 'dog_test_0.jpg'), 'dog');
  });

  void it('C killed, two enrollments on A and a rename on B, C restarted: C converges', async () => {
    await agent('c').kill();
    await enroll('a', 'hotdog', ['hotdog_train_0.jpg', 'hotdog_train_1.jpg']);
    await enroll('a', 'owl', ['owl.jpg']);
    const renamed = await probe('b').request('class/rename', { label: 'cat', to: 'kitty' });
    assert.equal(renamed.status, 'ok', JSON.stringify(renamed));
    const expected = 'hotdog:2,kitty:1,owl:1';
    await waitFor(() => summary('a') === expected && summary('b') === expected, 20_000, `A and B to list ${expected}`);
    assert.equal(summary('c'), 'cat:1', 'C, killed, still shows what it had');
    await startAgent('c');
    await converged(expected);
    assert.equal(await classify('c', 'hotdog_test_0.jpg'), 'hotdog');
    assert.equal(await classify('c', 'cat_test_0.jpg'), 'kitty');
  });

  void it('the same label enrolled concurrently on A and B: one class with both contributions everywhere', async () => {
    await Promise.all([enroll('a', 'fox', ['bird.jpg']), enroll('b', 'fox', ['parrot.jpg'])]);
    await converged('fox:2,hotdog:2,kitty:1,owl:1');
    const origins = new Set(NAMES.map((n) => probe(n).classes().find((c) => c.label === 'fox') as ClassEntry & { origin: string }).map((c) => c.origin));
    assert.equal(origins.size, 1, 'every node names the same origin');
  });

  void it('broker stopped, changes from the CLI on A and C, broker restarted with persistence: all converge', async () => {
    await broker.stop();
    const cli = (name: Name, args: string[]) => {
      const r = runCli([...args, '--config', join(dirs.get(name)!.path, 'config.yaml'), '--model-dir', MODEL_DIR]);
      assert.equal(r.code, 0, r.stderr);
    };
    cli('a', ['enroll', 'sunflower', image('sunflower.jpg')]);
    cli('c', ['classes', 'remove', 'owl']);
    // The agents see their store changed by the CLI (within 2 s), with no broker to tell.
    await waitFor(() => agent('a').log().includes('classes changed by another process'), 10_000, 'A to notice the CLI');
    await waitFor(() => agent('c').log().includes('classes changed by another process'), 10_000, 'C to notice the CLI');
    await broker.restart();
    await converged('fox:2,hotdog:2,kitty:1,sunflower:1', 60_000);
  });

  void it('a forged message is ignored and counted; classes unchanged', async () => {
    const client = await mqtt.connectAsync(broker.url);
    try {
      const before = NAMES.map(summary);
      const now = Date.now();
      const stamp = (node: string) => `${String(now).padStart(15, '0')}.000000@${node}`;
      // In B's subtree, a removal of "fox" signed by someone else.
      const forged = { v: 1, node: 'b', at: stamp('b'), ops: [{ kind: 'remove', label: 'fox', at: stamp('mallory') }] };
      await client.publishAsync(`${GALLERY}/b/ops`, JSON.stringify(forged), { qos: 1 });
      await waitFor(() => galleryState('a')?.rejected.forged === 1 && galleryState('c')?.rejected.forged === 1, 10_000, 'A and C to count it');
      // B sees a live message in its own subtree that it did not send: forged too, and it puts its own back.
      await waitFor(() => galleryState('b')?.rejected.forged === 1, 10_000, 'B to count it');
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(NAMES.map(summary), before);
      const metrics = await (await fetch(`http://127.0.0.1:${agent('a').httpPort}/metrics`)).text();
      assert.match(metrics, /edge_imprint_gallery_rejected_total\{reason="forged"\} 1/);
      assert.match(agent('a').log(), /message ignored \(forged\)/);
    } finally {
      await client.endAsync();
    }
  });
});
