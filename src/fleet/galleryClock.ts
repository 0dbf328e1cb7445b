/**
 * This node's hybrid logical clock, kept in the store so that stamps keep increasing across
 * restarts and across the processes (agent, CLI) sharing the database.
 */
import type { ClassStore } from '../storage/classStore.js';
import type { GalleryTables } from '../storage/galleryTables.js';
import { formatStamp, observe, parseStamp, tick, type Stamp } from './hlc.js';

export class GalleryClock {
  constructor(
    private readonly store: ClassStore,
    private readonly tables: GalleryTables,
    private readonly nodeId: string,
    private readonly now: () => number,
  ) {}

  /** `n` new stamps, after every stamp this node made or saw. */
  next(n: number): Stamp[] {
    // One transaction: another process reading the clock meanwhile would mint the same stamps.
    return this.store.transaction(() => {
      let state = this.tables.clock();
      const out: Stamp[] = [];
      for (let i = 0; i < n; i++) {
        state = tick(state, this.now());
        out.push(formatStamp(state, this.nodeId));
      }
      this.tables.saveClock(state);
      return out;
    });
  }

  one(): Stamp {
    return this.next(1)[0]!;
  }

  /** Moves the clock past the latest of `stamps` (received from other nodes). */
  observe(stamps: readonly Stamp[]): void {
    const parsed = parseStamp(stamps.reduce((a, b) => (a > b ? a : b), ''));
    if (!parsed) return;
    this.store.transaction(() => {
      const state = this.tables.clock();
      const next = observe(state, parsed);
      if (next !== state) this.tables.saveClock(next);
    });
  }
}
