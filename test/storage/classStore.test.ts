import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AppError } from '../../src/errors.js';
import { ClassStore, STORE_FILE } from '../../src/storage/classStore.js';
import { latestVersion, migrate, MIGRATIONS, type Migration } from '../../src/storage/migrations.js';
import type { NewShot } from '../../src/recognition/types.js';
import { tempDir, testLogger } from '../helpers/env.js';
import { modelsOf, weightsOf } from '../helpers/storeWeights.js';

const MODEL_A = 'a'.repeat(64);
const MODEL_B = 'b'.repeat(64);
const DIM = 16;

let seed = 1;
/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function rand(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

function unit(dim = DIM): Float32Array {
  const v = new Float32Array(dim);
  let n = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = rand() - 0.5;
    n += v[i]! * v[i]!;
  }
  for (let i = 0; i < dim; i++) v[i]! /= Math.sqrt(n);
  return v;
}

function shot(source = 'test', dim = DIM): NewShot {
  return { embedding: unit(dim), thumbnail: Buffer.from([0xff, 0xd8, Math.floor(rand() * 256), 0xff, 0xd9]), source };
}

function float64Sum(vectors: Float32Array[]): number[] {
  const acc = new Array<number>(vectors[0]?.length ?? 0).fill(0);
  for (const v of vectors) v.forEach((x, i) => (acc[i]! += x));
  return acc;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function assertAppError(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof AppError && err.code === code);
}

/** A clock that advances one second per call, so created/updated times are distinguishable. */
function steppingClock(): () => Date {
  let t = Date.parse('2026-01-01T00:00:00.000Z');
  return () => new Date((t += 1000));
}

void describe('ClassStore', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: ClassStore;
  const opened: ClassStore[] = [];

  async function open(dataDir = dir.path, clock?: () => Date): Promise<ClassStore> {
    const s = new ClassStore({ dataDir, logger: testLogger(), clock });
    opened.push(s);
    await s.start();
    return s;
  }

  beforeEach(async () => {
    dir = tempDir('edge-imprint-store-');
    store = await open(dir.path, steppingClock());
  });

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.stop();
    dir.cleanup();
  });

  void describe('lifecycle and migrations', () => {
    void it('creates the data dir and a WAL database at the latest schema version', async () => {
      const nested = join(dir.path, 'a', 'b');
      await open(nested);
      const raw = new Database(join(nested, STORE_FILE), { readonly: true });
      try {
        assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
        assert.equal(raw.pragma('user_version', { simple: true }), latestVersion());
        assert.ok(latestVersion() >= 1);
        const tables = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
        const gallery = ['clock', 'contributions', 'negatives_local', 'ops', 'peers', 'published', 'records', 'settings', 'shots_local'].map((t) => `gallery_${t}`);
        assert.deepEqual(tables.filter((t) => t !== 'sqlite_sequence'), ['classes', 'events', ...gallery, 'negatives', 'scenes', 'shots', 'zone_shots']);
      } finally {
        raw.close();
      }
    });

    void it('re-opens idempotently and keeps the data', async () => {
      store.addShots('cat', [shot()], { model: MODEL_A });
      await store.stop();
      await store.start();
      const again = await open();
      assert.deepEqual(again.listClasses().map((c) => [c.label, c.shots]), [['cat', 1]]);
      assert.deepEqual(store.listClasses().map((c) => [c.label, c.shots]), [['cat', 1]]);
    });

    void it('stop is safe before start, twice, and use after stop is refused', async () => {
      const fresh = new ClassStore({ dataDir: join(dir.path, 'never'), logger: testLogger() });
      await fresh.stop();
      await store.stop();
      await store.stop();
      assert.throws(() => store.listClasses(), /before start/);
    });

    void it('migrates an empty database and then applies nothing', () => {
      const db = new Database(':memory:');
      try {
        assert.deepEqual(migrate(db, testLogger()), { from: 0, to: latestVersion() });
        assert.deepEqual(migrate(db, testLogger()), { from: latestVersion(), to: latestVersion() });
      } finally {
        db.close();
      }
    });

    void it('runs a later migration forward only, and a failing one leaves nothing behind', () => {
      const db = new Database(':memory:');
      try {
        migrate(db, testLogger());
        const v = latestVersion();
        const failing: Migration = {
          version: v + 1,
          description: 'fails half way',
          up: (d) => {
            d.exec('CREATE TABLE half (x)');
            throw new Error('boom');
          },
        };
        assert.throws(() => migrate(db, testLogger(), [...MIGRATIONS, failing]), /boom/);
        assert.equal(db.pragma('user_version', { simple: true }), v);
        assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get(), 0);

        const good: Migration = { version: v + 1, description: 'adds a column', up: (d) => d.exec('ALTER TABLE shots ADD COLUMN note TEXT') };
        assert.deepEqual(migrate(db, testLogger(), [...MIGRATIONS, good]), { from: v, to: v + 1 });
        assert.throws(() => migrate(db, testLogger(), [good]), /out of sequence/);
      } finally {
        db.close();
      }
    });

    void it('upgrades a schema 3 database: classes keep their shots, counts and settings, and take new shots', async () => {
      const old = join(dir.path, 'old');
      mkdirSync(old);
      const raw = new Database(join(old, STORE_FILE));
      try {
        migrate(raw, testLogger(), MIGRATIONS.slice(0, 3));
        const now = new Date().toISOString();
        raw.prepare("INSERT INTO classes (id, label, background, sum, count, created_at, updated_at, threshold, origin) VALUES (1, 'cat', 1, ?, 1, ?, ?, 0.5, 'n1')").run(Buffer.from(shot().embedding.buffer), now, now);
        raw.prepare("INSERT INTO shots (class_id, embedding, model, thumbnail, source, created_at) VALUES (1, ?, ?, x'ffd8', 'old', ?)").run(Buffer.from(unit().buffer), MODEL_A, now);
      } finally {
        raw.close();
      }
      const s = await open(old);
      assert.deepEqual(s.listClasses().map((c) => [c.label, c.shots, c.background, c.threshold_override, c.origin]), [['cat', 1, true, 0.5, 'n1']]);
      assert.deepEqual(s.addShots('cat', [shot()], { model: MODEL_A }), { label: 'cat', shots: 2, added: 1 });
      assertAppError(() => s.addShots('cat', [shot('x', DIM * 2)], { model: MODEL_A }), 'bad_request');
      const check = new Database(join(old, STORE_FILE), { readonly: true });
      try {
        assert.equal(check.pragma('user_version', { simple: true }), latestVersion());
        assert.ok(!check.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('classes').includes('sum'));
      } finally {
        check.close();
      }
    });

    void it('refuses a database from a newer edge-imprint', async () => {
      await store.stop();
      const raw = new Database(join(dir.path, STORE_FILE));
      raw.pragma(`user_version = ${latestVersion() + 5}`);
      raw.close();
      const s = new ClassStore({ dataDir: dir.path, logger: testLogger() });
      await assert.rejects(s.start(), (err: unknown) => err instanceof AppError && err.code === 'storage' && /newer/.test(err.message));
    });

    void it('reports a file that is not a database, and a data dir that cannot be created', async () => {
      const bad = join(dir.path, 'bad');
      const s = new ClassStore({ dataDir: bad, logger: testLogger() });
      await s.start();
      await s.stop();
      writeFileSync(join(bad, STORE_FILE), 'this is not sqlite, just text '.repeat(200));
      await assert.rejects(s.start(), (err: unknown) => err instanceof AppError && err.code === 'storage');

      const file = join(dir.path, 'plain-file');
      writeFileSync(file, 'x');
      const under = new ClassStore({ dataDir: join(file, 'sub'), logger: testLogger() });
      await assert.rejects(under.start(), (err: unknown) => err instanceof AppError && err.code === 'storage' && /data_dir/.test(err.message));
    });
  });

  void describe('enrolling', () => {
    void it('creates a class, adds to it, and lists classes sorted by label', () => {
      assert.deepEqual(store.addShots('dog', [shot(), shot()], { model: MODEL_A }), { label: 'dog', shots: 2, added: 2 });
      assert.deepEqual(store.addShots('cat', [shot()], { model: MODEL_A }), { label: 'cat', shots: 1, added: 1 });
      assert.deepEqual(store.addShots('dog', [shot()], { model: MODEL_A }), { label: 'dog', shots: 3, added: 1 });
      const list = store.listClasses();
      assert.deepEqual(list.map((c) => [c.label, c.shots, c.background]), [['cat', 1, false], ['dog', 3, false]]);
      const dog = list[1]!;
      assert.match(dog.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(dog.updated_at > dog.created_at, 'updated_at moves on a later enrollment');
    });

    void it('keeps the background flag unless it is given explicitly', () => {
      store.addShots('wall', [shot()], { model: MODEL_A, background: true });
      store.addShots('wall', [shot()], { model: MODEL_A });
      store.addShots('cat', [shot()], { model: MODEL_A });
      assert.deepEqual(store.listClasses().map((c) => [c.label, c.background]), [['cat', false], ['wall', true]]);
      store.addShots('wall', [shot()], { model: MODEL_A, background: false });
      store.addShots('cat', [shot()], { model: MODEL_A, background: true });
      assert.deepEqual(weightsOf(store).map((c) => [c.label, c.background]), [['cat', true], ['wall', false]]);
    });

    void it('keeps sum and count equal to a recomputation from the shots', () => {
      for (let i = 0; i < 30; i++) store.addShots(`c${i % 3}`, [shot(), shot(), shot()], { model: MODEL_A });
      store.undoShot('c1');
      for (const w of weightsOf(store)) {
        const shots = store.shots(w.label);
        assert.equal(w.count, shots.length);
        assert.ok(maxAbsDiff(w.sum, float64Sum(shots.map((s) => s.embedding))) < 1e-5, w.label);
      }
    });

    void it('round-trips embeddings bit for bit, thumbnails, sources and models', () => {
      const a = shot('file:cat.jpg', 1024);
      const b: NewShot = { embedding: unit(1024), thumbnail: Buffer.alloc(0), source: 'mqtt' };
      store.addShots('cat', [a, b], { model: MODEL_A });
      store.addShots('dog', [shot('camera:door', 1024)], { model: MODEL_B });
      store.addShots('cat', [shot('camera:door', 1024)], { model: MODEL_B });
      const cat = store.shots('cat');
      assert.equal(cat.length, 3);
      assert.deepEqual(cat[0]!.embedding, a.embedding);
      assert.deepEqual(Buffer.from(cat[0]!.embedding.buffer), Buffer.from(a.embedding.buffer));
      assert.equal(cat[0]!.embedding.byteOffset, 0);
      assert.ok(cat[0]!.thumbnail.equals(a.thumbnail));
      assert.equal(cat[1]!.thumbnail.length, 0);
      assert.deepEqual(cat.map((s) => [s.label, s.source, s.model]), [
        ['cat', 'file:cat.jpg', MODEL_A],
        ['cat', 'mqtt', MODEL_A],
        ['cat', 'camera:door', MODEL_B],
      ]);
      assert.ok(cat[0]!.id < cat[1]!.id && cat[1]!.id < cat[2]!.id);
      assert.deepEqual(store.shots().map((s) => s.label), ['cat', 'cat', 'cat', 'dog']);
      assert.deepEqual(store.shots('nobody'), []);
      assert.deepEqual(modelsOf(store), [MODEL_A, MODEL_B]);
      store.removeClass('cat');
      assert.deepEqual(modelsOf(store), [MODEL_B]);
    });

    void it('refuses bad shots and stores nothing', () => {
      store.addShots('cat', [shot()], { model: MODEL_A });
      assertAppError(() => store.addShots('dog', [], { model: MODEL_A }), 'bad_request');
      assertAppError(() => store.addShots('dog', [shot(), shot('x', DIM + 1)], { model: MODEL_A }), 'bad_request');
      assertAppError(() => store.addShots('cat', [shot('x', DIM * 2)], { model: MODEL_A }), 'bad_request');
      const nan = shot();
      nan.embedding[3] = Number.NaN;
      assertAppError(() => store.addShots('dog', [shot(), nan], { model: MODEL_A }), 'bad_request');
      assertAppError(() => store.addShots('dog', [shot('\uD800')], { model: MODEL_A }), 'bad_request');
      assertAppError(() => store.addShots('a\uDC00', [shot()], { model: MODEL_A }), 'bad_label');
      assert.deepEqual(store.listClasses().map((c) => [c.label, c.shots]), [['cat', 1]]);
      assert.equal(store.shots().length, 1);
    });

    void it('rolls back the whole call when an insert fails half way', () => {
      store.addShots('cat', [shot()], { model: MODEL_A });
      const before = weightsOf(store);
      const raw = new Database(join(dir.path, STORE_FILE));
      try {
        // A trigger makes the third insert fail inside the store's own transaction.
        raw.exec("CREATE TRIGGER boom BEFORE INSERT ON shots WHEN NEW.source = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END");
        assertAppError(() => store.addShots('cat', [shot(), shot(), shot('boom')], { model: MODEL_A }), 'storage');
        assertAppError(() => store.addShots('dog', [shot(), shot(), shot('boom')], { model: MODEL_A, background: true }), 'storage');
        raw.exec('DROP TRIGGER boom');
      } finally {
        raw.close();
      }
      assert.deepEqual(weightsOf(store), before);
      assert.equal(store.shots().length, 1);
      assert.deepEqual(store.addShots('dog', [shot()], { model: MODEL_A }), { label: 'dog', shots: 1, added: 1 });
    });

    void it('stores any well-formed string as a label without harm', () => {
      const labels = ['', ' ', "'; DROP TABLE classes; --", 'a\u0000b', 'a', 'chat 🐈 noir', 'x'.repeat(10_000), '%_\\'];
      for (const l of labels) store.addShots(l, [shot()], { model: MODEL_A });
      const listed = store.listClasses().map((c) => c.label);
      assert.equal(listed.length, labels.length);
      assert.deepEqual(new Set(listed), new Set(labels));
      assert.ok(listed.includes('a\u0000b') && listed.includes('a'), 'NUL is kept, not truncated');
      store.renameClass('a\u0000b', 'a\u0000c');
      for (const l of labels.filter((x) => x !== 'a\u0000b')) store.removeClass(l);
      assert.deepEqual(store.listClasses().map((c) => c.label), ['a\u0000c']);
      assertAppError(() => store.removeClass('a\uD800'), 'bad_label');
    });
  });

  void describe('managing classes', () => {
    void it('removes a class with its shots; a missing class is not_found', () => {
      store.addShots('cat', [shot(), shot()], { model: MODEL_A });
      store.addShots('dog', [shot()], { model: MODEL_A });
      store.removeClass('cat');
      assert.deepEqual(store.listClasses().map((c) => c.label), ['dog']);
      assert.deepEqual(store.shots().map((s) => s.label), ['dog']);
      assertAppError(() => store.removeClass('cat'), 'not_found');
      assertAppError(() => store.removeClass('Dog'), 'not_found');
    });

    void it('renames a class with its shots; not_found and conflict', () => {
      store.addShots('cat', [shot(), shot()], { model: MODEL_A, background: true });
      store.addShots('dog', [shot()], { model: MODEL_A });
      const sum = weightsOf(store)[0]!.sum;
      store.renameClass('cat', 'kitten');
      assert.deepEqual(store.listClasses().map((c) => [c.label, c.shots, c.background]), [
        ['dog', 1, false],
        ['kitten', 2, true],
      ]);
      assert.deepEqual(weightsOf(store)[1]!.sum, sum);
      assert.deepEqual(store.shots('kitten').length, 2);
      assertAppError(() => store.renameClass('cat', 'tiger'), 'not_found');
      assertAppError(() => store.renameClass('kitten', 'dog'), 'conflict');
      store.renameClass('dog', 'dog');
      assert.deepEqual(store.listClasses().map((c) => c.label), ['dog', 'kitten']);
      store.addShots('cat', [shot()], { model: MODEL_A });
      assert.equal(store.listClasses().find((c) => c.label === 'cat')?.shots, 1, 'the old name is free again');
    });

    void it('undo removes the latest shot, recomputes the sum, and removes the class with its last shot', () => {
      const first = [shot('one'), shot('two')];
      store.addShots('cat', first, { model: MODEL_A });
      store.addShots('cat', [shot('three')], { model: MODEL_A });
      assert.deepEqual(store.undoShot('cat'), { label: 'cat', shots: 2 });
      assert.deepEqual(store.shots('cat').map((s) => s.source), ['one', 'two']);
      const w = weightsOf(store)[0]!;
      assert.equal(w.count, 2);
      // Recomputed from the remaining shots, not "sum minus shot": exactly the float64 sum rounded once.
      assert.deepEqual(w.sum, Float32Array.from(float64Sum(first.map((s) => s.embedding))));
      store.addShots('cat', [shot('four')], { model: MODEL_A });
      assert.deepEqual(store.shots('cat').map((s) => s.source), ['one', 'two', 'four']);
      assert.deepEqual(store.undoShot('cat'), { label: 'cat', shots: 2 });
      assert.deepEqual(store.undoShot('cat'), { label: 'cat', shots: 1 });
      assert.deepEqual(store.undoShot('cat'), { label: 'cat', shots: 0 });
      assert.deepEqual(store.listClasses(), []);
      assertAppError(() => store.undoShot('cat'), 'not_found');
    });
  });

  void describe('two connections', () => {
    void it('see each other commits, and dataVersion changes only for the other connection', async () => {
      const other = await open();
      const v0 = store.dataVersion();
      const o0 = other.dataVersion();
      store.addShots('cat', [shot()], { model: MODEL_A });
      assert.equal(store.dataVersion(), v0, 'own commit leaves own data_version alone');
      const o1 = other.dataVersion();
      assert.notEqual(o1, o0);
      assert.deepEqual(other.listClasses().map((c) => [c.label, c.shots]), [['cat', 1]]);

      other.renameClass('cat', 'kitten');
      other.addShots('kitten', [shot()], { model: MODEL_A });
      assert.notEqual(store.dataVersion(), v0);
      assert.deepEqual(store.listClasses().map((c) => [c.label, c.shots]), [['kitten', 2]]);
      const sum = weightsOf(store)[0]!.sum;
      assert.ok(maxAbsDiff(sum, float64Sum(other.shots('kitten').map((s) => s.embedding))) < 1e-6);
      const v2 = store.dataVersion();
      assert.equal(store.dataVersion(), v2, 'stable while nobody writes');
      assert.equal(other.dataVersion(), other.dataVersion());
    });
  });
});
