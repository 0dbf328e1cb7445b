/**
 * Events per second over a sliding window, kept as per-second buckets so memory stays
 * constant however high the rate.
 */
export class RateMeter {
  private readonly buckets: number[];
  private readonly stamps: number[];
  private firstSecond = -1;

  constructor(
    private readonly clock: () => number,
    private readonly windowS = 10,
  ) {
    this.buckets = new Array<number>(windowS).fill(0);
    this.stamps = new Array<number>(windowS).fill(-1);
  }

  /** Starts the averaging period without an event (a meter of rare events, e.g. drops). */
  begin(): void {
    if (this.firstSecond < 0) this.firstSecond = Math.floor(this.clock() / 1000);
  }

  mark(count = 1): void {
    const second = Math.floor(this.clock() / 1000);
    if (this.firstSecond < 0) this.firstSecond = second;
    const slot = second % this.windowS;
    if (this.stamps[slot] !== second) {
      this.stamps[slot] = second;
      this.buckets[slot] = 0;
    }
    this.buckets[slot] = (this.buckets[slot] ?? 0) + count;
  }

  /** Rate over the last complete seconds of the window (the current second is partial). */
  rate(): number {
    const now = Math.floor(this.clock() / 1000);
    let total = 0;
    for (let i = 0; i < this.windowS; i++) {
      const stamp = this.stamps[i] ?? -1;
      if (stamp < now && stamp >= now - this.windowS + 1) total += this.buckets[i] ?? 0;
    }
    // A young meter divides by the seconds since its first event, not by the whole window.
    if (this.firstSecond < 0) return 0;
    const seconds = Math.min(this.windowS - 1, now - this.firstSecond);
    return seconds > 0 ? total / seconds : 0;
  }
}
