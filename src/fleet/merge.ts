/**
 * The gallery's merge rules, pure, the same on every node.
 *
 * Every shot (and every class negative) has a global id, the stamp of its creation, and a
 * label it has carried since `labelAt` (its creation, or the rename that moved it there).
 * Removals, renames and undos are operations ("tombstones"), stamped by the hybrid logical
 * clock, and kept by every node. A record's fate is decided by the operations stamped after
 * `labelAt`, in stamp order:
 *
 * - `remove L at t`: a record carrying L at t is gone;
 * - `rename L → M at t`: a record carrying L at t carries M from t on;
 * - `drop id at t` (undo, shot removal): the record with that id is gone.
 *
 * Owners apply the operations to their own records (they delete theirs, and move them on a
 * rename, setting `labelAt`), so an operation is only needed while some node still holds a
 * record it applies to: see compact().
 */
import { stampWall, type Stamp } from './hlc.js';

export type Op =
  | { kind: 'remove'; label: string; at: Stamp }
  | { kind: 'rename'; label: string; to: string; at: Stamp }
  | { kind: 'drop'; id: string; label: string; at: Stamp };

/** A record as far as its fate goes: its id, and its label since `labelAt`. */
export interface Placed {
  id: string;
  label: string;
  labelAt: Stamp;
}

export type Fate = { gone: false; label: string; labelAt: Stamp } | { gone: true; by: Stamp };

/** Per-class settings as one node shares them; the latest `at` wins fleet-wide. */
export interface Settings {
  background: boolean;
  threshold: number | null;
  /** When these values were set (on this node, or adopted from the fleet with their stamp). */
  at: Stamp;
}

/** The operations every node holds, indexed for fate(). */
export class OpLog {
  /** Remove and rename operations per label they apply to, oldest first. */
  private readonly byLabel = new Map<string, Op[]>();
  private readonly dropped = new Map<string, Stamp>();
  readonly ops: Op[];

  constructor(ops: Iterable<Op>) {
    const unique = new Map<Stamp, Op>();
    for (const op of ops) unique.set(op.at, op);
    this.ops = [...unique.values()].sort((a, b) => (a.at < b.at ? -1 : 1));
    for (const op of this.ops) {
      if (op.kind === 'drop') {
        if (!this.dropped.has(op.id)) this.dropped.set(op.id, op.at);
        continue;
      }
      const list = this.byLabel.get(op.label) ?? [];
      list.push(op);
      this.byLabel.set(op.label, list);
    }
  }

  /** Where the operations leave a record; `touched` collects the stamps of those that applied. */
  fate(record: Placed, touched?: Set<Stamp>): Fate {
    const drop = this.dropped.get(record.id);
    if (drop !== undefined) {
      touched?.add(drop);
      return { gone: true, by: drop };
    }
    let { label, labelAt } = record;
    // Each step moves labelAt strictly forward through a finite list: it ends.
    for (;;) {
      const list = this.byLabel.get(label);
      const op = list ? firstAfter(list, labelAt) : undefined;
      if (!op) return { gone: false, label, labelAt };
      touched?.add(op.at);
      if (op.kind !== 'rename') return { gone: true, by: op.at };
      label = op.to;
      labelAt = op.at;
    }
  }
}

/** The first operation of a sorted list stamped after `at` (binary search). */
function firstAfter(list: Op[], at: Stamp): Op | undefined {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.at <= at) lo = mid + 1;
    else hi = mid;
  }
  return list[lo];
}

/** What an owner does to its own records: which go, and which move to another label. */
export function bake(records: readonly Placed[], log: OpLog): { gone: string[]; moved: Placed[] } {
  const gone: string[] = [];
  const moved: Placed[] = [];
  for (const r of records) {
    const fate = log.fate(r);
    if (fate.gone) gone.push(r.id);
    else if (fate.label !== r.label || fate.labelAt !== r.labelAt) moved.push({ id: r.id, label: fate.label, labelAt: fate.labelAt });
  }
  return { gone, moved };
}

/**
 * Compaction (the documented rule): an operation is kept while it is younger than `ttlMs`
 * (by its stamp's wall clock), and after that for as long as it still applies to a record
 * this node holds (its own or another node's). Older ones that apply to nothing held are
 * dropped. A node away for longer than `ttlMs` with shots it made before a removal it never
 * saw therefore keeps those shots, and shares them again.
 */
export function compact(log: OpLog, held: readonly Placed[], nowMs: number, ttlMs: number): Op[] {
  const touched = new Set<Stamp>();
  for (const r of held) log.fate(r, touched);
  return log.ops.filter((op) => touched.has(op.at) || nowMs - stampWall(op.at) < ttlMs);
}

/** The settings that win: the latest `at` (stamps are unique, so the order is total). */
export function newerSettings(a: Settings | null, b: Settings | null): Settings | null {
  if (!a) return b;
  if (!b) return a;
  if (b.at !== a.at) return b.at > a.at ? b : a;
  // Equal stamps are copies of the same values; a tie broken by value keeps it deterministic anyway.
  return JSON.stringify([b.background, b.threshold]) > JSON.stringify([a.background, a.threshold]) ? b : a;
}
