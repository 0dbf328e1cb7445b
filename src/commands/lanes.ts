/**
 * Request lanes: each lane is a bounded FIFO with its own workers, so a quick command
 * (`class/list`) never waits behind a long one (a 50-frame camera enrollment). Every job has
 * a deadline counted from its arrival; past it the job is answered `timeout` and its work is
 * told to stop through its AbortSignal. Closing a lane answers what waits and aborts what
 * runs, so stopping the agent never waits for a request.
 */
import { AppError } from '../errors.js';
import { settleWithin } from '../process/timeout.js';

export type LaneName = 'control' | 'images' | 'camera';

export type Outcome = { ok: true; data: unknown } | { ok: false; error: unknown };

/** Work to do, in a lane, within a time. `run` must stop soon after `signal` aborts. */
export interface Job {
  lane: LaneName;
  timeoutMs: number;
  run(signal: AbortSignal): Promise<unknown>;
}

interface Entry {
  job: Job;
  controller: AbortController;
  timer: NodeJS.Timeout;
  /** Settles the request; only the first call counts. */
  settle(outcome: Outcome): void;
}

export interface LaneOptions {
  capacity: number;
  concurrency: number;
}

export class Lane {
  private readonly waiting: Entry[] = [];
  private readonly running = new Set<Entry>();
  private readonly settled = new Set<Promise<void>>();
  private closed = false;

  constructor(
    readonly name: LaneName,
    private readonly opts: LaneOptions,
  ) {}

  /** Jobs waiting and running; `capacity` bounds it. */
  get size(): number {
    return this.waiting.length + this.running.size;
  }

  /** The outcome, or null when the lane is full: the caller answers `busy`. */
  submit(job: Job): Promise<Outcome> | null {
    if (this.closed) return Promise.resolve({ ok: false, error: stoppingError() });
    if (this.size >= this.opts.capacity) return null;
    return new Promise<Outcome>((resolve) => {
      let done = false;
      const controller = new AbortController();
      const entry: Entry = {
        job,
        controller,
        timer: setTimeout(() => this.expire(entry), job.timeoutMs),
        settle: (outcome) => {
          if (done) return;
          done = true;
          clearTimeout(entry.timer);
          resolve(outcome);
        },
      };
      this.waiting.push(entry);
      this.pump();
    });
  }

  /**
   * Answers every waiting job `busy` and aborts every running one (answered at once), then
   * waits up to `graceMs` for the running work to notice.
   */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    const stopping = stoppingError();
    for (const entry of this.waiting.splice(0)) entry.settle({ ok: false, error: stopping });
    for (const entry of this.running) {
      entry.controller.abort(stopping);
      entry.settle({ ok: false, error: stopping });
    }
    await settleWithin(Promise.allSettled([...this.settled]), graceMs);
  }

  private expire(entry: Entry): void {
    const seconds = Math.round(entry.job.timeoutMs / 100) / 10;
    const error = new AppError('timeout', `request: not done within ${seconds} s (limits.request_timeout_s); nothing was changed by it`);
    const index = this.waiting.indexOf(entry);
    if (index >= 0) this.waiting.splice(index, 1);
    entry.controller.abort(error);
    entry.settle({ ok: false, error });
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.opts.concurrency) {
      const entry = this.waiting.shift();
      if (!entry) return;
      this.start(entry);
    }
  }

  private start(entry: Entry): void {
    this.running.add(entry);
    const { signal } = entry.controller;
    const work = Promise.resolve()
      .then(() => entry.job.run(signal))
      .then(
        (data) => entry.settle(signal.aborted ? { ok: false, error: signal.reason } : { ok: true, data }),
        (error: unknown) => entry.settle({ ok: false, error: signal.aborted ? signal.reason : error }),
      );
    const settled = work.finally(() => {
      this.running.delete(entry);
      this.settled.delete(settled);
      this.pump();
    });
    this.settled.add(settled);
  }
}

function stoppingError(): AppError {
  return new AppError('busy', 'the agent is stopping; retry when it is back');
}
