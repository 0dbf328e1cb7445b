/**
 * The store's SQLite connection (better-sqlite3, WAL) at `<dataDir>/edge-imprint.db`, shared by
 * the stores of storage/ (classes, events, gallery tables); no other room sees it.
 *
 * The CLI and a running agent open the same file at the same time: every write runs in one
 * IMMEDIATE transaction, and commits are fsynced (synchronous=FULL) so that an enrollment the
 * user saw succeed survives a power cut too, at one fsync per write, which is rare here.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import type { Logger } from 'pino';
import { AppError, errorMessage, isAppError } from '../errors.js';
import { decodeFloat32 } from './codec.js';
import { migrate } from './migrations.js';

export const STORE_FILE = 'edge-imprint.db';
/** How long a writer waits for the other process (CLI or agent) to release the lock. */
const BUSY_TIMEOUT_MS = 5000;

export class StoreDb {
  private db: Database | undefined;
  private readonly statements = new Map<string, Statement<unknown[], unknown>>();
  readonly path: string;

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
  ) {
    this.path = join(dataDir, STORE_FILE);
  }

  get isOpen(): boolean {
    return this.db !== undefined;
  }

  /** Creates the data dir if needed, opens the database in WAL mode and migrates it. */
  open(): void {
    if (this.db) return;
    try {
      mkdirSync(this.dataDir, { recursive: true });
    } catch (err) {
      throw new AppError('storage', `data_dir: cannot create ${this.dataDir}: ${errorMessage(err)}`);
    }
    const db = this.guard(() => new BetterSqlite3(this.path));
    try {
      this.guard(() => this.configure(db));
      const { from, to } = this.guard(() => migrate(db, this.logger));
      this.db = db;
      this.logger.info({ path: this.path, schema: to, migrated_from: from }, 'class store open');
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Safe at any time, also before open or twice. */
  close(): void {
    const db = this.db;
    this.db = undefined;
    this.statements.clear();
    if (db?.open) db.close();
  }

  /** A statement of this connection, prepared once. */
  stmt<P extends unknown[] = unknown[], R = unknown>(sql: string): Statement<P, R> {
    const db = this.connection();
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.guard(() => db.prepare<unknown[], unknown>(sql))));
    return s as unknown as Statement<P, R>;
  }

  /** Runs `fn` in one IMMEDIATE transaction (a savepoint when one is already open). */
  transaction<T>(fn: () => T): T {
    const db = this.connection();
    return this.guard(() => db.transaction(fn).immediate());
  }

  /** Runs a read, storage errors turned into AppError. */
  read<T>(fn: () => T): T {
    this.connection();
    return this.guard(fn);
  }

  /**
   * SQLite's `PRAGMA data_version`: changes when ANOTHER connection (the CLI, another agent)
   * committed since the last call on this connection, so it is cheap to poll for changes made elsewhere.
   */
  dataVersion(): number {
    const db = this.connection();
    return this.guard(() => db.pragma('data_version', { simple: true }) as number);
  }

  /** A float32 blob, or AppError('storage') naming `what` when it is corrupt. */
  decode(bytes: Buffer, what: string): Float32Array {
    const v = decodeFloat32(bytes);
    if (!v) throw new AppError('storage', `database ${this.path}: ${what} is corrupt (${bytes.length} bytes)`);
    return v;
  }

  private connection(): Database {
    if (!this.db) throw new Error('store used before start() or after stop()');
    return this.db;
  }

  private configure(db: Database): void {
    // busy_timeout first: switching to WAL itself needs a lock the other process may hold.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new AppError('storage', `database ${this.path}: cannot use WAL mode (got ${String(mode)})`);
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
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
