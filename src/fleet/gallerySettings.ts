/**
 * This node's settings of classes (background, threshold) as the fleet shares them: each
 * stamped when set, the latest stamp winning fleet-wide, and the class row following the
 * settings in effect.
 */
import type { ClassStore } from '../storage/classStore.js';
import type { GalleryTables, SettingsRow } from '../storage/galleryTables.js';
import type { GalleryClock } from './galleryClock.js';
import type { Stamp } from './hlc.js';
import { newerSettings, type Fate, type Settings } from './merge.js';

type ClassRowSettings = { background: boolean; threshold: number | null };

export class GallerySettings {
  constructor(
    private readonly store: ClassStore,
    private readonly tables: GalleryTables,
    private readonly clock: GalleryClock,
  ) {}

  rows(): SettingsRow[] {
    return this.tables.settingsRows();
  }

  /** A change made here (class/set): stamped now, and the class row follows when this node has the class. */
  set(label: string, change: { threshold?: number | null; background?: boolean }, effective: Settings): void {
    const local = this.store.listClasses().some((c) => c.label === label);
    this.store.transaction(() => {
      const at = this.clock.one();
      const row: SettingsRow = {
        label,
        background: change.background ?? effective.background,
        threshold: change.threshold === undefined ? effective.threshold : change.threshold,
        at,
        labelAt: at,
        rowBackground: null,
        rowThreshold: null,
      };
      if (local) {
        this.store.setClass(label, { threshold: row.threshold, background: row.background });
        row.rowBackground = row.background;
        row.rowThreshold = row.threshold;
      }
      this.tables.putSettings(row);
    });
  }

  /** Settings whose label the operations moved or removed: they follow (the newer of two at one label wins). */
  move(changes: ReadonlyArray<{ s: SettingsRow; fate: Fate }>): void {
    const rows = new Map(this.tables.settingsRows().map((s) => [s.label, s]));
    for (const { s, fate } of changes) {
      this.tables.deleteSettings(s.label);
      rows.delete(s.label);
      if (fate.gone) continue;
      const there = rows.get(fate.label);
      if (there && there.at >= s.at) continue;
      const moved = { ...s, label: fate.label, labelAt: fate.labelAt };
      this.tables.putSettings(moved);
      rows.set(fate.label, moved);
    }
  }

  /**
   * A class new here adopts the fleet's settings (with their stamp); a change made outside the
   * book (the CLI's --background) is stamped now; the class row then takes the settings in
   * effect fleet-wide. `remote`: the other nodes' settings per class; `shared`: the classes anyone has.
   */
  sync(remote: Map<string, Settings>, shared: ReadonlySet<string>): void {
    const classes = this.store.listClasses();
    const mine = new Map(this.tables.settingsRows().map((s) => [s.label, s]));
    // Settings kept for a class nobody has shots of any more are let go.
    const orphans = [...mine.keys()].filter((label) => !shared.has(label) && !classes.some((c) => c.label === label));
    let stamp: Stamp | null = null;
    const now = (): Stamp => (stamp ??= this.clock.one());
    this.store.transaction(() => {
      const writes: SettingsRow[] = [];
      const rowWrites: Array<{ label: string; settings: Settings }> = [];
      for (const c of classes) {
        const row = { background: c.background, threshold: c.threshold_override };
        const fleet = remote.get(c.label) ?? null;
        const next = ownSettings(mine.get(c.label), fleet, row, now);
        const effective = newerSettings(next, fleet)!;
        if (effective.background !== row.background || effective.threshold !== row.threshold) rowWrites.push({ label: c.label, settings: effective });
        const updated = { ...next, label: c.label, rowBackground: effective.background, rowThreshold: effective.threshold };
        if (!sameSettings(mine.get(c.label), updated)) writes.push(updated);
      }
      for (const label of orphans) this.tables.deleteSettings(label);
      for (const w of writes) this.tables.putSettings(w);
      for (const { label, settings } of rowWrites) this.store.setClass(label, { threshold: settings.threshold, background: settings.background });
    });
  }
}

function ownSettings(mine: SettingsRow | undefined, fleet: Settings | null, row: ClassRowSettings, now: () => Stamp): Omit<SettingsRow, 'label'> {
  if (!mine) {
    if (fleet) return { ...fleet, labelAt: now(), rowBackground: row.background, rowThreshold: row.threshold };
    const at = now();
    return { ...row, at, labelAt: at, rowBackground: row.background, rowThreshold: row.threshold };
  }
  const changedHere = mine.rowBackground !== row.background || mine.rowThreshold !== row.threshold;
  return changedHere ? { ...mine, ...row, at: now() } : mine;
}

function sameSettings(a: SettingsRow | undefined, b: SettingsRow): boolean {
  return (
    a !== undefined &&
    a.background === b.background &&
    a.threshold === b.threshold &&
    a.at === b.at &&
    a.labelAt === b.labelAt &&
    a.rowBackground === b.rowBackground &&
    a.rowThreshold === b.rowThreshold
  );
}
