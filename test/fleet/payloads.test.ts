/**
 * The gallery's wire format (src/fleet/payloads.ts): what a node publishes parses back to the
 * same records and vectors; every kind of bad message is refused with its reason and a
 * message naming the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStamp } from '../../src/fleet/hlc.js';
import { contributionPayload, GalleryParser, GalleryReject, opsPayload, type OwnRecord, type RejectReason } from '../../src/fleet/payloads.js';
import { l2Normalize } from '../../src/recognition/vector.js';
import type { GalleryTopic } from '../../src/mqtt/topics.js';
import { galleryClassTopic, parseGalleryTopic } from '../../src/mqtt/topics.js';

const NOW = 1_800_000_000_000;
const MODEL = 'ab'.repeat(32);
const at = (counter: number, node = 'a') => formatStamp({ wall: NOW, counter }, node);
const parser = new GalleryParser({ maxBytes: 200_000, now: () => NOW });
const classTopic: GalleryTopic = { node: 'a', kind: 'class', model: MODEL.slice(0, 16), label: 'cat' };

function record(i: number, node = 'a', kind: 'shot' | 'negative' = 'shot'): OwnRecord {
  return {
    id: `${i.toString(16).padStart(16, '0')}@${node}`,
    kind,
    at: at(i + 1, node),
    labelAt: at(i + 1, node),
    embedding: l2Normalize(Float32Array.from({ length: 64 }, (_, j) => Math.cos(j * (i + 2)))),
    thumbnail: Buffer.from([0xff, 0xd8, i, 0xff, 0xd9]),
  };
}

function payload(over: Partial<Parameters<typeof contributionPayload>[0]> = {}): Record<string, unknown> {
  return contributionPayload({
    node: 'a',
    label: 'cat',
    model: MODEL,
    version: at(50),
    settings: { background: false, threshold: 0.5, at: at(40, 'b'), labelAt: at(40, 'b') },
    shots: [record(1), record(2)],
    negatives: [record(3, 'a', 'negative')],
    thumbnails: true,
    ...over,
  }) as unknown as Record<string, unknown>;
}

function refused(topic: GalleryTopic, body: unknown): { reason: RejectReason; message: string } {
  try {
    parser.parse(topic, Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
  } catch (err) {
    if (err instanceof GalleryReject) return { reason: err.reason, message: err.message };
    throw err;
  }
  assert.fail('the message was accepted');
}

describe('gallery topics', () => {
  it('name the node, the kind, the model and the label (any label is one topic level)', () => {
    const topic = galleryClassTopic('fleet/g', 'a', MODEL, 'chat noir/2');
    assert.equal(topic, `fleet/g/a/class/${MODEL.slice(0, 16)}/chat%20noir%2F2`);
    assert.deepEqual(parseGalleryTopic(topic, 'fleet/g'), { node: 'a', kind: 'class', model: MODEL.slice(0, 16), label: 'chat noir/2' });
    assert.deepEqual(parseGalleryTopic('fleet/g/a/ops', 'fleet/g'), { node: 'a', kind: 'ops' });
    assert.equal(parseGalleryTopic('fleet/g/a/what', 'fleet/g'), null);
    assert.equal(parseGalleryTopic('fleet/g/a/class/x/%E0%A4%A', 'fleet/g'), null);
  });
});

describe('gallery messages', () => {
  it('a contribution parses back to its records, vectors, thumbnails and settings', () => {
    const parsed = parser.parse(classTopic, Buffer.from(JSON.stringify(payload())));
    assert.ok(parsed && parsed.kind === 'class');
    const { meta, vectors, dim } = parsed.contribution;
    assert.equal(dim, 64);
    assert.deepEqual(meta.records.map((r) => [r.id, r.kind]), [[record(1).id, 'shot'], [record(2).id, 'shot'], [record(3).id, 'negative']]);
    assert.deepEqual([...vectors.get(record(2).id)!.embedding], [...record(2).embedding]);
    assert.deepEqual(vectors.get(record(1).id)!.thumbnail, record(1).thumbnail);
    assert.deepEqual(meta.settings, { background: false, threshold: 0.5, at: at(40, 'b'), labelAt: at(40, 'b') });
  });

  it('without thumbnails, none travel', () => {
    const body = payload({ thumbnails: false }) as { shots: Array<Record<string, unknown>> };
    assert.ok(body.shots.every((s) => !('thumbnail' in s)));
  });

  it('an empty payload is a cleared topic, not a message', () => {
    assert.equal(parser.parse(classTopic, Buffer.alloc(0)), null);
  });

  it('refuses garbled messages, naming the field', () => {
    assert.equal(refused(classTopic, '{nope').reason, 'garbled');
    assert.match(refused(classTopic, { ...payload(), extra: 1 }).message, /extra: unknown field/);
    assert.match(refused(classTopic, { ...payload(), count: 3 }).message, /count: 3, but 2 shots/);
    assert.match(refused(classTopic, { ...payload(), label: 'unknown' }).message, /label: "unknown" is reserved/);
    assert.match(refused({ ...classTopic, label: 'dog' }, payload()).message, /differ from the topic/);
    const bad = payload() as { shots: Array<{ embedding: string }>; sum: string };
    const scaled = Buffer.from(bad.shots[0]!.embedding, 'base64');
    scaled.writeFloatLE(scaled.readFloatLE(0) + 0.5, 0);
    assert.match(refused(classTopic, { ...bad, shots: [{ ...bad.shots[0], embedding: scaled.toString('base64') }, bad.shots[1]] }).message, /shots\[0\]\.embedding: not a unit vector/);
    assert.match(refused(classTopic, { ...bad, sum: bad.shots[0]!.embedding }).message, /sum: differs/);
    assert.equal(refused({ node: 'a', kind: 'ops' }, { v: 1, node: 'a', at: at(1), ops: [{ kind: 'rename', label: 'cat', at: at(2) }] }).reason, 'garbled');
  });

  it('refuses forged messages: another node in the payload, or stamps and ids made by another node', () => {
    assert.match(refused(classTopic, payload({ node: 'mallory' })).message, /node: "mallory" in the subtree of "a"/);
    assert.equal(refused(classTopic, payload({ version: at(50, 'mallory') })).reason, 'forged');
    assert.equal(refused(classTopic, payload({ shots: [record(1), record(2, 'mallory')] })).reason, 'forged');
    const ops = opsPayload('a', at(9), [{ kind: 'remove', label: 'cat', at: at(8, 'b') }]);
    assert.match(refused({ node: 'a', kind: 'ops' }, ops).message, /ops\[0\]\.at: stamped by "b"/);
  });

  it('refuses oversized messages and stamps far ahead of the clock', () => {
    assert.equal(refused(classTopic, Buffer.alloc(200_001, 0x20)).reason, 'oversized');
    const ahead = formatStamp({ wall: NOW + 11 * 60_000, counter: 0 }, 'a');
    assert.equal(refused(classTopic, payload({ version: ahead })).reason, 'clock');
    // Settings adopted from another node keep that node's stamp: not forged.
    assert.ok(parser.parse(classTopic, Buffer.from(JSON.stringify(payload()))));
  });

  it('operations parse back', () => {
    const ops = opsPayload('a', at(9), [
      { kind: 'remove', label: 'cat', at: at(1) },
      { kind: 'rename', label: 'dog', to: 'puppy', at: at(2) },
      { kind: 'drop', id: record(1).id, label: 'owl', at: at(3) },
    ]);
    const parsed = parser.parse({ node: 'a', kind: 'ops' }, Buffer.from(JSON.stringify(ops)));
    assert.ok(parsed && parsed.kind === 'ops');
    assert.deepEqual(parsed.ops.map((o) => o.kind), ['remove', 'rename', 'drop']);
  });
});
