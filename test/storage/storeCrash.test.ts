/**
 * kill -9 of a process that is enrolling, at random moments, many times over the same
 * database: every class must hold whole addShots calls only, with sum/count matching its
 * shots, and SQLite must report no damage.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ClassStore, STORE_FILE } from '../../src/storage/classStore.js';
import { latestVersion } from '../../src/storage/migrations.js';
import { ROOT, tempDir, testLogger, waitFor } from '../helpers/env.js';
import { weightsOf } from '../helpers/storeWeights.js';

const WORKER = join(ROOT, 'test', 'helpers', 'storeWorker.ts');
const SHOTS_PER_CALL = 3;
const ROUNDS = 24;

interface Run {
  child: ChildProcess;
  lines: string[];
  exited: Promise<void>;
}

const children = new Set<ChildProcess>();

function startWorker(dataDir: string): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, dataDir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: string[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      // The worker only ever stops by our SIGKILL; anything else is a failure of the worker.
      if (signal !== 'SIGKILL') lines.push(`exit ${code} ${signal} ${stderr.trim()}`);
      resolve();
    }),
  );
  return { child, lines, exited };
}

async function killAt(run: Run, delayMs: number): Promise<void> {
  await new Promise((r) => setTimeout(r, delayMs));
  run.child.kill('SIGKILL');
  await run.exited;
}

function randomInt(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

/** Calls that certainly committed per label, and the label of a call cut short (if any). */
function progress(lines: string[]): { done: Map<string, number>; lastShots: Map<string, number>; inFlight?: string } {
  const done = new Map<string, number>();
  const lastShots = new Map<string, number>();
  let inFlight: string | undefined;
  for (const line of lines) {
    const [what, label, shots] = line.split(' ');
    if (what === 'begin') inFlight = label;
    else if (what === 'done' && label) {
      done.set(label, (done.get(label) ?? 0) + 1);
      lastShots.set(label, Number(shots));
      inFlight = undefined;
    } else if (what !== 'ready') assert.fail(`worker said: ${line}`);
  }
  return { done, lastShots, inFlight };
}

/** SQLite's own view: no damage, no shot without a class, count column = rows. */
function checkRaw(dbPath: string): void {
  const raw = new Database(dbPath);
  try {
    assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
    assert.deepEqual(raw.pragma('foreign_key_check'), []);
    assert.equal(raw.prepare('SELECT count(*) FROM shots WHERE class_id NOT IN (SELECT id FROM classes)').pluck().get(), 0);
    const mismatched = raw
      .prepare('SELECT label FROM classes c WHERE count != (SELECT count(*) FROM shots s WHERE s.class_id = c.id) OR count = 0')
      .pluck()
      .all();
    assert.deepEqual(mismatched, []);
    assert.equal(raw.pragma('user_version', { simple: true }), latestVersion());
  } finally {
    raw.close();
  }
}

/** Through the store: per class, shots = whole calls and sum = sum of the shots' embeddings. */
async function checkStore(dataDir: string): Promise<Map<string, number>> {
  const store = new ClassStore({ dataDir, logger: testLogger() });
  await store.start();
  try {
    const counts = new Map<string, number>();
    const shots = store.shots();
    for (const w of weightsOf(store)) {
      const mine = shots.filter((s) => s.label === w.label);
      assert.equal(w.count, mine.length, `${w.label}: count`);
      assert.equal(mine.length % SHOTS_PER_CALL, 0, `${w.label}: ${mine.length} shots is not whole calls`);
      const acc = new Float64Array(w.sum.length);
      for (const s of mine) s.embedding.forEach((x, i) => (acc[i]! += x));
      let worst = 0;
      acc.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - w.sum[i]!))));
      assert.ok(worst <= 1e-4, `${w.label}: sum off by ${worst}`);
      counts.set(w.label, mine.length / SHOTS_PER_CALL);
    }
    return counts;
  } finally {
    await store.stop();
  }
}

void describe('ClassStore under kill -9', () => {
  const dirs: Array<{ cleanup: () => void }> = [];

  after(() => {
    for (const c of children) c.kill('SIGKILL');
    for (const d of dirs) d.cleanup();
  });

  void it(`keeps every class whole across ${ROUNDS} kills while enrolling`, { timeout: 120_000 }, async (t) => {
    const dir = tempDir('edge-imprint-crash-');
    dirs.push(dir);
    let calls = new Map<string, number>(); // committed calls per label, as of the last check
    let cut = 0;
    let cutCommitted = 0;
    let totalDone = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const run = startWorker(dir.path);
      await waitFor(() => run.lines.includes('ready') || run.lines.some((l) => l.startsWith('exit')), 15_000, 'worker ready');
      assert.ok(run.lines.includes('ready'), run.lines.join('\n'));
      await killAt(run, randomInt(20, 400));
      const { done, lastShots, inFlight } = progress(run.lines);
      checkRaw(join(dir.path, STORE_FILE));
      const now = await checkStore(dir.path);
      for (const label of new Set([...calls.keys(), ...now.keys(), ...done.keys()])) {
        const before = calls.get(label) ?? 0;
        const sure = before + (done.get(label) ?? 0);
        const got = now.get(label) ?? 0;
        if (lastShots.has(label)) assert.equal(lastShots.get(label), sure * SHOTS_PER_CALL, `${label}: worker's count`);
        if (label === inFlight) {
          assert.ok(got === sure || got === sure + 1, `${label}: ${got} calls, expected ${sure} or ${sure + 1}`);
          cut++;
          if (got === sure + 1) cutCommitted++;
        } else {
          assert.equal(got, sure, `${label}: calls after round ${round}`);
        }
        totalDone += done.get(label) ?? 0;
      }
      calls = now;
    }
    t.diagnostic(`${totalDone} calls confirmed; ${cut} kills landed inside a call (${cutCommitted} of those had committed)`);
    assert.ok(totalDone > ROUNDS, 'the worker made progress between kills');
  });

  void it('survives kills during start-up and migration of a fresh database', { timeout: 60_000 }, async () => {
    for (let round = 0; round < 6; round++) {
      const dir = tempDir('edge-imprint-crash-start-');
      dirs.push(dir);
      const run = startWorker(dir.path);
      // No wait for `ready`: the kill lands anywhere from tsx start-up to the first enrollments.
      await killAt(run, randomInt(150, 900));
      await checkStore(dir.path);
      checkRaw(join(dir.path, STORE_FILE));
    }
  });

  void it('lets a second process write while the worker is writing', { timeout: 60_000 }, async () => {
    const dir = tempDir('edge-imprint-crash-two-');
    dirs.push(dir);
    const run = startWorker(dir.path);
    await waitFor(() => run.lines.includes('ready'), 15_000, 'worker ready');
    const store = new ClassStore({ dataDir: dir.path, logger: testLogger() });
    await store.start();
    const seen = store.dataVersion();
    const embedding = new Float32Array(1024).fill(1 / 32);
    try {
      for (let i = 0; i < 40; i++) {
        store.addShots('parent', [0, 1, 2].map(() => ({ embedding, thumbnail: Buffer.alloc(10), source: 'parent' })), {
          model: 'b'.repeat(64),
        });
        await new Promise((r) => setTimeout(r, 5));
      }
      // A loaded machine may not have let the worker commit during our 40 writes: wait for it.
      await waitFor(() => store.dataVersion() !== seen, 15_000, 'the worker commits are visible');
      await waitFor(() => store.listClasses().some((c) => c.label.startsWith('class_')), 15_000, "the worker's classes");
    } finally {
      await store.stop();
      await killAt(run, 0);
    }
    const counts = await checkStore(dir.path);
    assert.equal(counts.get('parent'), 40);
    checkRaw(join(dir.path, STORE_FILE));
  });
});
