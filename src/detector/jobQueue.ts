import { AppError } from '../errors.js';

interface Job {
  rgb: Uint8Array;
  attempts: number;
  resolve: (embedding: Float32Array) => void;
  reject: (err: Error) => void;
  deadline: NodeJS.Timeout;
}

/** What is sent to the child: one job, or a batch of them for a backend that runs batches. */
export interface Sent {
  id: number;
  rgbs: Uint8Array[];
}

/** The detector's inferences: waiting ones in order, at most one send (one job or one batch) in the child. */
export class JobQueue {
  private waiting: Job[] = [];
  private inFlight: Job[] = [];
  private inFlightId = 0;
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
      const job: Job = { rgb, attempts: 0, resolve, reject, deadline };
      this.waiting.push(job);
    });
  }

  busy(): boolean {
    return this.inFlight.length > 0;
  }

  /** Up to `max` waiting jobs, now in flight; null when none waits or a send is in flight already. */
  take(max: number): Sent | null {
    if (this.inFlight.length > 0) return null;
    const jobs = this.waiting.splice(0, Math.max(1, max));
    if (jobs.length === 0) return null;
    jobs.forEach((job) => job.attempts++);
    this.inFlight = jobs;
    this.inFlightId = this.nextId++;
    return { id: this.inFlightId, rgbs: jobs.map((j) => j.rgb) };
  }

  /** Settles the send in flight if `id` is it; its job count, or 0 for a stale answer. */
  finish(id: number, err: Error | null, embeddings?: Float32Array[]): number {
    const jobs = this.inFlight;
    if (jobs.length === 0 || id !== this.inFlightId) return 0;
    this.inFlight = [];
    const complete = embeddings && embeddings.length === jobs.length ? embeddings : undefined;
    jobs.forEach((job, i) => settle(job, err, complete?.[i]));
    return jobs.length;
  }

  /**
   * The child died with a send in flight. Edge TPU losses are retried until the CPU fallback
   * takes over; on the CPU one more try, since an input that kills the CPU interpreter twice
   * will do so again.
   */
  requeue(alwaysRetry: boolean): void {
    const jobs = this.inFlight;
    this.inFlight = [];
    for (const job of jobs.reverse()) {
      if (alwaysRetry || job.attempts < 2) this.waiting.unshift(job);
      else settle(job, new AppError('detector_unavailable', 'the detector crashed twice on this input'));
    }
  }

  failAll(err: Error): void {
    this.inFlight.forEach((job) => settle(job, err));
    this.inFlight = [];
    this.waiting.splice(0).forEach((job) => settle(job, err));
  }
}

function settle(job: Job, err: Error | null, embedding?: Float32Array): void {
  clearTimeout(job.deadline);
  if (err || !embedding) job.reject(err ?? new AppError('detector_unavailable', 'no embedding'));
  else job.resolve(embedding);
}
