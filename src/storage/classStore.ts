/**
 * Durable class store: SQLite (better-sqlite3, WAL) at `<dataDir>/edge-imprint.db`.
 *
 * The CLI and a running agent open the same file at the same time. Every write runs in one
 * IMMEDIATE transaction, so a kill -9 at any moment leaves each class either with all shots
 * of an `addShots` call or with none of them, and the class's sum/count always match its
 * shots. Commits are fsynced (synchronous=FULL): an enrollment the user saw succeed survives
 * a power cut too, at the cost of one fsync per write, which is rare here.
 *
 * Labels are validated by the service, not here; the store only binds them as parameters
 * (no string can change the SQL) and refuses strings with unpaired surrogates, which UTF-8
 * cannot represent (they would silently alias other labels).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import { AppError, errorMessage, isAppError } from '../errors.js';
import { allFinite, decodeFloat32, encodeFloat32, isWellFormedText, isoTime, sumFloat32 } from './codec.js';
import { migrate } from './migrations.js';
import type { ClassWeights, EnrollResult, NewShot, Shot, ShotInfo, StoredClass } from '../recognition/types.js';

export const STORE_FILE = 'edge-imprint.db';
/** How long a writer waits for the other process (CLI or agent) to release the lock. */
const BUSY_TIMEOUT_MS = 5000;

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
  sum: Buffer;
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

/** Statements prepared once per connection. */
function prepareAll(db: Database) {
  return {
    classByLabel: db.prepare<[string], ClassRow>('SELECT * FROM classes WHERE label = ?'),
    insertClass: db.prepare<[string, number, Buffer, string, string, string], unknown>(
      'INSERT INTO classes (label, background, sum, count, created_at, updated_at, origin) VALUES (?, ?, ?, 0, ?, ?, ?)',
    ),
    setThreshold: db.prepare<[number | null, string, number], unknown>('UPDATE classes SET threshold = ?, updated_at = ? WHERE id = ?'),
    setBackground: db.prepare<[number, string, number], unknown>('UPDATE classes SET background = ?, updated_at = ? WHERE id = ?'),
    shotById: db.prepare<[number], { id: number; class_id: number }>('SELECT id, class_id FROM shots WHERE id = ?'),
    insertZoneShot: db.prepare<[number, string, string, string, Buffer], unknown>(
      'INSERT INTO zone_shots (shot_id, camera, zone, augmentation, residual) VALUES (?, ?, ?, ?, ?)',
    ),
    zoneShots: db.prepare<[string], { label: string; camera: string; zone: string; residual: Buffer }>(
      'SELECT c.label, z.camera, z.zone, z.residual FROM zone_shots z JOIN shots s ON s.id = z.shot_id JOIN classes c ON c.id = s.class_id WHERE s.model = ? ORDER BY z.id',
    ),
    updateClassSum: db.prepare<[Buffer, number, number, string, number], unknown>(
      'UPDATE classes SET sum = ?, count = ?, background = ?, updated_at = ? WHERE id = ?',
    ),
    insertShot: db.prepare<[number, Buffer, string, Buffer, string, string], unknown>(
      'INSERT INTO shots (class_id, embedding, model, thumbnail, source, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    listClasses: db.prepare<[], ClassRow>('SELECT * FROM classes ORDER BY label'),
    deleteShotsOfClass: db.prepare<[number], unknown>('DELETE FROM shots WHERE class_id = ?'),
    deleteClass: db.prepare<[number], unknown>('DELETE FROM classes WHERE id = ?'),
    renameClass: db.prepare<[string, string, number], unknown>(
      'UPDATE classes SET label = ?, updated_at = ? WHERE id = ?',
    ),
    latestShotId: db.prepare<[number], { id: number }>(
      'SELECT id FROM shots WHERE class_id = ? ORDER BY id DESC LIMIT 1',
    ),
    deleteShot: db.prepare<[number], unknown>('DELETE FROM shots WHERE id = ?'),
    embeddingsOfClass: db.prepare<[number], { embedding: Buffer }>(
      'SELECT embedding FROM shots WHERE class_id = ? ORDER BY id',
    ),
    allShots: db.prepare<[], ShotRow>(
      'SELECT s.*, c.label FROM shots s JOIN classes c ON c.id = s.class_id ORDER BY c.label, s.id',
    ),
    shotsOfLabel: db.prepare<[string], ShotRow>(
      'SELECT s.*, c.label FROM shots s JOIN classes c ON c.id = s.class_id WHERE c.label = ? ORDER BY s.id',
    ),
    models: db.prepare<[], { model: string }>('SELECT DISTINCT model FROM shots ORDER BY model'),
    updateShotEmbedding: db.prepare<[Buffer, string, number], unknown>(
      'UPDATE shots SET embedding = ?, model = ? WHERE id = ?',
    ),
    classIdOfShot: db.prepare<[number], { class_id: number }>('SELECT class_id FROM shots WHERE id = ?'),
    classById: db.prepare<[number], ClassRow>('SELECT * FROM classes WHERE id = ?'),
    allEmbeddings: db.prepare<[], { label: string; background: number; embedding: Buffer }>(
      'SELECT c.label, c.background, s.embedding FROM shots s JOIN classes c ON c.id = s.class_id ORDER BY c.label, s.id',
    ),
  };
}

type Statements = ReturnType<typeof prepareAll>;

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

export interface AddShotsOptions {
  background?: boolean;
  model: string;
  /** The node that creates the class (kept from the first enrollment on). */
  origin?: string;
  /**
   * Per shot (same order), how the camera unit it was taken from saw it: its residual
   * against that unit's empty scene (scene-aware zones), then those of its augmentations.
   * Empty: a photo, or no scene yet.
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

export class ClassStore {
  private db: Database | undefined;
  private stmts: Statements | undefined;
  private readonly logger: Logger;
  private readonly clock: () => Date;
  readonly path: string;

  constructor(private readonly opts: ClassStoreOptions) {
    this.logger = opts.logger;
    this.clock = opts.clock ?? (() => new Date());
    this.path = join(opts.dataDir, STORE_FILE);
  }

  /** Creates the data dir if needed, opens the database in WAL mode and migrates it. */
  async start(): Promise<void> {
    if (this.db) return;
    try {
      mkdirSync(this.opts.dataDir, { recursive: true });
    } catch (err) {
      throw new AppError('storage', `data_dir: cannot create ${this.opts.dataDir}: ${errorMessage(err)}`);
    }
    const db = this.guard(() => new BetterSqlite3(this.path));
    try {
      this.guard(() => this.configure(db));
      const { from, to } = this.guard(() => migrate(db, this.logger));
      this.stmts = prepareAll(db);
      this.db = db;
      this.logger.info({ path: this.path, schema: to, migrated_from: from }, 'class store open');
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Closes the database; safe to call at any time, also before start or twice. */
  async stop(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.stmts = undefined;
    if (db?.open) db.close();
  }

  /**
   * Adds `shots` to class `label` in ONE transaction: creates the class if it is new, inserts
   * every shot and rewrites the class's sum and count. Either all of it is stored or nothing.
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
    const s = this.statements();
    const now = isoTime(this.clock());
    const write = () => {
      let row = s.classByLabel.get(label);
      if (!row) {
        s.insertClass.run(label, opts.background ? 1 : 0, encodeFloat32(new Float32Array(dim)), now, now, opts.origin ?? '');
        row = s.classByLabel.get(label)!;
      }
      const current = this.decode(row.sum, `sum of class "${label}"`);
      if (row.count > 0 && current.length !== dim) {
        throw new AppError(
          'bad_request',
          `shots: embedding length ${dim} differs from class "${label}" (${current.length}); was the model changed?`,
        );
      }
      const ids = shots.map(
        (shot) => Number(s.insertShot.run(row.id, encodeFloat32(shot.embedding), opts.model, shot.thumbnail, shot.source, now).lastInsertRowid),
      );
      ids.forEach((id, i) => {
        for (const u of opts.units?.[i] ?? []) s.insertZoneShot.run(id, u.camera, u.zone ?? '', u.augmentation, encodeFloat32(u.residual));
      });
      const sum = sumFloat32(
        shots.map((x) => x.embedding),
        dim,
        row.count > 0 ? current : undefined,
      );
      const background = opts.background === undefined ? row.background : opts.background ? 1 : 0;
      const count = row.count + shots.length;
      s.updateClassSum.run(encodeFloat32(sum), count, background, now, row.id);
      return { result: { label, shots: count, added: shots.length }, ids };
    };
    return this.guard(() => this.db!.transaction(write).immediate());
  }

  /**
   * Per-class settings: `threshold` (null clears the override), `background`.
   * AppError('not_found') when there is no such class.
   */
  setClass(label: string, settings: { threshold?: number | null; background?: boolean }): void {
    checkText('label', label, 'bad_label');
    const s = this.statements();
    const now = isoTime(this.clock());
    const set = () => {
      const row = this.existing(label);
      if (settings.threshold !== undefined) s.setThreshold.run(settings.threshold, now, row.id);
      if (settings.background !== undefined) s.setBackground.run(settings.background ? 1 : 0, now, row.id);
    };
    this.guard(() => this.db!.transaction(set).immediate());
  }

  /**
   * Deletes one shot by id and recomputes its class from the shots that remain (the class
   * goes with its last shot). AppError('not_found') when there is no such shot.
   */
  removeShot(id: number): { label: string; shots: number } {
    const s = this.statements();
    const remove = () => {
      const shot = s.shotById.get(id);
      if (!shot) throw new AppError('not_found', `shot: no shot ${id}`, 'shot');
      const row = s.classById.get(shot.class_id)!;
      s.deleteShot.run(id);
      return this.recompute(row);
    };
    return this.guard(() => this.db!.transaction(remove).immediate());
  }

  /**
   * Removals and renames decided elsewhere (the fleet gallery) applied to this store's shots
   * and class negatives, in one transaction: `gone` ones are deleted; a move puts shots and
   * negatives under class `to` (created with the settings of the class they leave when it does
   * not exist). Every class touched is recomputed; one left without shots goes, negatives too.
   */
  reshape(change: { goneShots: number[]; goneNegatives: number[]; moves: Array<{ to: string; shots: number[]; negatives: number[] }> }): void {
    const s = this.statements();
    const apply = (db: Database) => {
      const touched = new Set<number>();
      for (const id of change.goneShots) {
        const owner = s.classIdOfShot.get(id);
        if (owner) touched.add(owner.class_id);
        s.deleteShot.run(id);
      }
      const deleteNegative = db.prepare<[number], unknown>('DELETE FROM negatives WHERE id = ?');
      for (const id of change.goneNegatives) deleteNegative.run(id);
      for (const move of change.moves) this.moveInto(db, move, touched);
      for (const id of touched) {
        const row = s.classById.get(id);
        if (row) this.recompute(row);
      }
    };
    this.guard(() => this.db!.transaction(() => apply(this.db!)).immediate());
  }

  private moveInto(db: Database, move: { to: string; shots: number[]; negatives: number[] }, touched: Set<number>): void {
    checkText('to', move.to, 'bad_label');
    const s = this.statements();
    const negativeClass = db.prepare<[number], { class_id: number | null }>('SELECT class_id FROM negatives WHERE id = ?');
    const sourceId = s.classIdOfShot.get(move.shots[0] ?? -1)?.class_id ?? negativeClass.get(move.negatives[0] ?? -1)?.class_id ?? null;
    let target = s.classByLabel.get(move.to);
    if (!target) {
      const source = sourceId === null ? undefined : s.classById.get(sourceId);
      const now = isoTime(this.clock());
      s.insertClass.run(move.to, source?.background ?? 0, encodeFloat32(new Float32Array(0)), now, now, source?.origin ?? '');
      target = s.classByLabel.get(move.to)!;
      if (source?.threshold !== undefined && source.threshold !== null) s.setThreshold.run(source.threshold, now, target.id);
    }
    const moveShot = db.prepare<[number, number], unknown>('UPDATE shots SET class_id = ? WHERE id = ?');
    const moveNegative = db.prepare<[number, number], unknown>('UPDATE negatives SET class_id = ? WHERE id = ?');
    for (const id of move.shots) {
      const owner = s.classIdOfShot.get(id);
      if (owner) touched.add(owner.class_id);
      moveShot.run(target.id, id);
    }
    for (const id of move.negatives) {
      const owner = negativeClass.get(id);
      if (owner && owner.class_id !== null) touched.add(owner.class_id);
      moveNegative.run(target.id, id);
    }
    touched.add(target.id);
  }

  /** Every residual shot of the shots embedded by `model` (another model's are meaningless). */
  zoneShots(model: string): Array<{ label: string; camera: string; zone: string | null; residual: Float32Array }> {
    const s = this.statements();
    return this.guard(() => s.zoneShots.all(model)).map((r) => ({
      label: r.label,
      camera: r.camera,
      zone: r.zone === '' ? null : r.zone,
      residual: this.decode(r.residual, `residual of a shot of "${r.label}"`),
    }));
  }

  /** Runs `fn` in one IMMEDIATE transaction on this store's database (sibling stores). */
  write<T>(fn: (db: Database) => T): T {
    this.statements();
    return this.guard(() => this.db!.transaction(() => fn(this.db!)).immediate());
  }

  /** Runs `fn` on this store's database, storage errors turned into AppError. */
  read<T>(fn: (db: Database) => T): T {
    this.statements();
    return this.guard(() => fn(this.db!));
  }

  /** A class's sum and count from the shots it has now; removed when none is left. */
  private recompute(row: ClassRow): { label: string; shots: number } {
    const s = this.statements();
    const rest = s.embeddingsOfClass.all(row.id).map((r) => this.decode(r.embedding, `shot of "${row.label}"`));
    if (rest.length === 0) {
      s.deleteClass.run(row.id);
      return { label: row.label, shots: 0 };
    }
    const sum = sumFloat32(rest, rest[0]!.length);
    s.updateClassSum.run(encodeFloat32(sum), rest.length, row.background, isoTime(this.clock()), row.id);
    return { label: row.label, shots: rest.length };
  }

  /** Every class, ordered by label (byte order of its UTF-8). */
  listClasses(): StoredClass[] {
    const s = this.statements();
    return this.guard(() => s.listClasses.all()).map((r) => ({
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
    const s = this.statements();
    const remove = () => {
      const row = this.existing(label);
      s.deleteShotsOfClass.run(row.id);
      s.deleteClass.run(row.id);
    };
    this.guard(() => this.db!.transaction(remove).immediate());
  }

  /**
   * Renames a class, keeping its shots. AppError('not_found') when `label` does not exist,
   * AppError('conflict') when `to` is another existing class. Renaming to itself is a no-op.
   */
  renameClass(label: string, to: string): void {
    checkText('label', label, 'bad_label');
    checkText('to', to, 'bad_label');
    const s = this.statements();
    const rename = () => {
      const row = this.existing(label);
      if (label === to) return;
      if (s.classByLabel.get(to)) throw new AppError('conflict', `to: class "${to}" already exists`);
      s.renameClass.run(to, isoTime(this.clock()), row.id);
    };
    this.guard(() => this.db!.transaction(rename).immediate());
  }

  /**
   * Removes the latest shot of a class and recomputes the class sum from the shots that
   * remain (so repeated add/undo cannot accumulate float error). When the last shot goes, the
   * class itself is removed and `shots: 0` is returned. AppError('not_found') when absent.
   */
  undoShot(label: string): { label: string; shots: number } {
    checkText('label', label, 'bad_label');
    const s = this.statements();
    const undo = () => {
      const row = this.existing(label);
      const latest = s.latestShotId.get(row.id);
      if (latest) s.deleteShot.run(latest.id);
      return this.recompute(row);
    };
    return this.guard(() => this.db!.transaction(undo).immediate());
  }

  /**
   * Replaces the embeddings of the given shots (re-embedded with `model`) and recomputes
   * the sums of their classes, all in one transaction.
   */
  replaceEmbeddings(updates: Array<{ id: number; embedding: Float32Array }>, model: string): void {
    checkText('model', model);
    const s = this.statements();
    const replace = () => {
      const classes = new Set<number>();
      for (const u of updates) {
        const owner = s.classIdOfShot.get(u.id);
        if (!owner) continue;
        s.updateShotEmbedding.run(encodeFloat32(u.embedding), model, u.id);
        classes.add(owner.class_id);
      }
      for (const id of classes) {
        const row = s.classById.get(id)!;
        const all = s.embeddingsOfClass.all(id).map((r) => this.decode(r.embedding, `shot of "${row.label}"`));
        const sum = sumFloat32(all, all[0]!.length);
        s.updateClassSum.run(encodeFloat32(sum), all.length, row.background, row.updated_at, id);
      }
    };
    this.guard(() => this.db!.transaction(replace).immediate());
  }

  /** Every class with its shots' embeddings (no thumbnails): what fine-tuning needs. */
  shotEmbeddings(): Array<{ label: string; background: boolean; shots: Float32Array[] }> {
    const s = this.statements();
    const byLabel = new Map<string, { label: string; background: boolean; shots: Float32Array[] }>();
    for (const r of this.guard(() => s.allEmbeddings.all())) {
      let entry = byLabel.get(r.label);
      if (!entry) byLabel.set(r.label, (entry = { label: r.label, background: r.background === 1, shots: [] }));
      entry.shots.push(this.decode(r.embedding, `shot of "${r.label}"`));
    }
    return [...byLabel.values()];
  }

  /** Sum and count per class, ordered by label: what the classifier needs. */
  loadWeights(): ClassWeights[] {
    const s = this.statements();
    return this.guard(() => s.listClasses.all()).map((r) => ({
      label: r.label,
      background: r.background === 1,
      sum: this.decode(r.sum, `sum of class "${r.label}"`),
      count: r.count,
    }));
  }

  /** Stored shots, of one class or of all (ordered by label, then oldest first). */
  shots(label?: string): Shot[] {
    const s = this.statements();
    if (label !== undefined) checkText('label', label, 'bad_label');
    const rows = this.guard(() => (label === undefined ? s.allShots.all() : s.shotsOfLabel.all(label)));
    return rows.map((r) => ({
      id: r.id,
      label: r.label,
      embedding: this.decode(r.embedding, `shot ${r.id}`),
      model: r.model,
      thumbnail: r.thumbnail,
      source: r.source,
      created_at: r.created_at,
    }));
  }

  /** The shots of a class without their embeddings or thumbnails (the dashboard's gallery), oldest first. */
  shotList(label: string): ShotInfo[] {
    checkText('label', label, 'bad_label');
    this.statements();
    const sql = 'SELECT s.id, c.label, s.source, s.created_at FROM shots s JOIN classes c ON c.id = s.class_id WHERE c.label = ? ORDER BY s.id';
    return this.guard(() => this.db!.prepare<[string], ShotInfo>(sql).all(label));
  }

  /** A shot's thumbnail (JPEG), or null when there is no such shot. */
  thumbnail(id: number): Buffer | null {
    this.statements();
    const row = this.guard(() => this.db!.prepare<[number], { thumbnail: Buffer }>('SELECT thumbnail FROM shots WHERE id = ?').get(id));
    return row?.thumbnail ?? null;
  }

  /** Distinct model sha256 values of the stored shots; more than one, or a different one, means a model change. */
  models(): string[] {
    const s = this.statements();
    return this.guard(() => s.models.all()).map((r) => r.model);
  }

  /**
   * SQLite's `PRAGMA data_version`: changes when ANOTHER connection (the CLI, another agent)
   * committed since the last call on this connection; this connection's own commits do not
   * change it. Cheap enough to poll every second to pick up classes changed elsewhere.
   */
  dataVersion(): number {
    this.statements();
    return this.guard(() => this.db!.pragma('data_version', { simple: true }) as number);
  }

  private configure(db: Database): void {
    // busy_timeout first: switching to WAL itself needs a lock the other process may hold.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new AppError('storage', `database ${this.path}: cannot use WAL mode (got ${String(mode)})`);
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  }

  private statements(): Statements {
    if (!this.stmts) throw new Error('ClassStore used before start() or after stop()');
    return this.stmts;
  }

  private existing(label: string): ClassRow {
    const row = this.stmts!.classByLabel.get(label);
    if (!row) throw new AppError('not_found', `label: no class "${label}"`);
    return row;
  }

  private decode(bytes: Buffer, what: string): Float32Array {
    const v = decodeFloat32(bytes);
    if (!v) throw new AppError('storage', `database ${this.path}: ${what} is corrupt (${bytes.length} bytes)`);
    return v;
  }

  /** Runs `fn`, turning SQLite failures (locked, disk full, I/O, corrupt) into AppError('storage'). */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (isAppError(err) || !(err instanceof BetterSqlite3.SqliteError)) throw err;
      // The one storage failure a user can fix themselves: say so plainly (the write was rolled back).
      if (err.code === 'SQLITE_FULL') {
        throw new AppError(
          'storage',
          `data_dir: no space left on the disk holding ${this.path}; nothing was stored, free some space and retry (SQLITE_FULL)`,
        );
      }
      throw new AppError('storage', `database ${this.path}: ${err.code}: ${oneLine(err.message)}`);
    }
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function checkText(field: string, value: string, code: 'bad_label' | 'bad_request' = 'bad_request'): void {
  if (typeof value !== 'string' || !isWellFormedText(value)) {
    throw new AppError(code, `${field}: not a valid Unicode string`);
  }
}

/** Checks the shots of one enrollment and returns their common embedding length. */
function checkShots(shots: NewShot[]): number {
  const first = shots[0];
  if (!first) throw new AppError('bad_request', 'shots: at least one shot is required');
  const dim = first.embedding.length;
  if (dim === 0) throw new AppError('bad_request', 'shots: empty embedding');
  shots.forEach((shot, i) => {
    if (shot.embedding.length !== dim) {
      throw new AppError('bad_request', `shots[${i}].embedding: length ${shot.embedding.length}, expected ${dim}`);
    }
    if (!allFinite(shot.embedding)) throw new AppError('bad_request', `shots[${i}].embedding: not finite`);
    if (!Buffer.isBuffer(shot.thumbnail)) throw new AppError('bad_request', `shots[${i}].thumbnail: not a Buffer`);
    checkText(`shots[${i}].source`, shot.source);
  });
  return dim;
}
