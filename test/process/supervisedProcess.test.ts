import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, it } from 'node:test';
import pino from 'pino';
import { DEFAULT_SUPERVISION, SupervisedProcess, type SupervisedProcessHooks, type SupervisionOptions } from '../../src/process/supervisedProcess.js';
import { waitFor } from '../helpers/env.js';
import { alive } from '../helpers/processes.js';

interface Harness {
  process: SupervisedProcess;
  pids: number[];
  lines: string[];
  failures: string[];
}

const running: SupervisedProcess[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) await p.stop();
});

/** Supervises `node -e script`; every line the script writes to stdout counts as output. */
function supervise(script: string, options: Partial<SupervisionOptions> = {}, stallMs = 5000): Harness {
  const pids: number[] = [];
  const lines: string[] = [];
  const failures: string[] = [];
  const hooks: SupervisedProcessHooks = {
    plan: () => ({ command: process.execPath, args: ['-e', script], stdio: ['ignore', 'pipe', 'pipe'] }),
    attach: (child: ChildProcess, run) => {
      if (child.pid) pids.push(child.pid);
      child.stdout?.on('data', () => run.output());
    },
    failed: (reason) => {
      failures.push(reason);
      return true;
    },
  };
  const supervised = new SupervisedProcess({
    label: 'test child',
    logger: pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) }),
    spawn: (command, args, o) => spawn(command, args, o),
    launchPrefix: [],
    stallMs,
    stallReason: `no output for ${stallMs / 1000} s`,
    secrets: ['hunter2'],
    options: { ...DEFAULT_SUPERVISION, restartInitialMs: 100, restartMaxMs: 400, killGraceMs: 500, ...options },
    clock: Date.now,
    hooks,
  });
  running.push(supervised);
  return { process: supervised, pids, lines, failures };
}

void describe('SupervisedProcess', () => {
  it('restarts a child that exits, with a growing backoff, and counts the restarts', async () => {
    const h = supervise('process.exit(3)');
    const started = Date.now();
    h.process.start();
    await waitFor(() => (h.pids.length >= 4 ? true : undefined), 10_000, 'three restarts');
    // 100 + 200 + 400 ms of backoff at least, beside node's own start-ups.
    assert.ok(Date.now() - started >= 700, `restarted after ${Date.now() - started} ms`);
    assert.ok(h.process.restarts() >= 3);
    assert.match(h.failures[0] ?? '', /exited \(code 3\)/);
    await h.process.stop();
    const count = h.pids.length;
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(h.pids.length, count, 'no restart after stop()');
  });

  it('kills a child that stops giving output (stall watchdog), and SIGKILLs one that ignores SIGTERM', async () => {
    const h = supervise("process.on('SIGTERM', () => undefined); console.log('up'); setInterval(() => undefined, 1000)", {}, 500);
    h.process.start();
    await waitFor(() => (h.pids.length >= 2 ? true : undefined), 10_000, 'a restart after the stall');
    assert.equal(h.failures[0], 'no output for 0.5 s');
    await waitFor(() => (alive(h.pids[0] ?? 0) ? undefined : true), 3000, 'the first child gone despite its SIGTERM handler');
    await h.process.stop();
    for (const pid of h.pids) assert.equal(alive(pid), false, 'stop() leaves none behind');
  });

  it('keeps the last stderr lines with the password scrubbed, in the log and the last error', async () => {
    const h = supervise("console.error('connecting to rtsp://admin:hunter2@cam/stream'); console.error('refused, pw hunter2'); process.exit(1)");
    h.process.start();
    await waitFor(() => (h.failures.length >= 1 && h.process.lastError() ? true : undefined), 10_000, 'a failure');
    await h.process.stop();
    const log = h.lines.join('');
    assert.equal(log.includes('hunter2'), false);
    assert.match(log, /rtsp:\/\/\*\*\*:\*\*\*@cam/);
    assert.match(h.process.lastError() ?? '', /^ffmpeg exited \(code 1\): refused, pw \*\*\*$/);
  });

  it('warns on the first failure and every 15th after, debug otherwise', async () => {
    const h = supervise('process.exit(1)', { restartInitialMs: 1, restartMaxMs: 1 });
    h.process.start();
    await waitFor(() => (h.failures.length >= 16 ? true : undefined), 20_000, '16 failures');
    await h.process.stop();
    const levels = h.lines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.msg === 'test child failed; restarting')
      .map((l) => l.level);
    assert.deepEqual(levels.slice(0, 16), [40, ...Array<number>(14).fill(20), 40]);
  });
});
