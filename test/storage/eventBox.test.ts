import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ClassStore, STORE_FILE } from '../../src/storage/classStore.js';
import { EventStore, type NewEvent } from '../../src/storage/eventStore.js';
import { latestVersion, migrate, MIGRATIONS } from '../../src/storage/migrations.js';
import { tempDir, testLogger } from '../helpers/env.js';

const dir = tempDir('edge-imprint-event-box-');
after(() => dir.cleanup());

function event(id: string, extra: Partial<NewEvent> = {}): NewEvent {
  return { id, camera: 'door', zone: null, label: 'tabby', score: 0.5, start_time: new Date(), embedding: null, residual: null, model: 'm', crop: null, snapshot: null, ...extra };
}

void describe('events keep the region a class was found in (issue 16)', () => {
  void it('upgrades a schema 4 database: its events keep their rows, without a box; new events keep theirs', async () => {
    const raw = new Database(join(dir.path, STORE_FILE));
    try {
      migrate(raw, testLogger(), MIGRATIONS.slice(0, 4));
      raw.prepare("INSERT INTO events (id, camera, zone, label, score, start_time, model, created_at) VALUES ('old', 'door', NULL, 'cat', 0.7, ?, 'm', ?)").run('2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
    } finally {
      raw.close();
    }
    const store = new ClassStore({ dataDir: dir.path, logger: testLogger() });
    await store.start();
    try {
      const events = new EventStore(store, { maxCount: 100, maxAgeDays: 3650 });
      const box = { x: 0.625, y: 0.4, width: 0.25, height: 0.45 };
      events.recordStart(event('new', { box }));
      events.recordStart(event('whole', { box: null }));
      const byId = new Map(events.list({ limit: 10 }).map((e) => [e.id, e]));
      assert.equal(byId.get('old')?.label, 'cat');
      assert.equal('box' in byId.get('old')!, false, 'an event from before the column has no box');
      assert.deepEqual(byId.get('new')?.box, box);
      assert.equal('box' in byId.get('whole')!, false, 'the whole unit decided: no box');
      assert.deepEqual(events.get('new')?.box, box);
    } finally {
      await store.stop();
    }
    const check = new Database(join(dir.path, STORE_FILE), { readonly: true });
    try {
      assert.equal(check.pragma('user_version', { simple: true }), latestVersion());
    } finally {
      check.close();
    }
  });
});
