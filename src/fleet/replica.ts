/**
 * What a node knows of the other nodes' gallery messages (their metadata; embeddings stay in
 * SQLite), and the rules for taking a message in. Pure and in memory; the gallery book
 * persists every decision. The rules make the outcome independent of the order messages
 * arrive in:
 *
 * - a contribution (one node's shots of one class, for one model) replaces the one stored
 *   for the same node, class and model only when its version stamp is newer;
 * - a node's manifest lists its contributions: one it no longer lists, and older than the
 *   manifest, is dropped (a retained message the node cleared is never delivered again, so
 *   only its absence from the manifest tells that it is gone), and such a contribution
 *   arriving late is ignored;
 * - operations (removals, renames, undos) are a set: each is kept once, by its stamp.
 */
import type { Stamp } from './hlc.js';
import { OpLog, newerSettings, type Op, type Settings } from './merge.js';

export interface RecordMeta {
  id: string;
  kind: 'shot' | 'negative';
  at: Stamp;
  labelAt: Stamp;
}

/** A class's settings as one node shares them, with where they stand (renames move them). */
export interface PlacedSettings extends Settings {
  labelAt: Stamp;
}

export interface ContributionMeta {
  node: string;
  label: string;
  model: string;
  version: Stamp;
  /** null: the node holds shots of the class but no settings for it (a rename took them away). */
  settings: PlacedSettings | null;
  records: RecordMeta[];
}

export interface ManifestEntry {
  label: string;
  model: string;
  version: Stamp;
}

export interface ManifestMeta {
  node: string;
  at: Stamp;
  entries: ManifestEntry[];
}

export const contributionKey = (node: string, model: string, label: string): string => JSON.stringify([node, model, label]);

export class Replica {
  private readonly contributions = new Map<string, ContributionMeta>();
  private readonly manifests = new Map<string, { at: Stamp; keys: Set<string> }>();
  private readonly ops = new Map<Stamp, Op>();
  private cachedLog: OpLog | null = null;

  /** Whether a contribution would be taken: newer than the one stored, and not dropped by its node's manifest. */
  accepts(c: ContributionMeta): boolean {
    const key = contributionKey(c.node, c.model, c.label);
    const manifest = this.manifests.get(c.node);
    if (manifest && c.version <= manifest.at && !manifest.keys.has(key)) return false;
    const stored = this.contributions.get(key);
    return !stored || stored.version < c.version;
  }

  /** True when it was taken. */
  applyContribution(c: ContributionMeta): boolean {
    if (!this.accepts(c)) return false;
    this.contributions.set(contributionKey(c.node, c.model, c.label), c);
    return true;
  }

  /** The contributions a manifest would drop, or null when it is not newer than the one held. */
  planManifest(m: ManifestMeta): ContributionMeta[] | null {
    const stored = this.manifests.get(m.node);
    if (stored && stored.at >= m.at) return null;
    const keys = new Set(m.entries.map((e) => contributionKey(m.node, e.model, e.label)));
    return [...this.contributions.entries()].filter(([key, c]) => c.node === m.node && !keys.has(key) && c.version <= m.at).map(([, c]) => c);
  }

  /** Takes a newer manifest; returns the contributions it drops (null: the manifest was not newer). */
  applyManifest(m: ManifestMeta): ContributionMeta[] | null {
    const dropped = this.planManifest(m);
    if (dropped === null) return null;
    this.manifests.set(m.node, { at: m.at, keys: new Set(m.entries.map((e) => contributionKey(m.node, e.model, e.label))) });
    for (const c of dropped) this.contributions.delete(contributionKey(c.node, c.model, c.label));
    return dropped;
  }

  /** True when the operation is held. */
  hasOp(at: Stamp): boolean {
    return this.ops.has(at);
  }

  /** Adds operations not held yet; returns those added. */
  applyOps(ops: readonly Op[]): Op[] {
    const added = ops.filter((op) => !this.ops.has(op.at));
    for (const op of added) this.ops.set(op.at, op);
    if (added.length > 0) this.cachedLog = null;
    return added;
  }

  /** Forgets operations (compaction). */
  forgetOps(stamps: Iterable<Stamp>): void {
    for (const at of stamps) if (this.ops.delete(at)) this.cachedLog = null;
  }

  log(): OpLog {
    return (this.cachedLog ??= new OpLog(this.ops.values()));
  }

  contribution(node: string, model: string, label: string): ContributionMeta | undefined {
    return this.contributions.get(contributionKey(node, model, label));
  }

  allContributions(): ContributionMeta[] {
    return [...this.contributions.values()];
  }

  manifestAt(node: string): Stamp | null {
    return this.manifests.get(node)?.at ?? null;
  }

  /** Nodes this node has a manifest of. */
  peers(): string[] {
    return [...this.manifests.keys()].sort();
  }
}

/** A record held by this node, as the merged view sees it. */
export interface HeldRecord extends RecordMeta {
  node: string;
  /** The label it carries in its contribution (or the local class), before the operations. */
  label: string;
  /** 'local', or the contribution's key. */
  source: string;
  version: Stamp;
}

export interface ClassMeta {
  label: string;
  /** Live records, oldest first, each with the label the operations give it. */
  records: HeldRecord[];
  settings: Settings | null;
}

export interface LocalView {
  records: Array<RecordMeta & { label: string }>;
  settings: Array<PlacedSettings & { label: string }>;
}

/**
 * The merged classes: every live shot and negative of this node and of the contributions
 * given, under the label the operations give it, and per class the latest settings. A record
 * held twice (its owner moved it, and the older contribution is still here) counts once: the
 * local one, else the newer contribution's. A class exists while it has a live shot.
 */
export function mergedClasses(remote: readonly ContributionMeta[], local: LocalView, log: OpLog, self: string): Map<string, ClassMeta> {
  const byId = new Map<string, HeldRecord>();
  for (const r of local.records) byId.set(r.id, { ...r, node: self, source: 'local', version: '' });
  for (const c of remote) {
    const source = contributionKey(c.node, c.model, c.label);
    for (const r of c.records) {
      const held = byId.get(r.id);
      if (held && (held.source === 'local' || held.version >= c.version)) continue;
      byId.set(r.id, { ...r, node: c.node, label: c.label, source, version: c.version });
    }
  }
  const classes = new Map<string, ClassMeta>();
  for (const r of byId.values()) {
    const fate = log.fate(r);
    if (fate.gone) continue;
    const entry = classes.get(fate.label) ?? { label: fate.label, records: [], settings: null };
    entry.records.push({ ...r, label: fate.label, labelAt: fate.labelAt });
    classes.set(fate.label, entry);
  }
  const settings = [...local.settings.map((s) => ({ ...s, id: `settings:${self}` })), ...remote.flatMap((c) => (c.settings ? [{ ...c.settings, label: c.label, id: `settings:${c.node}` }] : []))];
  for (const s of settings) {
    const fate = log.fate(s);
    const entry = fate.gone ? undefined : classes.get(fate.label);
    if (entry) entry.settings = newerSettings(entry.settings, { background: s.background, threshold: s.threshold, at: s.at });
  }
  for (const [label, entry] of classes) {
    if (!entry.records.some((r) => r.kind === 'shot')) classes.delete(label);
    else entry.records.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : 1));
  }
  return classes;
}
