/**
 * The merged classes as the imprinting service sees them: this node's records and the other
 * nodes' contributions under the operations, with the peers' vectors read from the store once
 * per contribution version.
 */
import type { SharedClass } from '../imprinting/shared.js';
import type { GalleryTables } from '../storage/galleryTables.js';
import type { GallerySettings } from './gallerySettings.js';
import { stampWall, type Stamp } from './hlc.js';
import type { Placed } from './merge.js';
import { mergedClasses, type ClassMeta, type HeldRecord, type LocalView, type Replica } from './replica.js';

export interface MergedView {
  meta: Map<string, ClassMeta>;
  classes: Map<string, SharedClass>;
}

export class GalleryView {
  private cache: (MergedView & { model: string }) | null = null;
  /** Vectors of stored contributions, by contribution key, for the version they were read at. */
  private readonly vectorCache = new Map<string, { version: Stamp; vectors: Map<string, Float32Array> }>();

  constructor(
    private readonly tables: GalleryTables,
    private readonly settings: GallerySettings,
    private readonly nodeId: string,
    private readonly replica: () => Replica,
  ) {}

  /** Something changed: the next get() merges again. */
  invalidate(): void {
    this.cache = null;
  }

  /** Forgets the vectors read of one contribution (by key), or of all. */
  forgetVectors(key?: string): void {
    if (key === undefined) this.vectorCache.clear();
    else this.vectorCache.delete(key);
  }

  /** The merged classes, cached until invalidated. */
  get(model: string): MergedView {
    if (this.cache && this.cache.model === model) return this.cache;
    const replica = this.replica();
    const meta = mergedClasses(replica.allContributions(), this.localView(), replica.log(), this.nodeId);
    const classes = new Map([...meta].map(([label, c]) => [label, this.sharedClass(c, model)]));
    this.cache = { model, meta, classes };
    return this.cache;
  }

  /** The merged classes with only the other nodes' settings (what a class new here adopts). */
  remoteMerged(): Map<string, ClassMeta> {
    const replica = this.replica();
    return mergedClasses(replica.allContributions(), { records: this.localView().records, settings: [] }, replica.log(), this.nodeId);
  }

  /** Every record this node holds (its own and other nodes'), as compaction needs them. */
  held(): Placed[] {
    const local = this.localView();
    return [
      ...local.records,
      ...local.settings.map((s) => ({ id: `settings:${this.nodeId}`, label: s.label, labelAt: s.labelAt })),
      ...this.replica()
        .allContributions()
        .flatMap((c) => [
          ...c.records.map((r) => ({ id: r.id, label: c.label, labelAt: r.labelAt })),
          ...(c.settings ? [{ id: `settings:${c.node}`, label: c.label, labelAt: c.settings.labelAt }] : []),
        ]),
    ];
  }

  private localView(): LocalView {
    const records = this.tables
      .localRows()
      .filter((r) => r.gid !== null)
      .map((r) => ({ id: r.gid!, kind: r.kind, at: r.at!, labelAt: r.labelAt!, label: r.label }));
    return { records, settings: this.settings.rows() };
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
      origin: shots[0]?.node ?? this.nodeId,
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
