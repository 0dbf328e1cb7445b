import { AppError } from '../errors.js';

interface Job {
  id: number;
  rgb: Uint8Array;
  attempts: number;
  resolve: (embedding: Float32Array) => void;
  reject: (err: Error) => void;
  deadline: NodeJS.Timeout;
}

/** What is sent to the child: one job at a time. */
export interface Sent {
  id: number;
  rgb: Uint8Array;
}

/** The detector's inferences: waiting ones in order, at most one in the child. */
export class JobQueue {
  private waiting: Job[] = [];
  private inFlight: Job | null = null;
  private nextId = 1;

  constructor(private readonly maxQueue: number) {}

  /** Queues an inference; it is refused after `deadlineMs` in all, never left waiting forever. */
  add(rgb: Uint8Array, deadlineMs: number): Promise<Float32Array> {
    if (this.waiting.length >= this.maxQueue) return Promise.reject(new AppError('busy', 'detector queue is full'));
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => {
        this.waiting = this.waiting.filter((j) => j !== job);
        reject(new AppError('detector_unavailable', 'no inference result in time: the detector is restarting'));
      }, deadlineMs);
      const job: Job = { id: 0, rgb, attempts: 0, resolve, reject, deadline };
      this.waiting.push(job);
    });
  }

  busy(): boolean {
    return this.inFlight !== null;
  }

  /** The next job, now in flight; null when none waits or one is in flight already. */
  take(): Sent | null {
    if (this.inFlight) return null;
    const job = this.waiting.shift();
    if (!job) return null;
    job.attempts++;
    job.id = this.nextId++;
    this.inFlight = job;
    return { id: job.id, rgb: job.rgb };
  }

  /** Settles the job in flight if `id` is it; false for a stale answer. */
  finish(id: number, err: Error | null, embedding?: Float32Array): boolean {
    const job = this.inFlight;
    if (!job || job.id !== id) return false;
    this.inFlight = null;
    settle(job, err, embedding);
    return true;
  }

  /**
   * The child died with a job in flight. Edge TPU losses are retried until the CPU fallback
   * takes over; on the CPU one more try, since an input that kills the CPU interpreter twice
   * will do so again.
   */
  requeue(alwaysRetry: boolean): void {
    const job = this.inFlight;
    this.inFlight = null;
    if (!job) return;
    if (alwaysRetry || job.attempts < 2) this.waiting.unshift(job);
    else settle(job, new AppError('detector_unavailable', 'the detector crashed twice on this input'));
  }

  failAll(err: Error): void {
    if (this.inFlight) settle(this.inFlight, err);
    this.inFlight = null;
    this.waiting.splice(0).forEach((job) => settle(job, err));
  }
}

function settle(job: Job, err: Error | null, embedding?: Float32Array): void {
  clearTimeout(job.deadline);
  if (err || !embedding) job.reject(err ?? new AppError('detector_unavailable', 'no embedding'));
  else job.resolve(embedding);
}
