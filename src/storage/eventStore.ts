/**
 * The correction loop's memory, in the class store's database: detection events with the
 * embedding and crop of the frame that started them (bounded by count and age), the
 * negatives users' corrections produced, and each zone's learned scene.
 */
import { AppError } from '../errors.js';
import type { ClassStore } from './classStore.js';
import { decodeFloat32, encodeFloat32, isoTime } from './codec.js';
import type { StoreDb } from './db.js';

export type Correction = 'confirmed' | 'rejected' | 'relabeled';

/** An event as `event/list` shows it. */
export interface EventInfo {
  id: string;
  camera: string;
  zone: string | null;
  label: string;
  score: number;
  start_time: string;
  end_time: string | null;
  correction: Correction | null;
  corrected_label: string | null;
  corrected_at: string | null;
  has_snapshot: boolean;
  /** Where in the frame (fractions) the class was found; absent when the whole unit decided. */
  box?: EventBox;
}

export interface EventBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** An event with what a correction needs. */
export interface EventRecord extends EventInfo {
  embedding: Float32Array | null;
  residual: Float32Array | null;
  model: string;
  crop: Buffer | null;
  shot_id: number | null;
  negative_ids: number[];
}

export interface NewEvent {
  id: string;
  camera: string;
  zone: string | null;
  label: string;
  score: number;
  start_time: Date;
  embedding: Float32Array | null;
  /** The frame's residual against its unit's scene, when the unit had one. */
  residual: Float32Array | null;
  model: string;
  crop: Buffer | null;
  snapshot: Buffer | null;
  box?: EventBox | null;
}

export interface EventFilter {
  camera?: string;
  zone?: string;
  label?: string;
  limit: number;
}

export interface NegativeRecord {
  id: number;
  /** The class the frame was NOT; null: nothing should have been there (the empty scene). */
  label: string | null;
  camera: string;
  zone: string | null;
  embedding: Float32Array;
  residual: Float32Array | null;
  model: string;
}

export interface NewNegative {
  /** The class the frame was NOT; null: an example of the empty scene. */
  label: string | null;
  camera: string;
  zone: string | null;
  embedding: Float32Array;
  residual: Float32Array | null;
  model: string;
  thumbnail: Buffer | null;
  eventId: string;
}

export interface Retention {
  maxCount: number;
  maxAgeDays: number;
}

/** How events are written; the defaults are the agent's (the bench compares with the old way: 1, true). */
export interface EventWrites {
  /**
   * Prune on the first start, then every this many (or PRUNE_INTERVAL_MS): a DELETE with a sort
   * per start cost more than the insert. Default: max_count / 16, from 1 to 32.
   */
  pruneEvery?: number;
  /** fsync every event commit (synchronous=FULL). */
  fsync?: boolean;
}

const PRUNE_INTERVAL_MS = 10 * 60_000;

interface EventRow {
  id: string;
  camera: string;
  zone: string | null;
  label: string;
  score: number;
  start_time: string;
  end_time: string | null;
  embedding: Buffer | null;
  residual: Buffer | null;
  model: string;
  crop: Buffer | null;
  has_snapshot: number;
  box: string | null;
  correction: Correction | null;
  corrected_label: string | null;
  corrected_at: string | null;
  shot_id: number | null;
  negative_ids: string | null;
}

const EVENT_COLUMNS =
  'id, camera, zone, label, score, start_time, end_time, embedding, residual, model, crop, snapshot IS NOT NULL AS has_snapshot, box, ' +
  'correction, corrected_label, corrected_at, shot_id, negative_ids';

export class EventStore {
  private readonly db: StoreDb;
  private startsSincePrune = Infinity;
  private prunedAt = 0;

  constructor(
    store: ClassStore,
    private readonly retention: Retention,
    private readonly clock: () => Date = () => new Date(),
    private readonly writes: EventWrites = {},
  ) {
    this.db = store.db;
  }

  /**
   * Keeps a start event; now and then drops the oldest beyond the count and those past the
   * age, so up to `pruneEvery - 1` more than `maxCount` may be kept for a while.
   */
  recordStart(e: NewEvent): void {
    const now = this.clock();
    const every = this.writes.pruneEvery ?? Math.min(32, Math.max(1, Math.floor(this.retention.maxCount / 16)));
    const prune = ++this.startsSincePrune >= every || now.getTime() - this.prunedAt >= PRUNE_INTERVAL_MS;
    const sql =
      'INSERT OR REPLACE INTO events (id, camera, zone, label, score, start_time, embedding, residual, model, crop, snapshot, box, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
    this.write(() => {
      this.db.stmt(sql).run(e.id, e.camera, e.zone, e.label, e.score, isoTime(e.start_time), blob(e.embedding), blob(e.residual), e.model, e.crop, e.snapshot, e.box ? JSON.stringify(e.box) : null, isoTime(now));
      if (prune) this.prune(now);
    });
    if (prune) [this.startsSincePrune, this.prunedAt] = [0, now.getTime()];
  }

  recordEnd(id: string, end: Date): void {
    this.write(() => this.db.stmt('UPDATE events SET end_time = ? WHERE id = ?').run(isoTime(end), id));
  }

  private write(fn: () => void): void {
    if (this.writes.fsync) this.db.transaction(fn);
    else this.db.lightTransaction(fn);
  }

  /** Newest first. */
  list(filter: EventFilter): EventInfo[] {
    const conditions = (['camera', 'zone', 'label'] as const).filter((key) => filter[key] !== undefined);
    const where = conditions.map((key) => `${key} = ?`);
    const args: Array<string | number> = conditions.map((key) => filter[key] ?? '');
    const sql = `SELECT ${EVENT_COLUMNS} FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY start_time DESC, id DESC LIMIT ?`;
    return this.db.read(() => this.db.stmt<unknown[], EventRow>(sql).all(...args, filter.limit)).map(toInfo);
  }

  get(id: string): EventRecord | null {
    const row = this.db.read(() => this.db.stmt<[string], EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = ?`).get(id));
    return row ? toRecord(row) : null;
  }

  /** The newest event of a camera (and zone: null for the camera's whole frame). */
  latest(camera: string, zone: string | null): EventRecord | null {
    const sql = `SELECT ${EVENT_COLUMNS} FROM events WHERE camera = ? AND zone IS ? ORDER BY start_time DESC, id DESC LIMIT 1`;
    const row = this.db.read(() => this.db.stmt<[string, string | null], EventRow>(sql).get(camera, zone));
    return row ? toRecord(row) : null;
  }

  snapshot(id: string): Buffer | null {
    const row = this.db.read(() => this.db.stmt<[string], { snapshot: Buffer | null }>('SELECT snapshot FROM events WHERE id = ?').get(id));
    if (!row) throw new AppError('not_found', `id: no event "${id}" (it may have expired)`, 'id');
    return row.snapshot;
  }

  /** Marks an event corrected, with what the correction added (so undo can remove it). */
  setCorrection(id: string, c: { correction: Correction | null; label: string | null; shotId: number | null; negativeIds: number[] }): void {
    const at = c.correction === null ? null : isoTime(this.clock());
    const negatives = c.negativeIds.length ? JSON.stringify(c.negativeIds) : null;
    const sql = 'UPDATE events SET correction = ?, corrected_label = ?, corrected_at = ?, shot_id = ?, negative_ids = ? WHERE id = ?';
    this.db.transaction(() => this.db.stmt(sql).run(c.correction, c.label, at, c.shotId, negatives, id));
  }

  /** A negative: `label` null records the frame as the empty scene of its camera/zone. */
  addNegative(n: NewNegative): number {
    const sql = 'INSERT INTO negatives (class_id, camera, zone, embedding, residual, model, thumbnail, event_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)';
    return this.db.transaction(() => {
      let classId: number | null = null;
      if (n.label !== null) {
        const row = this.db.stmt<[string], { id: number }>('SELECT id FROM classes WHERE label = ?').get(n.label);
        if (!row) throw new AppError('not_found', `label: no class "${n.label}" (removed since the event?)`, 'label');
        classId = row.id;
      }
      const result = this.db.stmt(sql).run(classId, n.camera, n.zone, encodeFloat32(n.embedding), blob(n.residual), n.model, n.thumbnail, n.eventId, isoTime(this.clock()));
      return Number(result.lastInsertRowid);
    });
  }

  removeNegatives(ids: number[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.db.stmt('DELETE FROM negatives WHERE id = ?').run(id);
    });
  }

  /** Every negative (class negatives of classes still there, and scene examples) of `model`, or of every model. */
  negatives(model?: string): NegativeRecord[] {
    const sql =
      'SELECT n.id, c.label, n.camera, n.zone, n.embedding, n.residual, n.model FROM negatives n LEFT JOIN classes c ON c.id = n.class_id ' +
      'WHERE n.class_id IS NULL OR c.id IS NOT NULL ORDER BY n.id';
    type Row = { id: number; label: string | null; camera: string; zone: string | null; embedding: Buffer; residual: Buffer | null; model: string };
    return this.db.read(() => this.db.stmt<[], Row>(sql).all()).flatMap((r) => {
      const embedding = decodeFloat32(r.embedding);
      if (!embedding || (model !== undefined && r.model !== model)) return [];
      const residual = r.residual ? (decodeFloat32(r.residual) ?? null) : null;
      return [{ id: r.id, label: r.label, camera: r.camera, zone: r.zone, embedding, residual, model: r.model }];
    });
  }

  /** A zone's persisted scene model (JSON), or null. `zone` null: the camera's whole frame. */
  loadScene(camera: string, zone: string | null): { model: string; state: string } | null {
    const sql = 'SELECT model, state FROM scenes WHERE camera = ? AND zone = ?';
    return this.db.read(() => this.db.stmt<[string, string], { model: string; state: string }>(sql).get(camera, zone ?? '')) ?? null;
  }

  saveScene(camera: string, zone: string | null, model: string, state: string): void {
    const sql = 'INSERT OR REPLACE INTO scenes (camera, zone, model, state, updated_at) VALUES (?, ?, ?, ?, ?)';
    this.db.transaction(() => this.db.stmt(sql).run(camera, zone ?? '', model, state, isoTime(this.clock())));
  }

  private prune(now: Date): void {
    const cutoff = isoTime(new Date(now.getTime() - this.retention.maxAgeDays * 86_400_000));
    this.db.stmt('DELETE FROM events WHERE start_time < ?').run(cutoff);
    this.db.stmt('DELETE FROM events WHERE id NOT IN (SELECT id FROM events ORDER BY start_time DESC, id DESC LIMIT ?)').run(this.retention.maxCount);
  }
}

function toInfo(r: EventRow): EventInfo {
  return {
    id: r.id,
    camera: r.camera,
    zone: r.zone,
    label: r.label,
    score: r.score,
    start_time: r.start_time,
    end_time: r.end_time,
    correction: r.correction,
    corrected_label: r.corrected_label,
    corrected_at: r.corrected_at,
    has_snapshot: r.has_snapshot === 1,
    ...(r.box ? { box: JSON.parse(r.box) as EventBox } : {}),
  };
}

function toRecord(r: EventRow): EventRecord {
  return {
    ...toInfo(r),
    embedding: r.embedding ? (decodeFloat32(r.embedding) ?? null) : null,
    residual: r.residual ? (decodeFloat32(r.residual) ?? null) : null,
    model: r.model,
    crop: r.crop,
    shot_id: r.shot_id,
    negative_ids: r.negative_ids ? (JSON.parse(r.negative_ids) as number[]) : [],
  };
}

function blob(v: Float32Array | null): Buffer | null {
  return v ? encodeFloat32(v) : null;
}
