/**
 * The event loop's blocked time per detection start: the recorder's SQLite write runs on the
 * event loop (better-sqlite3 is synchronous). Before (issue 18): an fsync'd commit and a prune
 * on every start; now: a commit without fsync (WAL, synchronous=NORMAL) and a prune now and then.
 * Both on a real store holding events.max_count (500) events, with realistic blobs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClassStore } from '../src/storage/classStore.js';
import { EventStore, type EventWrites, type NewEvent } from '../src/storage/eventStore.js';
import { median, ms, percentile, type Report } from './report.js';
import { benchLogger, FIXTURE_IMAGES, tempDir } from './setup.js';

const KEPT = 500;
const STARTS = 200;

function newEvent(i: number, snapshot: Buffer): NewEvent {
  const embedding = Float32Array.from({ length: 1024 }, (_, j) => Math.sin(i + j));
  return { id: `e${i}`, camera: 'door', zone: null, label: 'cat', score: 0.9, start_time: new Date(Date.now() + i), embedding, residual: null, model: 'bench', crop: snapshot.subarray(0, 8000), snapshot };
}

/** Milliseconds each detection start held the event loop, after `KEPT` events already stored. */
async function blockedPerStart(writes: EventWrites, snapshot: Buffer): Promise<number[]> {
  const dir = tempDir();
  const store = new ClassStore({ dataDir: dir.path, logger: benchLogger() });
  await store.start();
  try {
    const fill = new EventStore(store, { maxCount: KEPT, maxAgeDays: 30 });
    for (let i = 0; i < KEPT; i++) fill.recordStart(newEvent(i, snapshot));
    const events = new EventStore(store, { maxCount: KEPT, maxAgeDays: 30 }, undefined, writes);
    const times: number[] = [];
    for (let i = KEPT; i < KEPT + STARTS; i++) {
      const started = performance.now();
      events.recordStart(newEvent(i, snapshot));
      times.push(performance.now() - started);
      events.recordEnd(`e${i}`, new Date());
    }
    return times;
  } finally {
    await store.stop();
    dir.cleanup();
  }
}

export async function runEventsBench(report: Report): Promise<void> {
  const snapshot = readFileSync(join(FIXTURE_IMAGES, 'cat.jpg'));
  const before = await blockedPerStart({ pruneEvery: 1, fsync: true }, snapshot);
  const after = await blockedPerStart({}, snapshot);
  const mean = (t: number[]): number => t.reduce((a, b) => a + b, 0) / t.length;
  const show = (t: number[]): string => `${ms(median(t))} / ${ms(percentile(t, 95))} / ${ms(mean(t))}`;
  report.add({
    section: 'events',
    figure: `event loop blocked per detection start, median / p95 / mean of ${STARTS} (store holding ${KEPT} events): before (fsync + prune every start) → now`,
    value: `${show(before)} → ${show(after)}`,
    target: 'reported',
  });
}
