/**
 * Child process for the durability test, run under strace: `node --import tsx
 * test/helpers/fsyncWorker.ts <dataDir> <events|classes> <n>` opens the store, then records
 * n detection starts (with their ends) or n enrollments, then stops. Says `ready` and `done`.
 */
import { writeSync } from 'node:fs';
import pino from 'pino';
import { ClassStore } from '../../src/storage/classStore.js';
import { EventStore } from '../../src/storage/eventStore.js';

const MODEL = 'a'.repeat(64);
const vector = (): Float32Array => Float32Array.from({ length: 1024 }, () => Math.random() - 0.5);

async function main(): Promise<void> {
  const [dataDir, mode, count] = process.argv.slice(2);
  if (!dataDir || (mode !== 'events' && mode !== 'classes')) throw new Error('usage: fsyncWorker.ts <dataDir> <events|classes> <n>');
  const store = new ClassStore({ dataDir, logger: pino({ level: 'silent' }) });
  await store.start();
  const events = new EventStore(store, { maxCount: 500, maxAgeDays: 30 });
  writeSync(1, 'ready\n');
  for (let i = 0; i < Number(count); i++) {
    if (mode === 'classes') {
      store.addShots(`class_${i}`, [{ embedding: vector(), thumbnail: Buffer.alloc(2000, 1), source: 'worker' }], { model: MODEL });
      continue;
    }
    const id = `${Date.now()}-${i}`;
    const start = new Date();
    events.recordStart({ id, camera: 'door', zone: null, label: 'cat', score: 0.9, start_time: start, embedding: vector(), residual: null, model: MODEL, crop: Buffer.alloc(8000, 2), snapshot: Buffer.alloc(40_000, 3) });
    events.recordEnd(id, new Date());
  }
  writeSync(1, 'done\n');
  await store.stop();
}

void main();
