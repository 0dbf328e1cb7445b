/**
 * The gallery book on a real SQLite store, without MQTT or a detector: this node's shots get
 * ids and stamps, operations apply to its own shots (and persist), and compaction follows its
 * rule with the clock moved forward.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GalleryBook } from '../../src/fleet/galleryBook.js';
import { ClassStore } from '../../src/storage/classStore.js';
import { l2Normalize } from '../../src/recognition/vector.js';
import { tempDir, testLogger } from '../helpers/env.js';

const DAY = 86_400_000;
const MODEL = 'cd'.repeat(32);
const shot = (k: number) => ({ embedding: l2Normalize(Float32Array.from({ length: 16 }, (_, i) => Math.sin(i + k))), thumbnail: Buffer.from([k]), source: 'test' });

async function open(dir: string, clock: { now: number }) {
  const store = new ClassStore({ dataDir: dir, logger: testLogger() });
  await store.start();
  const book = new GalleryBook({ store, nodeId: 'n1', modelId: () => MODEL, logger: testLogger(), tombstoneDays: 30, now: () => clock.now });
  await book.start();
  return { store, book, stop: async () => (await book.stop(), await store.stop()) };
}

describe('gallery book', () => {
  it('stamps shots, applies operations to them, keeps them across a restart, and compacts by its rule', async () => {
    const dir = tempDir();
    const clock = { now: 1_800_000_000_000 };
    let { store, book, stop } = await open(dir.path, clock);
    try {
      store.addShots('cat', [shot(1), shot(2)], { model: MODEL });
      store.addShots('dog', [shot(3)], { model: MODEL });
      book.refresh();
      const own = book.own(MODEL);
      assert.deepEqual(own.map((c) => [c.label, c.records.length]), [['cat', 2], ['dog', 1]]);
      assert.ok(own.every((c) => c.records.every((r) => /^[0-9a-f]{16}@n1$/.test(r.gid!) && r.at!.endsWith('@n1'))));

      book.rename('cat', 'kitty');
      assert.deepEqual(store.listClasses().map((c) => `${c.label}:${c.shots}`), ['dog:1', 'kitty:2']);
      assert.equal(book.undo('kitty').shots, 1);
      book.remove('dog');
      assert.deepEqual(store.listClasses().map((c) => `${c.label}:${c.shots}`), ['kitty:1']);
      assert.deepEqual(book.ownOps().map((op) => op.kind), ['rename', 'drop', 'remove']);

      await stop();
      ({ store, book, stop } = await open(dir.path, clock));
      assert.deepEqual(book.ownOps().map((op) => op.kind), ['rename', 'drop', 'remove']);
      assert.deepEqual([...book.classes(MODEL).keys()], ['kitty']);

      // Within tombstone_days everything is kept; past it, what applies to nothing held goes.
      clock.now += 29 * DAY;
      assert.equal(book.compact(), 0);
      clock.now += 2 * DAY;
      assert.equal(book.compact(), 3);
      assert.deepEqual(book.ownOps(), []);
      assert.deepEqual([...book.classes(MODEL).keys()], ['kitty']);
      // A stamp after the compaction is still after every earlier one.
      store.addShots('owl', [shot(4)], { model: MODEL });
      book.refresh();
      const owl = book.own(MODEL).find((c) => c.label === 'owl')!;
      assert.ok(owl.records[0]!.at! > book.own(MODEL).find((c) => c.label === 'kitty')!.records[0]!.labelAt!);
    } finally {
      await stop();
      dir.cleanup();
    }
  });
});
