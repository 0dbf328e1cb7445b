/**
 * The fleet gallery's tables (schema 3, migrations.ts). Stamps are hybrid logical clock stamps
 * as text, whose text order is their time order; what they mean is the fleet's business.
 * Writes are atomic alone; the gallery book groups several in one ClassStore.transaction().
 */
import type { ClassStore } from './classStore.js';
import { decodeFloat32, encodeFloat32, isoTime } from './codec.js';
import type { StoreDb } from './db.js';

type Kind = 'shot' | 'negative';

export type StoredOp =
  | { kind: 'remove'; label: string; at: string }
  | { kind: 'rename'; label: string; to: string; at: string }
  | { kind: 'drop'; id: string; label: string; at: string };

export interface StoredRecord {
  id: string;
  kind: Kind;
  at: string;
  labelAt: string;
}

export interface StoredSettings {
  background: boolean;
  threshold: number | null;
  at: string;
  labelAt: string;
}

export interface StoredContribution {
  node: string;
  label: string;
  model: string;
  version: string;
  settings: StoredSettings | null;
  records: StoredRecord[];
}

export interface StoredManifest {
  node: string;
  at: string;
  entries: Array<{ label: string; model: string; version: string }>;
}

/** What other nodes sent, as stored: contributions (without vectors), manifests, operations. */
export interface StoredReplica {
  contributions: StoredContribution[];
  manifests: StoredManifest[];
  ops: StoredOp[];
}

/** One of this node's shots or class negatives: its store id, and its gallery id and stamps (null before stamped). */
export interface LocalRow {
  kind: Kind;
  localId: number;
  label: string;
  model: string;
  gid: string | null;
  at: string | null;
  labelAt: string | null;
}

export interface SettingsRow extends StoredSettings {
  label: string;
  /** The class row's values when the gallery last looked: a difference is a change made here. */
  rowBackground: boolean | null;
  rowThreshold: number | null;
}

export interface OwnVector extends StoredRecord {
  embedding: Float32Array;
  thumbnail: Buffer | null;
}

export interface ClockRow {
  wall: number;
  counter: number;
}

const LOCAL_SHOTS =
  "SELECT 'shot' AS kind, s.id AS localId, c.label, s.model, g.gid, g.at, g.label_at AS labelAt FROM shots s JOIN classes c ON c.id = s.class_id " +
  'LEFT JOIN gallery_shots_local g ON g.shot_id = s.id ORDER BY s.id';
const LOCAL_NEGATIVES =
  "SELECT 'negative' AS kind, n.id AS localId, c.label, n.model, g.gid, g.at, g.label_at AS labelAt FROM negatives n JOIN classes c ON c.id = n.class_id " +
  'LEFT JOIN gallery_negatives_local g ON g.negative_id = n.id ORDER BY n.id';
const OWN_SHOTS =
  "SELECT 'shot' AS kind, g.gid, g.at, g.label_at, s.embedding, s.thumbnail FROM shots s JOIN classes c ON c.id = s.class_id " +
  'JOIN gallery_shots_local g ON g.shot_id = s.id WHERE c.label = ? AND s.model = ? ORDER BY g.at, g.gid';
const OWN_NEGATIVES =
  "SELECT 'negative' AS kind, g.gid, g.at, g.label_at, n.embedding, n.thumbnail FROM negatives n JOIN classes c ON c.id = n.class_id " +
  'JOIN gallery_negatives_local g ON g.negative_id = n.id WHERE c.label = ? AND n.model = ? ORDER BY g.at, g.gid';

export class GalleryTables {
  private readonly db: StoreDb;

  constructor(store: ClassStore) {
    this.db = store.db;
  }

  // ---- other nodes' messages ----

  load(): StoredReplica {
    return this.db.read(() => {
      type RecordRow = { node: string; model: string; label: string; gid: string; kind: Kind; at: string; label_at: string };
      type ContributionRow = { node: string; model: string; label: string; version: string; settings: string | null };
      const records = new Map<string, StoredRecord[]>();
      for (const r of this.db.stmt<[], RecordRow>('SELECT node, model, label, gid, kind, at, label_at FROM gallery_records ORDER BY at, gid').all()) {
        const key = JSON.stringify([r.node, r.model, r.label]);
        records.set(key, [...(records.get(key) ?? []), { id: r.gid, kind: r.kind, at: r.at, labelAt: r.label_at }]);
      }
      const contributions = this.db.stmt<[], ContributionRow>('SELECT node, model, label, version, settings FROM gallery_contributions').all().map((c) => ({
        ...c,
        settings: c.settings === null ? null : (JSON.parse(c.settings) as StoredSettings),
        records: records.get(JSON.stringify([c.node, c.model, c.label])) ?? [],
      }));
      const manifests = this.db.stmt<[], { node: string; at: string; entries: string }>('SELECT node, at, entries FROM gallery_peers').all().map((p) => ({
        node: p.node,
        at: p.at,
        entries: JSON.parse(p.entries) as StoredManifest['entries'],
      }));
      const ops = this.db.stmt<[], { at: string; kind: StoredOp['kind']; label: string; to_label: string | null; gid: string | null }>('SELECT * FROM gallery_ops').all().map(toOp);
      return { contributions, manifests, ops };
    });
  }

  /** Replaces the stored contribution of the same node, model and class; `vectors` holds every record's. */
  saveContribution(c: StoredContribution, space: string, vectors: Map<string, { embedding: Float32Array; thumbnail: Buffer | null }>, bytes: number, now: Date): void {
    const sql = 'INSERT INTO gallery_contributions (node, model, label, version, space, settings, bytes, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
    const record = 'INSERT INTO gallery_records (node, model, label, gid, kind, at, label_at, embedding, thumbnail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)';
    this.db.transaction(() => {
      this.deleteContribution(c.node, c.model, c.label);
      this.db.stmt(sql).run(c.node, c.model, c.label, c.version, space, c.settings ? JSON.stringify(c.settings) : null, bytes, isoTime(now));
      for (const r of c.records) {
        const v = vectors.get(r.id)!;
        this.db.stmt(record).run(c.node, c.model, c.label, r.id, r.kind, r.at, r.labelAt, encodeFloat32(v.embedding), v.thumbnail);
      }
    });
  }

  deleteContribution(node: string, model: string, label: string): void {
    this.db.transaction(() => this.db.stmt('DELETE FROM gallery_contributions WHERE node = ? AND model = ? AND label = ?').run(node, model, label));
  }

  saveManifest(m: StoredManifest, now: Date): void {
    const sql = 'INSERT OR REPLACE INTO gallery_peers (node, at, entries, seen_at) VALUES (?, ?, ?, ?)';
    this.db.transaction(() => this.db.stmt(sql).run(m.node, m.at, JSON.stringify(m.entries), isoTime(now)));
  }

  insertOps(ops: readonly StoredOp[]): void {
    const sql = 'INSERT OR IGNORE INTO gallery_ops (at, kind, label, to_label, gid) VALUES (?, ?, ?, ?, ?)';
    this.db.transaction(() => {
      for (const op of ops) this.db.stmt(sql).run(op.at, op.kind, op.label, op.kind === 'rename' ? op.to : null, op.kind === 'drop' ? op.id : null);
    });
  }

  deleteOps(stamps: readonly string[]): void {
    this.db.transaction(() => {
      for (const at of stamps) this.db.stmt('DELETE FROM gallery_ops WHERE at = ?').run(at);
    });
  }

  /** The vectors of a stored contribution's records, by id. */
  vectors(node: string, model: string, label: string): Map<string, Float32Array> {
    const sql = 'SELECT gid, embedding FROM gallery_records WHERE node = ? AND model = ? AND label = ?';
    const rows = this.db.read(() => this.db.stmt<[string, string, string], { gid: string; embedding: Buffer }>(sql).all(node, model, label));
    return new Map(rows.flatMap((r) => {
      const v = decodeFloat32(r.embedding);
      return v ? [[r.gid, v] as const] : [];
    }));
  }

  /** Stored vectors of some records of another node, already in `space` (so they need no re-embedding). */
  knownVectors(node: string, space: string, gids: readonly string[]): Map<string, Float32Array> {
    const sql = 'SELECT r.embedding FROM gallery_records r JOIN gallery_contributions c USING (node, model, label) WHERE r.node = ? AND c.space = ? AND r.gid = ? LIMIT 1';
    const out = new Map<string, Float32Array>();
    this.db.read(() => {
      for (const gid of gids) {
        const row = this.db.stmt<[string, string, string], { embedding: Buffer }>(sql).get(node, space, gid);
        const v = row ? decodeFloat32(row.embedding) : undefined;
        if (v) out.set(gid, v);
      }
    });
    return out;
  }

  /** Forgets contributions stored in another model's space; returns how many. */
  dropOtherSpaces(space: string): number {
    return this.db.transaction(() => this.db.stmt('DELETE FROM gallery_contributions WHERE space != ?').run(space).changes);
  }

  // ---- this node's records ----

  /** Every shot and class negative of this node (of any model: operations apply to them all). */
  localRows(): LocalRow[] {
    return this.db.read(() => [...this.db.stmt<[], LocalRow>(LOCAL_SHOTS).all(), ...this.db.stmt<[], LocalRow>(LOCAL_NEGATIVES).all()]);
  }

  stampLocal(rows: ReadonlyArray<{ kind: Kind; localId: number; gid: string; at: string }>): void {
    this.db.transaction(() => {
      const shot = this.db.stmt('INSERT INTO gallery_shots_local (shot_id, gid, at, label_at) VALUES (?, ?, ?, ?)');
      const negative = this.db.stmt('INSERT INTO gallery_negatives_local (negative_id, gid, at, label_at) VALUES (?, ?, ?, ?)');
      for (const r of rows) (r.kind === 'shot' ? shot : negative).run(r.localId, r.gid, r.at, r.at);
    });
  }

  setLabelAt(kind: Kind, localId: number, labelAt: string): void {
    const sql = kind === 'shot' ? 'UPDATE gallery_shots_local SET label_at = ? WHERE shot_id = ?' : 'UPDATE gallery_negatives_local SET label_at = ? WHERE negative_id = ?';
    this.db.transaction(() => this.db.stmt(sql).run(labelAt, localId));
  }

  /** This node's shots and negatives of one class with their vectors (what its contribution carries). */
  ownVectors(label: string, model: string): OwnVector[] {
    type Row = { kind: Kind; gid: string; at: string; label_at: string; embedding: Buffer; thumbnail: Buffer | null };
    const rows = this.db.read(() => [...this.db.stmt<[string, string], Row>(OWN_SHOTS).all(label, model), ...this.db.stmt<[string, string], Row>(OWN_NEGATIVES).all(label, model)]);
    return rows.flatMap((r) => {
      const embedding = decodeFloat32(r.embedding);
      return embedding ? [{ id: r.gid, kind: r.kind, at: r.at, labelAt: r.label_at, embedding, thumbnail: r.thumbnail }] : [];
    });
  }

  settingsRows(): SettingsRow[] {
    type Row = { label: string; background: number; threshold: number | null; at: string; label_at: string; row_background: number | null; row_threshold: number | null };
    return this.db.read(() => this.db.stmt<[], Row>('SELECT * FROM gallery_settings').all()).map((r) => ({
      label: r.label,
      background: r.background === 1,
      threshold: r.threshold,
      at: r.at,
      labelAt: r.label_at,
      rowBackground: r.row_background === null ? null : r.row_background === 1,
      rowThreshold: r.row_threshold,
    }));
  }

  putSettings(s: SettingsRow): void {
    const sql = 'INSERT OR REPLACE INTO gallery_settings (label, background, threshold, at, label_at, row_background, row_threshold) VALUES (?, ?, ?, ?, ?, ?, ?)';
    const rowBackground = s.rowBackground === null ? null : s.rowBackground ? 1 : 0;
    this.db.transaction(() => this.db.stmt(sql).run(s.label, s.background ? 1 : 0, s.threshold, s.at, s.labelAt, rowBackground, s.rowThreshold));
  }

  deleteSettings(label: string): void {
    this.db.transaction(() => this.db.stmt('DELETE FROM gallery_settings WHERE label = ?').run(label));
  }

  // ---- the clock and what was published ----

  /** The hybrid logical clock's state, kept so that stamps keep increasing across restarts and processes. */
  clock(): ClockRow {
    return this.db.read(() => this.db.stmt<[], ClockRow>('SELECT wall, counter FROM gallery_clock WHERE id = 1').get()) ?? { wall: 0, counter: 0 };
  }

  saveClock(state: ClockRow): void {
    this.db.transaction(() => this.db.stmt('INSERT OR REPLACE INTO gallery_clock (id, wall, counter) VALUES (1, ?, ?)').run(state.wall, state.counter));
  }

  published(topic: string): { digest: string; version: string } | null {
    const sql = 'SELECT digest, version FROM gallery_published WHERE topic = ?';
    return this.db.read(() => this.db.stmt<[string], { digest: string; version: string }>(sql).get(topic)) ?? null;
  }

  setPublished(topic: string, digest: string, version: string): void {
    this.db.transaction(() => this.db.stmt('INSERT OR REPLACE INTO gallery_published (topic, digest, version) VALUES (?, ?, ?)').run(topic, digest, version));
  }

  publishedTopics(): string[] {
    return this.db.read(() => this.db.stmt<[], { topic: string }>('SELECT topic FROM gallery_published').all().map((r) => r.topic));
  }

  forgetPublished(topic: string): void {
    this.db.transaction(() => this.db.stmt('DELETE FROM gallery_published WHERE topic = ?').run(topic));
  }
}

function toOp(r: { at: string; kind: StoredOp['kind']; label: string; to_label: string | null; gid: string | null }): StoredOp {
  if (r.kind === 'rename') return { kind: 'rename', label: r.label, to: r.to_label ?? '', at: r.at };
  if (r.kind === 'drop') return { kind: 'drop', label: r.label, id: r.gid ?? '', at: r.at };
  return { kind: 'remove', label: r.label, at: r.at };
}
