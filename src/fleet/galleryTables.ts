/**
 * The gallery's tables in the class store's database (schema 3, src/storage/migrations.ts):
 * every read and write the gallery book makes, through the store's transactions, so that a
 * contribution, its records and the decisions about it are stored whole or not at all.
 */
import type { Database } from 'better-sqlite3';
import type { ClassStore } from '../storage/classStore.js';
import { decodeFloat32, encodeFloat32, isoTime } from '../storage/codec.js';
import { formatStamp, tick, observe as observeClock, type ClockState, type Stamp } from './hlc.js';
import type { Op } from './merge.js';
import { Replica, type ContributionMeta, type ManifestEntry, type PlacedSettings, type RecordMeta } from './replica.js';

/** One of this node's shots or class negatives: its store id, and its gallery id and stamps (null before stamped). */
export interface LocalRow {
  kind: 'shot' | 'negative';
  localId: number;
  label: string;
  model: string;
  gid: string | null;
  at: Stamp | null;
  labelAt: Stamp | null;
}

export interface SettingsRow extends PlacedSettings {
  label: string;
  rowBackground: boolean | null;
  rowThreshold: number | null;
}

export interface OwnVector {
  id: string;
  kind: 'shot' | 'negative';
  at: Stamp;
  labelAt: Stamp;
  embedding: Float32Array;
  thumbnail: Buffer | null;
}

interface ContributionRow {
  node: string;
  model: string;
  label: string;
  version: string;
  settings: string | null;
  space: string;
}

const LOCAL_SHOTS =
  "SELECT 'shot' AS kind, s.id AS localId, c.label, s.model, g.gid, g.at, g.label_at AS labelAt FROM shots s JOIN classes c ON c.id = s.class_id " +
  'LEFT JOIN gallery_shots_local g ON g.shot_id = s.id ORDER BY s.id';
const LOCAL_NEGATIVES =
  "SELECT 'negative' AS kind, n.id AS localId, c.label, n.model, g.gid, g.at, g.label_at AS labelAt FROM negatives n JOIN classes c ON c.id = n.class_id " +
  'LEFT JOIN gallery_negatives_local g ON g.negative_id = n.id ORDER BY n.id';

export class GalleryTables {
  constructor(private readonly store: ClassStore) {}

  // ---- other nodes' messages ----

  /** The replica as stored: contributions (metadata), manifests and operations. */
  loadReplica(): Replica {
    return this.store.read((db) => {
      const replica = new Replica();
      const records = new Map<string, RecordMeta[]>();
      const rows = db.prepare<[], { node: string; model: string; label: string; gid: string; kind: 'shot' | 'negative'; at: string; label_at: string }>(
        'SELECT node, model, label, gid, kind, at, label_at FROM gallery_records ORDER BY at, gid',
      );
      for (const r of rows.iterate()) {
        const key = JSON.stringify([r.node, r.model, r.label]);
        const list = records.get(key) ?? [];
        list.push({ id: r.gid, kind: r.kind, at: r.at, labelAt: r.label_at });
        records.set(key, list);
      }
      for (const c of db.prepare<[], ContributionRow>('SELECT node, model, label, version, settings, space FROM gallery_contributions').all()) {
        const settings = c.settings === null ? null : (JSON.parse(c.settings) as PlacedSettings);
        replica.applyContribution({ node: c.node, model: c.model, label: c.label, version: c.version, settings, records: records.get(JSON.stringify([c.node, c.model, c.label])) ?? [] });
      }
      for (const p of db.prepare<[], { node: string; at: string; entries: string }>('SELECT node, at, entries FROM gallery_peers').all()) {
        replica.applyManifest({ node: p.node, at: p.at, entries: JSON.parse(p.entries) as ManifestEntry[] });
      }
      replica.applyOps(db.prepare<[], { at: string; kind: Op['kind']; label: string; to_label: string | null; gid: string | null }>('SELECT * FROM gallery_ops').all().map(toOp));
      return replica;
    });
  }

  saveContribution(db: Database, c: ContributionMeta, space: string, vectors: Map<string, { embedding: Float32Array; thumbnail: Buffer | null }>, bytes: number, now: Date): void {
    this.deleteContribution(db, c.node, c.model, c.label);
    db.prepare('INSERT INTO gallery_contributions (node, model, label, version, space, settings, bytes, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
      c.node, c.model, c.label, c.version, space, c.settings ? JSON.stringify(c.settings) : null, bytes, isoTime(now),
    );
    const insert = db.prepare('INSERT INTO gallery_records (node, model, label, gid, kind, at, label_at, embedding, thumbnail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    for (const r of c.records) {
      const v = vectors.get(r.id)!;
      insert.run(c.node, c.model, c.label, r.id, r.kind, r.at, r.labelAt, encodeFloat32(v.embedding), v.thumbnail);
    }
  }

  deleteContribution(db: Database, node: string, model: string, label: string): void {
    db.prepare('DELETE FROM gallery_contributions WHERE node = ? AND model = ? AND label = ?').run(node, model, label);
  }

  savePeer(db: Database, node: string, at: Stamp, entries: ManifestEntry[], now: Date): void {
    db.prepare('INSERT OR REPLACE INTO gallery_peers (node, at, entries, seen_at) VALUES (?, ?, ?, ?)').run(node, at, JSON.stringify(entries), isoTime(now));
  }

  insertOps(db: Database, ops: readonly Op[]): void {
    const insert = db.prepare('INSERT OR IGNORE INTO gallery_ops (at, kind, label, to_label, gid) VALUES (?, ?, ?, ?, ?)');
    for (const op of ops) insert.run(op.at, op.kind, op.label, op.kind === 'rename' ? op.to : null, op.kind === 'drop' ? op.id : null);
  }

  deleteOps(db: Database, stamps: readonly Stamp[]): void {
    const del = db.prepare('DELETE FROM gallery_ops WHERE at = ?');
    for (const at of stamps) del.run(at);
  }

  /** The vectors of a stored contribution's records, by id. */
  vectors(node: string, model: string, label: string): Map<string, Float32Array> {
    const rows = this.store.read((db) =>
      db.prepare<[string, string, string], { gid: string; embedding: Buffer }>('SELECT gid, embedding FROM gallery_records WHERE node = ? AND model = ? AND label = ?').all(node, model, label),
    );
    return new Map(rows.flatMap((r) => {
      const v = decodeFloat32(r.embedding);
      return v ? [[r.gid, v] as const] : [];
    }));
  }

  /** Stored vectors of some records of another node, already in `space` (so they need no re-embedding). */
  knownVectors(node: string, space: string, gids: readonly string[]): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    this.store.read((db) => {
      const get = db.prepare<[string, string, string], { embedding: Buffer }>(
        'SELECT r.embedding FROM gallery_records r JOIN gallery_contributions c USING (node, model, label) WHERE r.node = ? AND c.space = ? AND r.gid = ? LIMIT 1',
      );
      for (const gid of gids) {
        const row = get.get(node, space, gid);
        const v = row ? decodeFloat32(row.embedding) : undefined;
        if (v) out.set(gid, v);
      }
    });
    return out;
  }

  /** Forgets contributions stored in another model's space (this node's model changed): they are heard again. */
  dropOtherSpaces(db: Database, space: string): number {
    return db.prepare('DELETE FROM gallery_contributions WHERE space != ?').run(space).changes;
  }

  // ---- this node's records ----

  /** Every shot and class negative of this node (of any model: operations apply to them all). */
  localRows(): LocalRow[] {
    return this.store.read((db) => [...db.prepare<[], LocalRow>(LOCAL_SHOTS).all(), ...db.prepare<[], LocalRow>(LOCAL_NEGATIVES).all()]);
  }

  stampLocal(db: Database, rows: ReadonlyArray<{ kind: 'shot' | 'negative'; localId: number; gid: string; at: Stamp }>): void {
    const shot = db.prepare('INSERT INTO gallery_shots_local (shot_id, gid, at, label_at) VALUES (?, ?, ?, ?)');
    const negative = db.prepare('INSERT INTO gallery_negatives_local (negative_id, gid, at, label_at) VALUES (?, ?, ?, ?)');
    for (const r of rows) (r.kind === 'shot' ? shot : negative).run(r.localId, r.gid, r.at, r.at);
  }

  setLabelAt(db: Database, kind: 'shot' | 'negative', localId: number, labelAt: Stamp): void {
    const sql = kind === 'shot' ? 'UPDATE gallery_shots_local SET label_at = ? WHERE shot_id = ?' : 'UPDATE gallery_negatives_local SET label_at = ? WHERE negative_id = ?';
    db.prepare(sql).run(labelAt, localId);
  }

  /** This node's shots and negatives of one class with their vectors (what its contribution carries). */
  ownVectors(label: string, model: string): OwnVector[] {
    type Row = { kind: 'shot' | 'negative'; gid: string; at: string; label_at: string; embedding: Buffer; thumbnail: Buffer | null };
    const shots =
      "SELECT 'shot' AS kind, g.gid, g.at, g.label_at, s.embedding, s.thumbnail FROM shots s JOIN classes c ON c.id = s.class_id JOIN gallery_shots_local g ON g.shot_id = s.id WHERE c.label = ? AND s.model = ? ORDER BY g.at, g.gid";
    const negatives =
      "SELECT 'negative' AS kind, g.gid, g.at, g.label_at, n.embedding, n.thumbnail FROM negatives n JOIN classes c ON c.id = n.class_id JOIN gallery_negatives_local g ON g.negative_id = n.id WHERE c.label = ? AND n.model = ? ORDER BY g.at, g.gid";
    const rows = this.store.read((db) => [...db.prepare<[string, string], Row>(shots).all(label, model), ...db.prepare<[string, string], Row>(negatives).all(label, model)]);
    return rows.flatMap((r) => {
      const embedding = decodeFloat32(r.embedding);
      return embedding ? [{ id: r.gid, kind: r.kind, at: r.at, labelAt: r.label_at, embedding, thumbnail: r.thumbnail }] : [];
    });
  }

  settingsRows(): SettingsRow[] {
    type Row = { label: string; background: number; threshold: number | null; at: string; label_at: string; row_background: number | null; row_threshold: number | null };
    return this.store.read((db) => db.prepare<[], Row>('SELECT * FROM gallery_settings').all()).map((r) => ({
      label: r.label,
      background: r.background === 1,
      threshold: r.threshold,
      at: r.at,
      labelAt: r.label_at,
      rowBackground: r.row_background === null ? null : r.row_background === 1,
      rowThreshold: r.row_threshold,
    }));
  }

  putSettings(db: Database, s: SettingsRow): void {
    db.prepare('INSERT OR REPLACE INTO gallery_settings (label, background, threshold, at, label_at, row_background, row_threshold) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      s.label, s.background ? 1 : 0, s.threshold, s.at, s.labelAt, s.rowBackground === null ? null : s.rowBackground ? 1 : 0, s.rowThreshold,
    );
  }

  deleteSettings(db: Database, label: string): void {
    db.prepare('DELETE FROM gallery_settings WHERE label = ?').run(label);
  }

  // ---- the clock and what was published ----

  /** `n` new stamps, after every stamp this node made or saw (across restarts and processes). */
  nextStamps(db: Database, n: number, node: string, nowMs: number): Stamp[] {
    let state = this.clockState(db);
    const out: Stamp[] = [];
    for (let i = 0; i < n; i++) {
      state = tick(state, nowMs);
      out.push(formatStamp(state, node));
    }
    this.saveClock(db, state);
    return out;
  }

  observe(db: Database, remote: ClockState): void {
    const state = this.clockState(db);
    const next = observeClock(state, remote);
    if (next !== state) this.saveClock(db, next);
  }

  published(topic: string): { digest: string; version: Stamp } | null {
    return this.store.read((db) => db.prepare<[string], { digest: string; version: string }>('SELECT digest, version FROM gallery_published WHERE topic = ?').get(topic)) ?? null;
  }

  setPublished(topic: string, digest: string, version: Stamp): void {
    this.store.write((db) => db.prepare('INSERT OR REPLACE INTO gallery_published (topic, digest, version) VALUES (?, ?, ?)').run(topic, digest, version));
  }

  publishedTopics(): string[] {
    return this.store.read((db) => db.prepare<[], { topic: string }>('SELECT topic FROM gallery_published').all().map((r) => r.topic));
  }

  forgetPublished(topic: string): void {
    this.store.write((db) => db.prepare('DELETE FROM gallery_published WHERE topic = ?').run(topic));
  }

  private clockState(db: Database): ClockState {
    return db.prepare<[], ClockState>('SELECT wall, counter FROM gallery_clock WHERE id = 1').get() ?? { wall: 0, counter: 0 };
  }

  private saveClock(db: Database, state: ClockState): void {
    db.prepare('INSERT OR REPLACE INTO gallery_clock (id, wall, counter) VALUES (1, ?, ?)').run(state.wall, state.counter);
  }
}

function toOp(r: { at: string; kind: Op['kind']; label: string; to_label: string | null; gid: string | null }): Op {
  if (r.kind === 'rename') return { kind: 'rename', label: r.label, to: r.to_label ?? '', at: r.at };
  if (r.kind === 'drop') return { kind: 'drop', label: r.label, id: r.gid ?? '', at: r.at };
  return { kind: 'remove', label: r.label, at: r.at };
}
