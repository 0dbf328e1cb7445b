/**
 * Classes and their shots. Every write is one IMMEDIATE transaction, so a kill -9 at any moment
 * leaves each class either with all shots of an `addShots` call or with none of them, and its
 * count always matches its shots.
 *
 * Labels are validated by the service, not here; the store binds them as parameters (no string
 * can change the SQL) and refuses strings with unpaired surrogates, which UTF-8 cannot represent
 * (they would silently alias other labels).
 */
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { checkShots, checkText } from './checks.js';
import { encodeFloat32, isoTime } from './codec.js';
import { STORE_FILE, StoreDb } from './db.js';
import type { EnrollResult, NewShot, Shot, ShotInfo, StoredClass } from '../recognition/types.js';

export { STORE_FILE } from './db.js';

export interface ClassStoreOptions {
  dataDir: string;
  logger: Logger;
  /** Injected for tests; defaults to the system clock. */
  clock?: () => Date;
}

interface ClassRow {
  id: number;
  label: string;
  background: number;
  count: number;
  created_at: string;
  updated_at: string;
  threshold: number | null;
  origin: string;
}

interface ShotRow {
  id: number;
  label: string;
  embedding: Buffer;
  model: string;
  thumbnail: Buffer;
  source: string;
  created_at: string;
}

export interface AddShotsOptions {
  background?: boolean;
  model: string;
  /** The node that creates the class (kept from the first enrollment on). */
  origin?: string;
  /**
   * Per shot (same order), how the camera unit it was taken from saw it: its residual
   * against that unit's empty scene, then those of its augmentations. Empty: a photo, or no scene yet.
   */
  units?: ReadonlyArray<readonly ZoneResidual[]>;
}

/** A shot's residual in one camera unit (zone null: the whole frame of a camera without zones). */
export interface ZoneResidual {
  camera: string;
  zone: string | null;
  residual: Float32Array;
  /** '' for the shot itself, else the augmentation (flip, crop-tl ...). */
  augmentation: string;
}

/** Removals and renames decided elsewhere (the fleet gallery), by shot and negative id. */
export interface Reshape {
  goneShots: number[];
  goneNegatives: number[];
  moves: Array<{ to: string; shots: number[]; negatives: number[] }>;
}

const INSERT_CLASS = 'INSERT INTO classes (label, background, count, created_at, updated_at, origin) VALUES (?, ?, 0, ?, ?, ?)';
const CLASS_BY_LABEL = 'SELECT * FROM classes WHERE label = ?';
const CLASS_BY_ID = 'SELECT * FROM classes WHERE id = ?';
const CLASS_OF_SHOT = 'SELECT class_id FROM shots WHERE id = ?';
const CLASS_OF_NEGATIVE = 'SELECT class_id FROM negatives WHERE id = ?';
const SET_THRESHOLD = 'UPDATE classes SET threshold = ?, updated_at = ? WHERE id = ?';
const DELETE_SHOT = 'DELETE FROM shots WHERE id = ?';
const DELETE_CLASS = 'DELETE FROM classes WHERE id = ?';
const SHOTS = 'SELECT s.*, c.label FROM shots s JOIN classes c ON c.id = s.class_id';

/**
 * The class labels stored in `dataDir`, read-only (nothing is created or migrated), or null
 * when there is no store there yet: for checks like `validate-config`.
 */
export function storedLabels(dataDir: string): string[] | null {
  let db: Database | undefined;
  try {
    db = new BetterSqlite3(join(dataDir, STORE_FILE), { readonly: true, fileMustExist: true });
    return db.prepare<[], { label: string }>('SELECT label FROM classes ORDER BY label').all().map((r) => r.label);
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

export class ClassStore {
  /** The connection, for the other stores of storage/ (events, gallery tables) only. */
  readonly db: StoreDb;
  private readonly clock: () => Date;

  constructor(opts: ClassStoreOptions) {
    this.db = new StoreDb(opts.dataDir, opts.logger);
    this.clock = opts.clock ?? (() => new Date());
  }

  get path(): string {
    return this.db.path;
  }

  async start(): Promise<void> {
    this.db.open();
  }

  /** Safe at any time, also before start or twice. */
  async stop(): Promise<void> {
    this.db.close();
  }

  /** Runs `fn`, which calls only typed store methods, as one transaction: all of its writes or none. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn);
  }

  /** Whether another process (the CLI, another agent) committed since the last call. */
  dataVersion(): number {
    return this.db.dataVersion();
  }

  /**
   * Adds `shots` to class `label` in ONE transaction, creating the class if it is new.
   * `background` sets the class's flag when given; when omitted a new class is not background
   * and an existing class keeps the flag it has.
   */
  addShots(label: string, shots: NewShot[], opts: AddShotsOptions): EnrollResult {
    return this.addShotsWithIds(label, shots, opts).result;
  }

  /** addShots, also returning the new shots' ids (a correction remembers what it added). */
  addShotsWithIds(label: string, shots: NewShot[], opts: AddShotsOptions): { result: EnrollResult; ids: number[] } {
    checkText('label', label, 'bad_label');
    checkText('model', opts.model);
    const dim = checkShots(shots);
    return this.db.transaction(() => {
      const now = isoTime(this.clock());
      const row = this.classByLabel(label) ?? this.insertClass(label, { background: opts.background ? 1 : 0, origin: opts.origin ?? '' }, now);
      const held = this.db.stmt<[number], { bytes: number }>('SELECT length(embedding) AS bytes FROM shots WHERE class_id = ? ORDER BY id LIMIT 1').get(row.id);
      if (held && held.bytes / 4 !== dim) {
        throw new AppError('bad_request', `shots: embedding length ${dim} differs from class "${label}" (${held.bytes / 4}); was the model changed?`);
      }
      const insertShot = this.db.stmt('INSERT INTO shots (class_id, embedding, model, thumbnail, source, created_at, object) VALUES (?, ?, ?, ?, ?, ?, ?)');
      const insertUnit = this.db.stmt('INSERT INTO zone_shots (shot_id, camera, zone, augmentation, residual) VALUES (?, ?, ?, ?, ?)');
      const ids = shots.map((shot) => Number(insertShot.run(row.id, encodeFloat32(shot.embedding), opts.model, shot.thumbnail, shot.source, now, shot.object ? encodeFloat32(shot.object) : null).lastInsertRowid));
      ids.forEach((id, i) => {
        for (const u of opts.units?.[i] ?? []) insertUnit.run(id, u.camera, u.zone ?? '', u.augmentation, encodeFloat32(u.residual));
      });
      const background = opts.background === undefined ? row.background : opts.background ? 1 : 0;
      const count = row.count + shots.length;
      this.db.stmt('UPDATE classes SET count = ?, background = ?, updated_at = ? WHERE id = ?').run(count, background, now, row.id);
      return { result: { label, shots: count, added: shots.length }, ids };
    });
  }

  /**
   * Per-class settings: `threshold` (null clears the override), `background`.
   * AppError('not_found') when there is no such class.
   */
  setClass(label: string, settings: { threshold?: number | null; background?: boolean }): void {
    checkText('label', label, 'bad_label');
    this.db.transaction(() => {
      const now = isoTime(this.clock());
      const row = this.existing(label);
      if (settings.threshold !== undefined) this.db.stmt(SET_THRESHOLD).run(settings.threshold, now, row.id);
      if (settings.background !== undefined) this.db.stmt('UPDATE classes SET background = ?, updated_at = ? WHERE id = ?').run(settings.background ? 1 : 0, now, row.id);
    });
  }

  /** Deletes one shot by id (the class goes with its last shot). AppError('not_found') when there is no such shot. */
  removeShot(id: number): { label: string; shots: number } {
    return this.db.transaction(() => {
      const shot = this.db.stmt<[number], { class_id: number }>(CLASS_OF_SHOT).get(id);
      if (!shot) throw new AppError('not_found', `shot: no shot ${id}`, 'shot');
      const row = this.db.stmt<[number], ClassRow>(CLASS_BY_ID).get(shot.class_id)!;
      this.db.stmt(DELETE_SHOT).run(id);
      return this.recount(row);
    });
  }

  /**
   * Applies removals and renames decided elsewhere (the fleet gallery) to this store's shots and
   * class negatives in one transaction. A move's target class is created with the settings of the
   * class the records leave; a class left without shots goes, its negatives too.
   */
  reshape(change: Reshape): void {
    this.db.transaction(() => {
      const touched = new Set<number>();
      for (const id of change.goneShots) {
        const owner = this.db.stmt<[number], { class_id: number }>(CLASS_OF_SHOT).get(id);
        if (owner) touched.add(owner.class_id);
        this.db.stmt(DELETE_SHOT).run(id);
      }
      for (const id of change.goneNegatives) this.db.stmt('DELETE FROM negatives WHERE id = ?').run(id);
      for (const move of change.moves) this.moveInto(move, touched);
      for (const id of touched) {
        const row = this.db.stmt<[number], ClassRow>(CLASS_BY_ID).get(id);
        if (row) this.recount(row);
      }
    });
  }

  private moveInto(move: { to: string; shots: number[]; negatives: number[] }, touched: Set<number>): void {
    checkText('to', move.to, 'bad_label');
    const classOfShot = this.db.stmt<[number], { class_id: number }>(CLASS_OF_SHOT);
    const classOfNegative = this.db.stmt<[number], { class_id: number | null }>(CLASS_OF_NEGATIVE);
    const sourceId = classOfShot.get(move.shots[0] ?? -1)?.class_id ?? classOfNegative.get(move.negatives[0] ?? -1)?.class_id ?? null;
    let target = this.classByLabel(move.to);
    if (!target) {
      const source = sourceId === null ? undefined : this.db.stmt<[number], ClassRow>(CLASS_BY_ID).get(sourceId);
      const now = isoTime(this.clock());
      target = this.insertClass(move.to, { background: source?.background ?? 0, origin: source?.origin ?? '' }, now);
      if (source?.threshold !== undefined && source.threshold !== null) this.db.stmt(SET_THRESHOLD).run(source.threshold, now, target.id);
    }
    for (const id of move.shots) {
      const owner = classOfShot.get(id);
      if (owner) touched.add(owner.class_id);
      this.db.stmt('UPDATE shots SET class_id = ? WHERE id = ?').run(target.id, id);
    }
    for (const id of move.negatives) {
      const owner = classOfNegative.get(id);
      if (owner && owner.class_id !== null) touched.add(owner.class_id);
      this.db.stmt('UPDATE negatives SET class_id = ? WHERE id = ?').run(target.id, id);
    }
    touched.add(target.id);
  }

  /** Every residual shot of the shots embedded by `model` (another model's are meaningless). */
  zoneShots(model: string): Array<{ label: string; camera: string; zone: string | null; residual: Float32Array }> {
    const sql =
      'SELECT c.label, z.camera, z.zone, z.residual FROM zone_shots z JOIN shots s ON s.id = z.shot_id JOIN classes c ON c.id = s.class_id WHERE s.model = ? ORDER BY z.id';
    type Row = { label: string; camera: string; zone: string; residual: Buffer };
    return this.db.read(() => this.db.stmt<[string], Row>(sql).all(model)).map((r) => ({
      label: r.label,
      camera: r.camera,
      zone: r.zone === '' ? null : r.zone,
      residual: this.db.decode(r.residual, `residual of a shot of "${r.label}"`),
    }));
  }

  /** Every class, ordered by label (byte order of its UTF-8). */
  listClasses(): StoredClass[] {
    return this.db.read(() => this.db.stmt<[], ClassRow>('SELECT * FROM classes ORDER BY label').all()).map((r) => ({
      label: r.label,
      shots: r.count,
      background: r.background === 1,
      threshold_override: r.threshold,
      origin: r.origin,
      created_at: r.created_at,
      updated_at: r.updated_at,
    }));
  }

  /** Deletes a class and all its shots. AppError('not_found') when there is no such class. */
  removeClass(label: string): void {
    checkText('label', label, 'bad_label');
    this.db.transaction(() => {
      const row = this.existing(label);
      this.db.stmt('DELETE FROM shots WHERE class_id = ?').run(row.id);
      this.db.stmt(DELETE_CLASS).run(row.id);
    });
  }

  /**
   * Renames a class, keeping its shots. AppError('not_found') when `label` does not exist,
   * AppError('conflict') when `to` is another existing class. Renaming to itself is a no-op.
   */
  renameClass(label: string, to: string): void {
    checkText('label', label, 'bad_label');
    checkText('to', to, 'bad_label');
    this.db.transaction(() => {
      const row = this.existing(label);
      if (label === to) return;
      if (this.classByLabel(to)) throw new AppError('conflict', `to: class "${to}" already exists`);
      this.db.stmt('UPDATE classes SET label = ?, updated_at = ? WHERE id = ?').run(to, isoTime(this.clock()), row.id);
    });
  }

  /** Removes the latest shot of a class; the class goes with its last shot (`shots: 0`). AppError('not_found') when absent. */
  undoShot(label: string): { label: string; shots: number } {
    checkText('label', label, 'bad_label');
    return this.db.transaction(() => {
      const row = this.existing(label);
      const latest = this.db.stmt<[number], { id: number }>('SELECT id FROM shots WHERE class_id = ? ORDER BY id DESC LIMIT 1').get(row.id);
      if (latest) this.db.stmt(DELETE_SHOT).run(latest.id);
      return this.recount(row);
    });
  }

  /**
   * Replaces the embeddings of the given shots (re-embedded with `model`), all in one
   * transaction. A photo's object embedding (another model's) goes with them: the thumbnail
   * keeps too little of the photo to find its object again, so regions then match the photo as seen.
   */
  replaceEmbeddings(updates: Array<{ id: number; embedding: Float32Array }>, model: string): void {
    checkText('model', model);
    this.db.transaction(() => {
      const update = this.db.stmt('UPDATE shots SET embedding = ?, model = ?, object = NULL WHERE id = ?');
      for (const u of updates) update.run(encodeFloat32(u.embedding), model, u.id);
    });
  }

  /** Every class with its shots' embeddings (no thumbnails), where each came from and its photos' objects: what fine-tuning and the recognizer need. */
  shotEmbeddings(): Array<{ label: string; background: boolean; shots: Float32Array[]; sources: string[]; objects: Float32Array[] }> {
    const sql = 'SELECT c.label, c.background, s.embedding, s.source, s.object FROM shots s JOIN classes c ON c.id = s.class_id ORDER BY c.label, s.id';
    const byLabel = new Map<string, { label: string; background: boolean; shots: Float32Array[]; sources: string[]; objects: Float32Array[] }>();
    type Row = { label: string; background: number; embedding: Buffer; source: string; object: Buffer | null };
    for (const r of this.db.read(() => this.db.stmt<[], Row>(sql).all())) {
      let entry = byLabel.get(r.label);
      if (!entry) byLabel.set(r.label, (entry = { label: r.label, background: r.background === 1, shots: [], sources: [], objects: [] }));
      entry.shots.push(this.db.decode(r.embedding, `shot of "${r.label}"`));
      entry.sources.push(r.source);
      if (r.object) entry.objects.push(this.db.decode(r.object, `object of a shot of "${r.label}"`));
    }
    return [...byLabel.values()];
  }

  /** Stored shots, of one class or of all (ordered by label, then oldest first). */
  shots(label?: string): Shot[] {
    if (label !== undefined) checkText('label', label, 'bad_label');
    const rows = this.db.read(() =>
      label === undefined ? this.db.stmt<[], ShotRow>(`${SHOTS} ORDER BY c.label, s.id`).all() : this.db.stmt<[string], ShotRow>(`${SHOTS} WHERE c.label = ? ORDER BY s.id`).all(label),
    );
    return rows.map((r) => ({
      id: r.id,
      label: r.label,
      embedding: this.db.decode(r.embedding, `shot ${r.id}`),
      model: r.model,
      thumbnail: r.thumbnail,
      source: r.source,
      created_at: r.created_at,
    }));
  }

  /** The shots of a class without their embeddings or thumbnails (the dashboard's gallery), oldest first. */
  shotList(label: string): ShotInfo[] {
    checkText('label', label, 'bad_label');
    const sql = 'SELECT s.id, c.label, s.source, s.created_at FROM shots s JOIN classes c ON c.id = s.class_id WHERE c.label = ? ORDER BY s.id';
    return this.db.read(() => this.db.stmt<[string], ShotInfo>(sql).all(label));
  }

  /** A shot's thumbnail (JPEG), or null when there is no such shot. */
  thumbnail(id: number): Buffer | null {
    const row = this.db.read(() => this.db.stmt<[number], { thumbnail: Buffer }>('SELECT thumbnail FROM shots WHERE id = ?').get(id));
    return row?.thumbnail ?? null;
  }

  /** A class's count from the shots it has now; removed when none is left. */
  private recount(row: ClassRow): { label: string; shots: number } {
    const shots = this.db.stmt<[number], { n: number }>('SELECT count(*) AS n FROM shots WHERE class_id = ?').get(row.id)!.n;
    if (shots === 0) {
      this.db.stmt(DELETE_CLASS).run(row.id);
      return { label: row.label, shots: 0 };
    }
    this.db.stmt('UPDATE classes SET count = ?, updated_at = ? WHERE id = ?').run(shots, isoTime(this.clock()), row.id);
    return { label: row.label, shots };
  }

  private classByLabel(label: string): ClassRow | undefined {
    return this.db.stmt<[string], ClassRow>(CLASS_BY_LABEL).get(label);
  }

  private insertClass(label: string, from: { background: number; origin: string }, now: string): ClassRow {
    this.db.stmt(INSERT_CLASS).run(label, from.background, now, now, from.origin);
    return this.classByLabel(label)!;
  }

  private existing(label: string): ClassRow {
    const row = this.classByLabel(label);
    if (!row) throw new AppError('not_found', `label: no class "${label}"`);
    return row;
  }
}
