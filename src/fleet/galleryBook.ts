/**
 * The gallery book: this node's side of the fleet gallery, in the class store's database.
 * It stamps this node's shots (a global id and a hybrid-logical-clock stamp each), keeps
 * the other nodes' contributions and every node's operations, applies operations to this
 * node's own shots (an owner deletes its removed shots and moves its renamed ones), and
 * gives the imprinting service the merged classes (SharedClasses). It does no MQTT: the
 * gallery sync feeds it and publishes what it owns; the CLI uses it without the sync, so a
 * class removed from the command line is removed fleet-wide too.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { SharedClass, SharedClasses } from '../imprinting/shared.js';
import type { ClassStore } from '../storage/classStore.js';
import { parseStamp, stampNode, stampWall, type Stamp } from './hlc.js';
import { bake, compact, newerSettings, type Op, type Placed, type Settings } from './merge.js';
import type { ManifestPayload, ReceivedContribution } from './payloads.js';
import { GalleryTables, type LocalRow, type OwnVector, type SettingsRow } from './galleryTables.js';
import { contributionKey, mergedClasses, Replica, type ClassMeta, type ContributionMeta, type HeldRecord, type LocalView } from './replica.js';

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
  private replica = new Replica();
  private seenVersion = -1;
  private generation = 0;
  private cache: { generation: number; model: string; meta: Map<string, ClassMeta>; classes: Map<string, SharedClass> } | null = null;
  /** Vectors of stored contributions, by contribution key, for the version they were read at. */
  private readonly vectorCache = new Map<string, { version: Stamp; vectors: Map<string, Float32Array> }>();
  private lastSync: Date | null = null;

  constructor(private readonly deps: GalleryBookDeps) {
    this.tables = new GalleryTables(deps.store);
  }

  /** Loads what was stored (the store must be started): a restart needs no re-sync to work. */
  async start(): Promise<void> {
    this.replica = this.tables.loadReplica();
    this.seenVersion = this.deps.store.dataVersion();
    this.refresh();
  }

  async stop(): Promise<void> {
    this.cache = null;
    this.vectorCache.clear();
  }

  // ---- SharedClasses: what the imprinting service asks ----

  refresh(): void {
    this.reloadIfChangedElsewhere();
    this.stampNew();
    this.syncSettings();
    this.changed();
  }

  classes(model: string): Map<string, SharedClass> {
    return this.view(model).classes;
  }

  remove(label: string): void {
    this.issue({ kind: 'remove', label });
  }

  rename(label: string, to: string): void {
    this.issue({ kind: 'rename', label, to });
  }

  undo(label: string): { label: string; shots: number } {
    const newest = this.view(this.deps.modelId()).meta.get(label)?.records.filter((r) => r.kind === 'shot').at(-1);
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
    const current = this.view(this.deps.modelId()).meta.get(label);
    if (!current) throw new AppError('not_found', `label: no class "${label}"`, 'label');
    const effective: Settings = current.settings ?? { background: false, threshold: null, at: '' };
    const local = this.deps.store.listClasses().find((c) => c.label === label);
    this.deps.store.write((db) => {
      const [at] = this.tables.nextStamps(db, 1, this.deps.nodeId, this.now());
      const row: SettingsRow = {
        label,
        background: settings.background ?? effective.background,
        threshold: settings.threshold === undefined ? effective.threshold : settings.threshold,
        at: at!,
        labelAt: at!,
        rowBackground: null,
        rowThreshold: null,
      };
      if (local) {
        this.deps.store.setClass(label, { threshold: row.threshold, background: row.background });
        row.rowBackground = row.background;
        row.rowThreshold = row.threshold;
      }
      this.tables.putSettings(db, row);
    });
    this.changed();
  }

  // ---- what the gallery sync feeds in ----

  /** A contribution of another node, its vectors already in `space` (this node's model). */
  ingestContribution(rc: ReceivedContribution, space: string, bytes: number): Outcome {
    const { meta } = rc;
    if (!this.replica.accepts(meta)) return 'stale';
    this.deps.store.write((db) => {
      this.tables.saveContribution(db, meta, space, rc.vectors, bytes, new Date(this.now()));
      this.observe(db, [meta.version, ...meta.records.map((r) => r.labelAt)]);
    });
    this.replica.applyContribution(meta);
    this.vectorCache.delete(contributionKey(meta.node, meta.model, meta.label));
    return this.synced();
  }

  ingestManifest(p: ManifestPayload): Outcome {
    const manifest = { node: p.node, at: p.at, entries: p.classes.map(({ label, model, version }) => ({ label, model, version })) };
    const dropped = this.replica.planManifest(manifest);
    if (dropped === null) return 'stale';
    this.deps.store.write((db) => {
      for (const c of dropped) this.tables.deleteContribution(db, c.node, c.model, c.label);
      this.tables.savePeer(db, p.node, p.at, manifest.entries, new Date(this.now()));
      this.observe(db, [p.at]);
    });
    this.replica.applyManifest(manifest);
    return this.synced();
  }

  ingestOps(ops: readonly Op[]): Outcome {
    const fresh = ops.filter((op) => !this.replica.hasOp(op.at));
    if (fresh.length === 0) return 'stale';
    this.deps.store.write((db) => {
      this.tables.insertOps(db, fresh);
      this.observe(db, fresh.map((op) => op.at));
    });
    this.replica.applyOps(fresh);
    this.bakeOwn();
    // Operations past their time that apply to nothing held are let go at once.
    if (fresh.some((op) => this.now() - stampWall(op.at) >= this.ttlMs())) this.compact();
    return this.synced();
  }

  /** Forgets other nodes' contributions stored in another model's space (this node's model changed). */
  dropOtherSpaces(space: string): number {
    const dropped = this.deps.store.write((db) => this.tables.dropOtherSpaces(db, space));
    if (dropped > 0) {
      this.replica = this.tables.loadReplica();
      this.vectorCache.clear();
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
    const settings = new Map(this.tables.settingsRows().map((s) => [s.label, s]));
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
    return this.deps.store.write((db) => this.tables.nextStamps(db, 1, this.deps.nodeId, this.now())[0]!);
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
    const meta = this.view(this.deps.modelId()).meta;
    const hash = createHash('sha1');
    for (const label of [...meta.keys()].sort()) {
      const c = meta.get(label)!;
      hash.update(JSON.stringify([label, c.settings, c.records.map((r) => r.id)]));
    }
    return hash.digest('hex');
  }

  status(): GalleryStatus {
    const meta = this.view(this.deps.modelId()).meta;
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
    const kept = new Set(compact(log, this.held(), this.now(), this.ttlMs()).map((op) => op.at));
    const gone = log.ops.filter((op) => !kept.has(op.at)).map((op) => op.at);
    if (gone.length === 0) return 0;
    this.deps.store.write((db) => this.tables.deleteOps(db, gone));
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
    this.generation++;
  }

  private synced(): Outcome {
    this.lastSync = new Date(this.now());
    this.changed();
    return 'applied';
  }

  private observe(db: Parameters<GalleryTables['observe']>[0], stamps: Stamp[]): void {
    const latest = stamps.reduce((a, b) => (a > b ? a : b), '');
    const parsed = parseStamp(latest);
    if (parsed) this.tables.observe(db, parsed);
  }

  /** Another process (the CLI) wrote to the store: read the gallery's tables again. */
  private reloadIfChangedElsewhere(): void {
    const version = this.deps.store.dataVersion();
    if (version === this.seenVersion) return;
    this.seenVersion = version;
    this.replica = this.tables.loadReplica();
    this.vectorCache.clear();
  }

  /** Gives every new shot and class negative of this node its global id and stamp. */
  private stampNew(): void {
    const fresh = this.tables.localRows().filter((r) => r.gid === null);
    if (fresh.length === 0) return;
    this.deps.store.write((db) => {
      const stamps = this.tables.nextStamps(db, fresh.length, this.deps.nodeId, this.now());
      this.tables.stampLocal(db, fresh.map((r, i) => ({ kind: r.kind, localId: r.localId, gid: `${randomBytes(8).toString('hex')}@${this.deps.nodeId}`, at: stamps[i]! })));
    });
    this.changed();
  }

  /** A removal, rename or undo made here: stamped, kept, and applied to this node's own shots at once. */
  private issue(op: { kind: 'remove'; label: string } | { kind: 'rename'; label: string; to: string } | { kind: 'drop'; id: string; label: string }): void {
    this.stampNew();
    const stamped = this.deps.store.write((db) => {
      const [at] = this.tables.nextStamps(db, 1, this.deps.nodeId, this.now());
      const full = { ...op, at: at! } as Op;
      this.tables.insertOps(db, [full]);
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
    const settings = this.tables.settingsRows().map((s) => ({ s, fate: log.fate({ id: `settings:${this.deps.nodeId}`, label: s.label, labelAt: s.labelAt }) }));
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
    this.deps.store.write((db) => {
      this.deps.store.reshape({
        goneShots: goneRows.filter((r) => r.kind === 'shot').map((r) => r.localId),
        goneNegatives: goneRows.filter((r) => r.kind === 'negative').map((r) => r.localId),
        moves: [...moves.values()],
      });
      for (const m of moved) this.tables.setLabelAt(db, byGid.get(m.id)!.kind, byGid.get(m.id)!.localId, m.labelAt);
      this.moveSettings(db, settingsChange);
    });
    this.changed();
  }

  private moveSettings(db: Parameters<GalleryTables['putSettings']>[0], changes: Array<{ s: SettingsRow; fate: ReturnType<ReturnType<Replica['log']>['fate']> }>): void {
    const rows = new Map(this.tables.settingsRows().map((s) => [s.label, s]));
    for (const { s, fate } of changes) {
      this.tables.deleteSettings(db, s.label);
      rows.delete(s.label);
      if (fate.gone) continue;
      const there = rows.get(fate.label);
      if (there && there.at >= s.at) continue;
      const moved = { ...s, label: fate.label, labelAt: fate.labelAt };
      this.tables.putSettings(db, moved);
      rows.set(fate.label, moved);
    }
  }

  /**
   * This node's settings of its own classes: a class new here adopts the fleet's settings (with
   * their stamp); a change made outside the book (the CLI's --background) is stamped now; the
   * class's row then takes the settings in effect fleet-wide.
   */
  private syncSettings(): void {
    const classes = this.deps.store.listClasses();
    const mine = new Map(this.tables.settingsRows().map((s) => [s.label, s]));
    const merged = this.remoteMerged();
    const fleet = new Map([...merged].flatMap(([label, c]) => (c.settings ? [[label, c.settings] as const] : [])));
    // Settings kept for a class nobody has shots of any more are let go.
    const orphans = [...mine.keys()].filter((label) => !merged.has(label) && !classes.some((c) => c.label === label));
    let stamp: Stamp | null = null;
    const writes: SettingsRow[] = [];
    const rowWrites: Array<{ label: string; settings: Settings }> = [];
    this.deps.store.write((db) => {
      const now = (): Stamp => (stamp ??= this.tables.nextStamps(db, 1, this.deps.nodeId, this.now())[0]!);
      for (const c of classes) {
        const row = { background: c.background, threshold: c.threshold_override };
        const next = this.ownSettings(mine.get(c.label), fleet.get(c.label) ?? null, row, now);
        const effective = newerSettings(next, fleet.get(c.label) ?? null)!;
        if (effective.background !== row.background || effective.threshold !== row.threshold) rowWrites.push({ label: c.label, settings: effective });
        const updated = { ...next, label: c.label, rowBackground: effective.background, rowThreshold: effective.threshold };
        if (!sameSettings(mine.get(c.label), updated)) writes.push(updated);
      }
      for (const label of orphans) this.tables.deleteSettings(db, label);
      for (const w of writes) this.tables.putSettings(db, w);
      for (const { label, settings } of rowWrites) this.deps.store.setClass(label, { threshold: settings.threshold, background: settings.background });
    });
  }

  private ownSettings(mine: SettingsRow | undefined, fleet: Settings | null, row: { background: boolean; threshold: number | null }, now: () => Stamp): Omit<SettingsRow, 'label'> {
    if (!mine) {
      if (fleet) return { ...fleet, labelAt: now(), rowBackground: row.background, rowThreshold: row.threshold };
      const at = now();
      return { ...row, at, labelAt: at, rowBackground: row.background, rowThreshold: row.threshold };
    }
    const changedHere = mine.rowBackground !== row.background || mine.rowThreshold !== row.threshold;
    return changedHere ? { ...mine, ...row, at: now() } : mine;
  }

  /** The merged classes with only the other nodes' settings (what a class new here adopts). */
  private remoteMerged(): Map<string, ClassMeta> {
    const local = this.localView();
    return mergedClasses(this.replica.allContributions(), { records: local.records, settings: [] }, this.replica.log(), this.deps.nodeId);
  }

  private localView(): LocalView {
    const records = this.tables
      .localRows()
      .filter((r) => r.gid !== null)
      .map((r) => ({ id: r.gid!, kind: r.kind, at: r.at!, labelAt: r.labelAt!, label: r.label }));
    return { records, settings: this.tables.settingsRows() };
  }

  /** Every record this node holds (its own and other nodes'), as compaction needs them. */
  private held(): Placed[] {
    const local = this.localView();
    return [
      ...local.records,
      ...local.settings.map((s) => ({ id: `settings:${this.deps.nodeId}`, label: s.label, labelAt: s.labelAt })),
      ...this.replica.allContributions().flatMap((c) => [
        ...c.records.map((r) => ({ id: r.id, label: c.label, labelAt: r.labelAt })),
        ...(c.settings ? [{ id: `settings:${c.node}`, label: c.label, labelAt: c.settings.labelAt }] : []),
      ]),
    ];
  }

  private shotsOf(label: string): number {
    return this.view(this.deps.modelId()).meta.get(label)?.records.filter((r) => r.kind === 'shot').length ?? 0;
  }

  /** The merged classes, cached until something changes. */
  private view(model: string): { meta: Map<string, ClassMeta>; classes: Map<string, SharedClass> } {
    if (this.cache && this.cache.generation === this.generation && this.cache.model === model) return this.cache;
    const meta = mergedClasses(this.replica.allContributions(), this.localView(), this.replica.log(), this.deps.nodeId);
    const classes = new Map([...meta].map(([label, c]) => [label, this.sharedClass(c, model)]));
    this.cache = { generation: this.generation, model, meta, classes };
    return this.cache;
  }

  private sharedClass(c: ClassMeta, model: string): SharedClass {
    const shots = c.records.filter((r) => r.kind === 'shot');
    const peers = (kind: 'shot' | 'negative'): Float32Array[] =>
      model === '' ? [] : c.records.filter((r) => r.kind === kind && r.source !== 'local').flatMap((r) => this.vectorOf(r) ?? []);
    const times = c.records.map((r) => stampWall(r.labelAt > r.at ? r.labelAt : r.at));
    return {
      label: c.label,
      background: c.settings?.background ?? false,
      threshold: c.settings?.threshold ?? null,
      shots: shots.length,
      peerShots: peers('shot'),
      peerNegatives: peers('negative'),
      origin: shots[0]?.node ?? this.deps.nodeId,
      created_at: new Date(stampWall(shots[0]?.at ?? c.records[0]!.at)).toISOString(),
      updated_at: new Date(Math.max(...times)).toISOString(),
    };
  }

  private vectorOf(r: HeldRecord): Float32Array | undefined {
    let entry = this.vectorCache.get(r.source);
    if (!entry || entry.version !== r.version) {
      const [node, model, label] = JSON.parse(r.source) as [string, string, string];
      entry = { version: r.version, vectors: this.tables.vectors(node, model, label) };
      this.vectorCache.set(r.source, entry);
    }
    return entry.vectors.get(r.id);
  }
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
