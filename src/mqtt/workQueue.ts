export interface Job {
  run(): Promise<void>;
  /** Called instead of run() when the queue is shut down before the job started. */
  cancel(): void;
}

/**
 * A bounded FIFO run one job at a time (`limit` counts the running job too). `tryPush`
 * refuses instead of piling up, so a flood of requests costs a quick `busy` answer each
 * rather than memory and latency.
 */
export class WorkQueue {
  private readonly waiting: Job[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.waiting.length + (this.running ? 1 : 0);
  }

  tryPush(job: Job): boolean {
    if (this.size >= this.limit) return false;
    this.waiting.push(job);
    if (!this.running) this.running = this.drain();
    return true;
  }

  /** Cancels the jobs not started yet and waits for the running one. */
  async close(): Promise<void> {
    for (const job of this.waiting.splice(0)) job.cancel();
    await this.running;
  }

  private async drain(): Promise<void> {
    for (let job = this.waiting.shift(); job; job = this.waiting.shift()) {
      try {
        await job.run();
      } catch {
        // Jobs answer their own errors; nothing left to do here.
      }
    }
    this.running = null;
  }
}
