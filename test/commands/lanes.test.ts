import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lane, type Job, type Outcome } from '../../src/commands/lanes.js';
import { CommandRunner } from '../../src/commands/runner.js';
import { isAppError } from '../../src/errors.js';

/** A job that runs until released (or aborted, when it listens), recording what happened. */
function gated(log: string[], name: string, opts: { lane?: Job['lane']; timeoutMs?: number; listens?: boolean } = {}) {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const job: Job = {
    lane: opts.lane ?? 'control',
    timeoutMs: opts.timeoutMs ?? 10_000,
    run: async (signal) => {
      log.push(`start ${name}`);
      const aborted = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      await Promise.race([gate, opts.listens === false ? gate : aborted]);
      log.push(signal.aborted ? `aborted ${name}` : `end ${name}`);
      return name;
    },
  };
  return { job, release };
}

function code(outcome: Outcome): string {
  return outcome.ok ? 'ok' : isAppError(outcome.error) ? outcome.error.code : 'internal';
}

void describe('Lane', () => {
  void it('runs jobs in order, one at a time, and refuses beyond its capacity', async () => {
    const log: string[] = [];
    const lane = new Lane('control', { capacity: 2, concurrency: 1 });
    const a = gated(log, 'a');
    const b = gated(log, 'b');
    const pa = lane.submit(a.job);
    const pb = lane.submit(b.job);
    assert.equal(lane.submit(gated(log, 'c').job), null, 'capacity 2 counts the running job');
    b.release();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(log, ['start a'], 'b waits for a');
    a.release();
    assert.deepEqual([await pa, await pb], [{ ok: true, data: 'a' }, { ok: true, data: 'b' }]);
    assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b']);
  });

  void it('answers `timeout` at the deadline, for a waiting job and for a running one (whose work is aborted)', async () => {
    const log: string[] = [];
    const lane = new Lane('images', { capacity: 4, concurrency: 1 });
    const running = gated(log, 'running', { timeoutMs: 100 });
    const waiting = gated(log, 'waiting', { timeoutMs: 50 });
    const started = Date.now();
    const [r1, r2] = await Promise.all([lane.submit(running.job), lane.submit(waiting.job)]);
    assert.equal(code(r1!), 'timeout');
    assert.equal(code(r2!), 'timeout');
    assert.match((r1 as { error: Error }).error.message, /limits\.request_timeout_s/);
    assert.ok(Date.now() - started < 1000);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(log, ['start running', 'aborted running'], 'the expired waiting job never ran');
  });

  void it('close() answers waiting and running jobs at once, even when the work ignores the abort', async () => {
    const log: string[] = [];
    const lane = new Lane('camera', { capacity: 4, concurrency: 1 });
    const stubborn = gated(log, 'stubborn', { listens: false });
    const queued = gated(log, 'queued');
    const p1 = lane.submit(stubborn.job);
    const p2 = lane.submit(queued.job);
    await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    await lane.close(200);
    assert.ok(Date.now() - started < 1000, 'close waited no longer than its grace');
    assert.deepEqual([code((await p1)!), code((await p2)!)], ['busy', 'busy']);
    assert.match(((await p1) as { error: Error }).error.message, /stopping/);
    assert.equal(code((await lane.submit(gated(log, 'late').job))!), 'busy', 'a closed lane takes nothing new');
    stubborn.release();
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(log, ['start stubborn', 'aborted stubborn'], 'the queued job never ran; the stubborn one ended only when released');
  });
});

void describe('CommandRunner', () => {
  void it('a quick command is answered while a long one holds another lane', async () => {
    const log: string[] = [];
    const runner = new CommandRunner({ capacity: 4 });
    const long = gated(log, 'camera enroll', { lane: 'camera' });
    const longDone = runner.run(() => long.job);
    const quick = await runner.run(() => ({ lane: 'control', timeoutMs: 1000, run: async () => 'classes' }));
    assert.deepEqual(quick, { ok: true, data: 'classes' });
    assert.deepEqual(runner.sizes(), { control: 0, images: 0, camera: 1 });
    long.release();
    assert.equal(code(await longDone), 'ok');
    await runner.stop();
  });

  void it('turns a parse error into an outcome and a full lane into `busy`', async () => {
    const runner = new CommandRunner({ capacity: 1 });
    const bad = await runner.run(() => {
      throw new Error('malformed');
    });
    assert.equal(bad.ok, false);
    const holder = gated([], 'holder', { lane: 'images' });
    const held = runner.run(() => holder.job);
    const refused = await runner.run(() => gated([], 'second', { lane: 'images' }).job);
    assert.equal(code(refused), 'busy');
    assert.match((refused as { error: Error }).error.message, /limits\.queue_size/);
    holder.release();
    assert.equal(code(await held), 'ok');
    await runner.stop();
  });
});
