/**
 * The one retry schedule of the agent: capped exponential backoff, with optional jitter so
 * that many agents restarting together (a broker back up, a power cut) do not retry in lockstep.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Share of each delay taken off at random (0: exact delays). */
  jitter?: number;
  random?: () => number;
}

/** The delay before retry n (n = failures in a row, from 1): min(max, initial·2ⁿ⁻¹). Pure. */
export function backoffDelay(initialMs: number, maxMs: number, failures: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

/** Counts failures in a row; `next()` is the wait before the next attempt, `reset()` after a success. */
export class Backoff {
  private failures = 0;

  constructor(private readonly opts: BackoffOptions) {}

  next(): number {
    this.failures = Math.min(this.failures + 1, 31);
    const ceiling = backoffDelay(this.opts.initialMs, this.opts.maxMs, this.failures);
    const random = this.opts.random ?? Math.random;
    return Math.round(ceiling * (1 - (this.opts.jitter ?? 0) * random()));
  }

  reset(): void {
    this.failures = 0;
  }

  /** Failures since the last reset. */
  count(): number {
    return this.failures;
  }
}
