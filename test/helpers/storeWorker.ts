/**
 * Child process for the store crash test: `node --import tsx test/helpers/storeWorker.ts <dataDir> [classes]`.
 * Opens a ClassStore and enrolls 3 random shots per call, round-robin over `classes` labels,
 * until it is killed. Progress goes to stdout with synchronous writes, one line per event:
 *   `ready`                  store open, enrolling starts now
 *   `begin <label>`          an addShots call for <label> is about to run
 *   `done <label> <shots>`   it committed; the class now has <shots> shots
 * A kill between `begin` and `done` may or may not have committed that call, never part of it.
 */
import { writeSync } from 'node:fs';
import pino from 'pino';
import { ClassStore } from '../../src/storage/classStore.js';
import type { NewShot } from '../../src/recognition/types.js';

const DIM = 1024;
const MODEL = 'a'.repeat(64);

function say(line: string): void {
  writeSync(1, `${line}\n`);
}

function randomUnitVector(): Float32Array {
  const v = new Float32Array(DIM);
  let norm = 0;
  for (let i = 0; i < DIM; i++) {
    // Box-Muller: a normal sample per component gives a direction uniform on the sphere.
    const x = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
    v[i] = x;
    norm += x * x;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < DIM; i++) v[i]! *= scale;
  return v;
}

/** Bytes framed like a JPEG (SOI ... EOI); the store does not decode thumbnails. */
function fakeThumbnail(): Buffer {
  const body = Buffer.alloc(200 + Math.floor(Math.random() * 3000));
  for (let i = 0; i < body.length; i++) body[i] = Math.floor(Math.random() * 256);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), body, Buffer.from([0xff, 0xd9])]);
}

function newShots(): NewShot[] {
  return [0, 1, 2].map((i) => ({ embedding: randomUnitVector(), thumbnail: fakeThumbnail(), source: `worker:${i}` }));
}

async function main(): Promise<void> {
  const dataDir = process.argv[2];
  if (!dataDir) throw new Error('usage: storeWorker.ts <dataDir> [classes]');
  const classes = Number(process.argv[3] ?? '5');
  const store = new ClassStore({ dataDir, logger: pino({ level: 'silent' }) });
  await store.start();
  say('ready');
  for (let n = 0; ; n++) {
    const label = `class_${n % classes}`;
    const shots = newShots();
    say(`begin ${label}`);
    const result = store.addShots(label, shots, { model: MODEL, background: n % 7 === 0 ? true : undefined });
    say(`done ${label} ${result.shots}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`storeWorker: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
