import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isAppError } from '../../src/errors.js';
import { Corrections } from '../../src/imprinting/corrections.js';
import { EventStore, type NewEvent } from '../../src/storage/eventStore.js';
import { validateLabel } from '../../src/recognition/labels.js';
import { ClassStore } from '../../src/storage/classStore.js';
import { l2Normalize, seededRandom } from '../../src/recognition/vector.js';
import { tempDir, testLogger } from '../helpers/env.js';

const MODEL = 'm'.repeat(64);
const random = seededRandom(7);
const unit = (): Float32Array => l2Normalize(Float32Array.from({ length: 16 }, () => random() - 0.5));
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);

function event(id: string, over: Partial<NewEvent> = {}): NewEvent {
  return {
    id, camera: 'door', zone: null, label: 'cat', score: 0.8, start_time: new Date(Date.UTC(2026, 10, 1, 12, 0, Number(id.replace(/\D/g, '')) || 0)),
    embedding: unit(), residual: unit(), model: MODEL, crop: JPEG, snapshot: JPEG, ...over,
  };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return isAppError(err) ? err.code : 'other';
  }
  return 'ok';
}

void describe('corrections on the real class store', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: ClassStore;
  let events: EventStore;
  let corrections: Corrections;
  let changes = 0;

  beforeEach(async () => {
    dir = tempDir('edge-imprint-corrections-');
    store = new ClassStore({ dataDir: dir.path, logger: testLogger() });
    await store.start();
    events = new EventStore(store, { maxCount: 5, maxAgeDays: 30 }, () => new Date(Date.UTC(2026, 10, 2)));
    corrections = new Corrections({ store, events, modelId: () => MODEL, newLabel: (l, f) => validateLabel(l, f), changed: () => changes++ });
    store.addShots('cat', [{ embedding: unit(), thumbnail: JPEG, source: 't' }], { model: MODEL, origin: 'node1' });
    changes = 0;
  });
  afterEach(async () => {
    await store.stop();
    dir.cleanup();
  });

  void it('confirm adds the event frame as a shot; twice is a conflict; undo takes exactly that shot back', () => {
    events.recordStart(event('e1'));
    assert.deepEqual(corrections.confirm({ id: 'e1' }), { id: 'e1', label: 'cat', correction: 'confirmed' });
    assert.equal(store.listClasses()[0]?.shots, 2);
    assert.equal(store.shots('cat').at(-1)?.source, 'event:e1');
    assert.equal(code(() => corrections.confirm({ id: 'e1' })), 'conflict');
    assert.equal(events.get('e1')?.correction, 'confirmed');
    corrections.undo({ id: 'e1' });
    assert.equal(store.listClasses()[0]?.shots, 1);
    assert.equal(events.get('e1')?.correction, null);
    assert.equal(code(() => corrections.undo({ id: 'e1' })), 'conflict', 'nothing left to undo');
    assert.equal(changes, 2, 'the classifier reloads after each change');
  });

  void it('reject records a negative of the class in its zone; `empty` also an example of the empty scene; undo removes both', () => {
    events.recordStart(event('e2', { zone: 'bin' }));
    corrections.reject({ id: 'e2' }, { empty: true });
    const negatives = events.negatives();
    assert.deepEqual(negatives.map((n) => [n.label, n.camera, n.zone]), [['cat', 'door', 'bin'], [null, 'door', 'bin']]);
    assert.equal(store.listClasses()[0]?.shots, 1, 'no shot added');
    corrections.undo({ id: 'e2' });
    assert.deepEqual(events.negatives(), []);
  });

  void it('relabel adds a shot to the right class (created) and a negative of the wrong one; undo removes the class it created', () => {
    events.recordStart(event('e3'));
    assert.deepEqual(corrections.relabel({ id: 'e3' }, 'fox'), { id: 'e3', label: 'cat', correction: 'relabeled', to: 'fox' });
    assert.deepEqual(store.listClasses().map((c) => [c.label, c.shots]), [['cat', 1], ['fox', 1]]);
    assert.deepEqual(events.negatives().map((n) => n.label), ['cat']);
    assert.equal(code(() => corrections.relabel({ id: 'e3' }, 'dog')), 'conflict', 'already corrected');
    corrections.undo({ id: 'e3' });
    assert.deepEqual(store.listClasses().map((c) => c.label), ['cat'], 'the class made for the relabel went with its shot');
    assert.deepEqual(events.negatives(), []);
    assert.equal(code(() => corrections.relabel({ id: 'e3' }, 'cat')), 'conflict', 'relabel to its own label is a confirm');
    assert.equal(code(() => corrections.relabel({ id: 'e3' }, 'none')), 'bad_label');
  });

  void it('the newest event of a camera or zone; unknown, expired and other-model events are clear errors', () => {
    events.recordStart(event('e4', { zone: 'bin', label: 'cat' }));
    events.recordStart(event('e5', { zone: 'bin', label: 'cat' }));
    events.recordStart(event('e6', { zone: null }));
    assert.equal(corrections.confirm({ camera: 'door', zone: 'bin' }).id, 'e5');
    assert.equal(code(() => corrections.confirm({ camera: 'door', zone: 'gate' })), 'not_found');
    assert.equal(code(() => corrections.confirm({ id: 'nope' })), 'not_found');
    for (let i = 10; i < 16; i++) events.recordStart(event(`e${i}`));
    assert.equal(events.list({ limit: 100 }).length, 5, 'events.max_count');
    assert.equal(code(() => corrections.confirm({ id: 'e6' })), 'not_found', 'expired');
    events.recordStart(event('e20', { model: 'other' }));
    assert.equal(code(() => corrections.confirm({ id: 'e20' })), 'model_changed');
    assert.equal(events.get('e20')?.correction, null, 'nothing changed');
  });

  void it('list filters by camera, zone and label, newest first, and says which events were corrected', () => {
    events.recordStart(event('e1', { zone: 'bin', label: 'cat' }));
    events.recordStart(event('e2', { zone: 'bin', label: 'dog' }));
    events.recordStart(event('e3', { camera: 'yard', label: 'cat' }));
    events.recordEnd('e1', new Date(Date.UTC(2026, 10, 1, 12, 1)));
    corrections.reject({ id: 'e1' }, { empty: false });
    assert.deepEqual(events.list({ zone: 'bin', limit: 10 }).map((e) => e.id), ['e2', 'e1']);
    assert.deepEqual(events.list({ label: 'cat', limit: 10 }).map((e) => e.id), ['e3', 'e1']);
    const e1 = events.list({ camera: 'door', label: 'cat', limit: 1 })[0];
    assert.equal(e1?.correction, 'rejected');
    assert.equal(e1?.end_time, '2026-11-01T12:01:00.000Z');
    assert.equal(e1?.has_snapshot, true);
  });

  void it('events past max_age_days are dropped when a new one arrives', () => {
    const old = new EventStore(store, { maxCount: 100, maxAgeDays: 1 }, () => new Date(Date.UTC(2026, 10, 10)));
    old.recordStart(event('old', { start_time: new Date(Date.UTC(2026, 10, 1)) }));
    old.recordStart(event('new', { start_time: new Date(Date.UTC(2026, 10, 9, 23)) }));
    assert.deepEqual(old.list({ limit: 10 }).map((e) => e.id), ['new']);
  });
});
