/**
 * Detection events are written without an fsync per start, classes with one (issue 18, item 10):
 * a real store in a child process under strace, counting fsync/fdatasync calls; and events are
 * pruned now and then, not on every start, within the documented bound.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { ClassStore } from '../../src/storage/classStore.js';
import { EventStore } from '../../src/storage/eventStore.js';
import { ROOT, tempDir } from '../helpers/env.js';

const dirs: Array<{ path: string; cleanup: () => void }> = [];
after(() => dirs.forEach((d) => d.cleanup()));

function newDir(): string {
  const d = tempDir('edge-imprint-fsync-');
  dirs.push(d);
  return d.path;
}

/** fsync and fdatasync calls of one worker run (the store opened, `n` writes, closed). */
function syncs(dataDir: string, mode: 'events' | 'classes', n: number): number {
  const trace = join(dataDir, `strace-${mode}-${n}.txt`);
  const worker = join(ROOT, 'test', 'helpers', 'fsyncWorker.ts');
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=fsync,fdatasync', '-o', trace, process.execPath, '--import', 'tsx', worker, dataDir, mode, String(n)], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /ready\ndone\n/);
  return readFileSync(trace, 'utf8').split('\n').filter((l) => /\bf(data)?sync\(/.test(l)).length;
}

const N = 40;

void describe('what a write costs the disk', () => {
  void it('a detection start and end commit without an fsync each; an enrollment with one', (t) => {
    if (spawnSync('strace', ['-V']).status !== 0) return t.skip('strace is not installed');
    const dir = newDir();
    syncs(dir, 'events', 0); // creates and migrates the database
    const base = syncs(dir, 'events', 0); // open and close alone
    const events = syncs(dir, 'events', N) - base;
    const classes = syncs(dir, 'classes', N) - base;
    assert.ok(events < N / 4, `${N} detection starts and ends cost ${events} fsyncs beyond open/close (${base})`);
    assert.ok(classes >= N, `${N} enrollments cost ${classes} fsyncs beyond open/close: each must be durable`);
  });
});

void describe('event retention', () => {
  void it('prunes on the first start, then every max_count / 16 starts: never more than that many over max_count', async () => {
    const store = new ClassStore({ dataDir: newDir(), logger: pino({ level: 'silent' }) });
    await store.start();
    try {
      const events = new EventStore(store, { maxCount: 160, maxAgeDays: 30 });
      const start = (i: number): void =>
        events.recordStart({ id: `e${i}`, camera: 'door', zone: null, label: 'cat', score: 0.9, start_time: new Date(Date.now() + i), embedding: null, residual: null, model: 'm', crop: null, snapshot: null });
      let most = 0;
      for (let i = 0; i < 400; i++) {
        start(i);
        most = Math.max(most, events.list({ limit: 1000 }).length);
      }
      assert.equal(most, 160 + 9, 'pruned every 10 starts, not on each');
      assert.equal(events.list({ limit: 1 })[0]?.id, 'e399', 'the newest is kept');
    } finally {
      await store.stop();
    }
  });
});
