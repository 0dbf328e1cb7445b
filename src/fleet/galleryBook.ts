/**
 * The gallery book: this node's side of the fleet gallery, kept in the class store. It stamps
 * this node's shots, keeps the other nodes' contributions and every node's operations, applies
 * operations to this node's own shots, and gives the imprinting service the merged classes.
 * It does no MQTT, so the CLI uses it too: a class removed from the command line goes fleet-wide.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { SharedClass, SharedClasses } from '../imprinting/shared.js';
import type { ClassStore } from '../storage/classStore.js';
import { GalleryTables, type LocalRow, type OwnVector, type SettingsRow, type StoredReplica } from '../storage/galleryTables.js';
import { GalleryClock } from './galleryClock.js';
import { GallerySettings } from './gallerySettings.js';
import { GalleryView } from './galleryView.js';
import { stampNode, stampWall, type Stamp } from './hlc.js';
import { bake, compact, type Op, type Settings } from './merge.js';
import type { ManifestPayload, ReceivedContribution } from './payloads.js';
import { contributionKey, Replica, type ContributionMeta } from './replica.js';

export interface GalleryBookDeps {
  store: ClassStore;
  nodeId: string;
  /** The model this node's embeddings come from ('' when unknown: the CLI without a detector). */
  modelId: () => string;
  logger: Logger;
  /** gallery.tombstone_days. */
  tombstoneDays: number;
  now?: () => number;
}

/** What this node shares of one class: its records' metadata and settings, and a digest of both. */
export interface OwnClass {
  label: string;
  settings: SettingsRow | null;
  records: LocalRow[];
  digest: string;
}

export interface GalleryStatus {
  peers: string[];
  last_sync: string | null;
  classes_from_peers: number;
}

type Outcome = 'applied' | 'stale';

export class GalleryBook implements SharedClasses {
  private readonly tables: GalleryTables;
  private readonly clock: GalleryClock;
  private readonly settings: GallerySettings;
  private replica = new Replica();
  private seenVersion = -1;
  private readonly view: GalleryView;
  private lastSync: Date | null = null;

  constructor(private readonly deps: GalleryBookDeps) {
    this.tables = new GalleryTables(deps.store);
    this.clock = new GalleryClock(deps.store, this.tables, deps.nodeId, () => this.now());
    this.settings = new GallerySettings(deps.store, this.tables, this.clock);
    this.view = new GalleryView(this.tables, this.settings, deps.nodeId, () => this.replica);
  }

  /** Loads what was stored (the store must be started): a restart needs no re-sync to work. */
  async start(): Promise<void> {
    this.replica = replicaOf(this.tables.load());
    this.seenVersion = this.deps.store.dataVersion();
    this.refresh();
  }

  async stop(): Promise<void> {
    this.view.invalidate();
    this.view.forgetVectors();
  }

  // ---- SharedClasses: what the imprinting service asks ----

  refresh(): void {
    this.reloadIfChangedElsewhere();
    this.stampNew();
    this.syncSettings();
    this.changed();
  }

  classes(model: string): Map<string, SharedClass> {
    return this.view.get(model).classes;
  }

  remove(label: string): void {
    this.issue({ kind: 'remove', label });
  }

  rename(label: string, to: string): void {
    this.issue({ kind: 'rename', label, to });
  }

  undo(label: string): { label: string; shots: number } {
    const newest = this.view.get(this.deps.modelId()).meta.get(label)?.records.filter((r) => r.kind === 'shot').at(-1);
    if (!newest) throw new AppError('not_found', `label: no class "${label}"`, 'label');
    this.issue({ kind: 'drop', id: newest.id, label });
    return { label, shots: this.shotsOf(label) };
  }

  removeShot(id: number): { label: string; shots: number } {
    this.stampNew();
    const row = this.tables.localRows().find((r) => r.kind === 'shot' && r.localId === id);
    if (!row?.gid) throw new AppError('not_found', `shot: no shot ${id}`, 'shot');
    this.issue({ kind: 'drop', id: row.gid, label: row.label });
    return { label: row.label, shots: this.shotsOf(row.label) };
  }

  setClass(label: string, settings: { threshold?: number | null; background?: boolean }): void {
    const current = this.view.get(this.deps.modelId()).meta.get(label);
    if (!current) throw new AppError('not_found', `label: no class "${label}"`, 'label');
    const effective: Settings = current.settings ?? { background: false, threshold: null, at: '' };
    this.settings.set(label, settings, effective);
    this.changed();
  }

  // ---- what the gallery sync feeds in ----

  /** A contribution of another node, its vectors already in `space` (this node's model). */
  ingestContribution(rc: ReceivedContribution, space: string, bytes: number): Outcome {
    const { meta } = rc;
    if (!this.replica.accepts(meta)) return 'stale';
    this.deps.store.transaction(() => {
      this.tables.saveContribution(meta, space, rc.vectors, bytes, new Date(this.now()));
      this.clock.observe([meta.version, ...meta.records.map((r) => r.labelAt)]);
    });
    this.replica.applyContribution(meta);
    this.view.forgetVectors(contributionKey(meta.node, meta.model, meta.label));
    return this.synced();
  }

  ingestManifest(p: ManifestPayload): Outcome {
    const manifest = { node: p.node, at: p.at, entries: p.classes.map(({ label, model, version }) => ({ label, model, version })) };
    const dropped = this.replica.planManifest(manifest);
    if (dropped === null) return 'stale';
    this.deps.store.transaction(() => {
      for (const c of dropped) this.tables.deleteContribution(c.node, c.model, c.label);
      this.tables.saveManifest(manifest, new Date(this.now()));
      this.clock.observe([p.at]);
    });
    this.replica.applyManifest(manifest);
    return this.synced();
  }

  ingestOps(ops: readonly Op[]): Outcome {
    const fresh = ops.filter((op) => !this.replica.hasOp(op.at));
    if (fresh.length === 0) return 'stale';
    this.deps.store.transaction(() => {
      this.tables.insertOps(fresh);
      this.clock.observe(fresh.map((op) => op.at));
    });
    this.replica.applyOps(fresh);
    this.bakeOwn();
    // Operations past their time that apply to nothing held are let go at once.
    if (fresh.some((op) => this.now() - stampWall(op.at) >= this.ttlMs())) this.compact();
    return this.synced();
  }

  /** Forgets other nodes' contributions stored in another model's space (this node's model changed). */
  dropOtherSpaces(space: string): number {
    const dropped = this.tables.dropOtherSpaces(space);
    if (dropped > 0) {
      this.replica = replicaOf(this.tables.load());
      this.view.forgetVectors();
      this.changed();
    }
    return dropped;
  }

  /** True when a contribution of `node` for `label`, of a model starting with `modelPrefix`, is held at `version` or newer. */
  holds(node: string, modelPrefix: string, label: string, version: string | null): boolean {
    if (version === null) return false;
    return this.replica.allContributions().some((c) => c.node === node && c.label === label && c.model.startsWith(modelPrefix) && c.version >= version);
  }

  /** Whether a contribution would be taken (newer than the one held, not dropped by its node's manifest). */
  accepts(meta: ContributionMeta): boolean {
    return this.replica.accepts(meta);
  }

  /** Vectors of another node's records already stored in `space` (re-embedding skips them). */
  knownVectors(node: string, space: string, gids: readonly string[]): Map<string, Float32Array> {
    return this.tables.knownVectors(node, space, gids);
  }

  // ---- what the gallery sync publishes ----

  /** This node's classes as it shares them (shots of `model`), each with a digest of what it carries. */
  own(model: string): OwnClass[] {
    this.stampNew();
    const rows = this.tables.localRows().filter((r) => r.gid !== null && r.model === model);
    const settings = new Map(this.settings.rows().map((s) => [s.label, s]));
    const labels = [...new Set([...rows.map((r) => r.label), ...settings.keys()])].sort();
    return labels.map((label) => {
      const records = rows.filter((r) => r.label === label).sort((a, b) => (a.gid! < b.gid! ? -1 : 1));
      const s = settings.get(label) ?? null;
      const shared = { records: records.map((r) => [r.gid, r.kind, r.at, r.labelAt]), settings: s && [s.background, s.threshold, s.at, s.labelAt] };
      return { label, settings: s, records, digest: createHash('sha256').update(JSON.stringify(shared)).digest('hex') };
    });
  }

  ownVectors(label: string, model: string): OwnVector[] {
    return this.tables.ownVectors(label, model);
  }

  /** The operations this node issued and still keeps. */
  ownOps(): Op[] {
    return this.replica.log().ops.filter((op) => stampNode(op.at) === this.deps.nodeId);
  }

  /** One new stamp (versions of what this node publishes). */
  stamp(): Stamp {
    return this.clock.one();
  }

  published(topic: string): { digest: string; version: Stamp } | null {
    return this.tables.published(topic);
  }

  setPublished(topic: string, digest: string, version: Stamp): void {
    this.tables.setPublished(topic, digest, version);
  }

  forgetPublished(topic: string): void {
    this.tables.forgetPublished(topic);
  }

  /** Topics this node published (in any run) and has not cleared. */
  publishedTopics(): string[] {
    return this.tables.publishedTopics();
  }

  /** A digest of the merged classes (labels, live records, settings): unchanged means nothing to reload. */
  signature(): string {
    const meta = this.view.get(this.deps.modelId()).meta;
    const hash = createHash('sha1');
    for (const label of [...meta.keys()].sort()) {
      const c = meta.get(label)!;
      hash.update(JSON.stringify([label, c.settings, c.records.map((r) => r.id)]));
    }
    return hash.digest('hex');
  }

  status(): GalleryStatus {
    const meta = this.view.get(this.deps.modelId()).meta;
    const fromPeers = [...meta.values()].filter((c) => c.records.some((r) => r.node !== this.deps.nodeId)).length;
    return {
      peers: this.replica.peers().filter((n) => n !== this.deps.nodeId),
      last_sync: this.lastSync ? this.lastSync.toISOString() : null,
      classes_from_peers: fromPeers,
    };
  }

  /** Applies the compaction rule (merge.ts compact()); returns how many operations were let go. */
  compact(): number {
    const log = this.replica.log();
    const kept = new Set(compact(log, this.view.held(), this.now(), this.ttlMs()).map((op) => op.at));
    const gone = log.ops.filter((op) => !kept.has(op.at)).map((op) => op.at);
    if (gone.length === 0) return 0;
    this.tables.deleteOps(gone);
    this.replica.forgetOps(gone);
    this.changed();
    this.deps.logger.info({ compacted: gone.length, kept: kept.size }, 'gallery: tombstones compacted');
    return gone.length;
  }

  // ---- internals ----

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private ttlMs(): number {
    return this.deps.tombstoneDays * 86_400_000;
  }

  private changed(): void {
    this.view.invalidate();
  }

  private synced(): Outcome {
    this.lastSync = new Date(this.now());
    this.changed();
    return 'applied';
  }

  /** Another process (the CLI) wrote to the store: read the gallery's tables again. */
  private reloadIfChangedElsewhere(): void {
    const version = this.deps.store.dataVersion();
    if (version === this.seenVersion) return;
    this.seenVersion = version;
    this.replica = replicaOf(this.tables.load());
    this.view.forgetVectors();
  }

  /** Gives every new shot and class negative of this node its global id and stamp. */
  private stampNew(): void {
    const fresh = this.tables.localRows().filter((r) => r.gid === null);
    if (fresh.length === 0) return;
    this.deps.store.transaction(() => {
      const stamps = this.clock.next(fresh.length);
      this.tables.stampLocal(fresh.map((r, i) => ({ kind: r.kind, localId: r.localId, gid: `${randomBytes(8).toString('hex')}@${this.deps.nodeId}`, at: stamps[i]! })));
    });
    this.changed();
  }

  /** A removal, rename or undo made here: stamped, kept, and applied to this node's own shots at once. */
  private issue(op: { kind: 'remove'; label: string } | { kind: 'rename'; label: string; to: string } | { kind: 'drop'; id: string; label: string }): void {
    this.stampNew();
    const stamped = this.deps.store.transaction(() => {
      const full = { ...op, at: this.clock.one() } as Op;
      this.tables.insertOps([full]);
      return full;
    });
    this.replica.applyOps([stamped]);
    this.bakeOwn();
    this.changed();
    this.deps.logger.info({ op: stamped.kind, label: stamped.label, ...(stamped.kind === 'rename' ? { to: stamped.to } : {}) }, 'gallery: change shared with the fleet');
  }

  /** The owner's part of the rules: its removed shots go, its renamed ones move (their label_at set). */
  private bakeOwn(): void {
    const log = this.replica.log();
    const rows = this.tables.localRows().filter((r) => r.gid !== null);
    const byGid = new Map(rows.map((r) => [r.gid!, r]));
    const { gone, moved } = bake(rows.map((r) => ({ id: r.gid!, label: r.label, labelAt: r.labelAt! })), log);
    const settings = this.settings.rows().map((s) => ({ s, fate: log.fate({ id: `settings:${this.deps.nodeId}`, label: s.label, labelAt: s.labelAt }) }));
    const settingsChange = settings.filter(({ s, fate }) => fate.gone || fate.label !== s.label);
    if (gone.length === 0 && moved.length === 0 && settingsChange.length === 0) return;
    const goneRows = gone.map((id) => byGid.get(id)!);
    const moves = new Map<string, { to: string; shots: number[]; negatives: number[] }>();
    for (const m of moved) {
      const row = byGid.get(m.id)!;
      const entry = moves.get(m.label) ?? { to: m.label, shots: [], negatives: [] };
      (row.kind === 'shot' ? entry.shots : entry.negatives).push(row.localId);
      moves.set(m.label, entry);
    }
    this.deps.store.transaction(() => {
      this.deps.store.reshape({
        goneShots: goneRows.filter((r) => r.kind === 'shot').map((r) => r.localId),
        goneNegatives: goneRows.filter((r) => r.kind === 'negative').map((r) => r.localId),
        moves: [...moves.values()],
      });
      for (const m of moved) this.tables.setLabelAt(byGid.get(m.id)!.kind, byGid.get(m.id)!.localId, m.labelAt);
      this.settings.move(settingsChange);
    });
    this.changed();
  }

  /** This node's settings against the fleet's: see GallerySettings.sync(). */
  private syncSettings(): void {
    const merged = this.view.remoteMerged();
    const remote = new Map([...merged].flatMap(([label, c]) => (c.settings ? [[label, c.settings] as const] : [])));
    this.settings.sync(remote, new Set(merged.keys()));
  }

  private shotsOf(label: string): number {
    return this.view.get(this.deps.modelId()).meta.get(label)?.records.filter((r) => r.kind === 'shot').length ?? 0;
  }
}


/** The replica as stored: contributions, then manifests, then operations. */
function replicaOf(stored: StoredReplica): Replica {
  const replica = new Replica();
  for (const c of stored.contributions) replica.applyContribution(c);
  for (const m of stored.manifests) replica.applyManifest(m);
  replica.applyOps(stored.ops);
  return replica;
}
