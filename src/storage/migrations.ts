/**
 * Versioned, forward-only schema migrations for the class store. The schema version lives in
 * `PRAGMA user_version`. Each migration runs in its own IMMEDIATE transaction that also bumps
 * the version, so a crash (or a failing step) leaves the database at the previous version with
 * none of the step applied, and two processes opening a fresh database at once cannot both run
 * the same step: the second waits for the write lock, then re-reads the version.
 *
 * Never edit a released migration; append a new one with the next version number.
 */
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';

export interface Migration {
  version: number;
  description: string;
  up: (db: Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'classes and shots',
    up: (db) => {
      // `sum` is the float32 little-endian sum of the class's normalised shot embeddings and
      // `count` their number; both are rewritten in the same transaction as the shots.
      db.exec(`
        CREATE TABLE classes (
          id         INTEGER PRIMARY KEY,
          label      TEXT    NOT NULL UNIQUE,
          background INTEGER NOT NULL DEFAULT 0 CHECK (background IN (0, 1)),
          sum        BLOB    NOT NULL,
          count      INTEGER NOT NULL CHECK (count >= 0),
          created_at TEXT    NOT NULL,
          updated_at TEXT    NOT NULL
        );
        -- AUTOINCREMENT: ids never reused, so "latest shot" = highest id even after undo.
        CREATE TABLE shots (
          id         INTEGER PRIMARY KEY AUTOINCREMENT,
          class_id   INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
          embedding  BLOB    NOT NULL,
          model      TEXT    NOT NULL,
          thumbnail  BLOB    NOT NULL,
          source     TEXT    NOT NULL,
          created_at TEXT    NOT NULL
        );
        CREATE INDEX shots_by_class ON shots (class_id, id);
        CREATE INDEX shots_by_model ON shots (model);
      `);
    },
  },
  {
    version: 2,
    description: 'per-class settings, detection events, corrections and scene models',
    up: (db) => {
      // threshold: the user's override (class/set); NULL means "from the data".
      // origin: the node that enrolled the class first (the fleet shares classes).
      db.exec(`
        ALTER TABLE classes ADD COLUMN threshold REAL CHECK (threshold IS NULL OR (threshold >= 0 AND threshold <= 1));
        ALTER TABLE classes ADD COLUMN origin TEXT NOT NULL DEFAULT '';
        -- A detection event: the start frame's embedding and crop, for corrections.
        CREATE TABLE events (
          id              TEXT PRIMARY KEY,
          camera          TEXT NOT NULL,
          zone            TEXT,
          label           TEXT NOT NULL,
          score           REAL NOT NULL,
          start_time      TEXT NOT NULL,
          end_time        TEXT,
          embedding       BLOB,
          -- The frame's residual against its zone's scene at that moment (scene-aware zones).
          residual        BLOB,
          model           TEXT NOT NULL,
          crop            BLOB,
          snapshot        BLOB,
          correction      TEXT CHECK (correction IN ('confirmed', 'rejected', 'relabeled')),
          corrected_label TEXT,
          corrected_at    TEXT,
          -- What the correction added, so that undo removes exactly that.
          shot_id         INTEGER,
          negative_ids    TEXT,
          created_at      TEXT NOT NULL
        );
        CREATE INDEX events_by_time ON events (start_time);
        CREATE INDEX events_by_unit ON events (camera, zone, start_time);
        -- A frame a user said was NOT its class (class_id set), or was nothing at all (class_id
        -- NULL: an example of the empty scene of that camera/zone).
        CREATE TABLE negatives (
          id         INTEGER PRIMARY KEY AUTOINCREMENT,
          class_id   INTEGER REFERENCES classes(id) ON DELETE CASCADE,
          camera     TEXT NOT NULL,
          zone       TEXT,
          embedding  BLOB NOT NULL,
          residual   BLOB,
          model      TEXT NOT NULL,
          thumbnail  BLOB,
          event_id   TEXT,
          created_at TEXT NOT NULL
        );
        CREATE INDEX negatives_by_class ON negatives (class_id);
        -- A shot as a zone sees it: its residual against that zone's empty scene when it was
        -- taken (enrolled from the zone, or a confirmed event there), and the residuals of its
        -- augmentations against the equally augmented scene. '' is the whole frame of a
        -- camera without zones. They go with their shot.
        CREATE TABLE zone_shots (
          id           INTEGER PRIMARY KEY AUTOINCREMENT,
          shot_id      INTEGER NOT NULL REFERENCES shots(id) ON DELETE CASCADE,
          camera       TEXT NOT NULL,
          zone         TEXT NOT NULL,
          augmentation TEXT NOT NULL DEFAULT '',
          residual     BLOB NOT NULL
        );
        CREATE INDEX zone_shots_by_unit ON zone_shots (camera, zone);
        CREATE INDEX zone_shots_by_shot ON zone_shots (shot_id);
        -- The learned empty scene of each camera/zone ('' for a camera without zones).
        CREATE TABLE scenes (
          camera     TEXT NOT NULL,
          zone       TEXT NOT NULL,
          model      TEXT NOT NULL,
          state      TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          PRIMARY KEY (camera, zone)
        );
      `);
    },
  },
  {
    version: 3,
    description: 'the fleet gallery: ids and stamps of this node\'s shots, other nodes\' contributions, operations',
    up: (db) => {
      // Stamps are hybrid logical clock stamps as text (src/fleet/hlc.ts): text order is time order.
      db.exec(`
        -- This node's shots and class negatives as the fleet knows them: a global id, the stamp
        -- of their creation, and the stamp from which they carry their class's label.
        CREATE TABLE gallery_shots_local (
          shot_id  INTEGER PRIMARY KEY REFERENCES shots(id) ON DELETE CASCADE,
          gid      TEXT NOT NULL UNIQUE,
          at       TEXT NOT NULL,
          label_at TEXT NOT NULL
        );
        CREATE TABLE gallery_negatives_local (
          negative_id INTEGER PRIMARY KEY REFERENCES negatives(id) ON DELETE CASCADE,
          gid         TEXT NOT NULL UNIQUE,
          at          TEXT NOT NULL,
          label_at    TEXT NOT NULL
        );
        -- This node's settings of a class as it shares them (at: when set), and the values the
        -- class's row had when the gallery last looked (a difference is a change made here).
        CREATE TABLE gallery_settings (
          label          TEXT PRIMARY KEY,
          background     INTEGER NOT NULL CHECK (background IN (0, 1)),
          threshold      REAL,
          at             TEXT NOT NULL,
          label_at       TEXT NOT NULL,
          row_background INTEGER,
          row_threshold  REAL
        );
        -- The latest contribution of each other node per class and model, its records with
        -- their vectors in this node's model (space; re-embedded when the model differs).
        CREATE TABLE gallery_contributions (
          node         TEXT NOT NULL,
          model        TEXT NOT NULL,
          label        TEXT NOT NULL,
          version      TEXT NOT NULL,
          space        TEXT NOT NULL,
          settings     TEXT,
          bytes        INTEGER NOT NULL,
          received_at  TEXT NOT NULL,
          PRIMARY KEY (node, model, label)
        );
        CREATE TABLE gallery_records (
          node      TEXT NOT NULL,
          model     TEXT NOT NULL,
          label     TEXT NOT NULL,
          gid       TEXT NOT NULL,
          kind      TEXT NOT NULL CHECK (kind IN ('shot', 'negative')),
          at        TEXT NOT NULL,
          label_at  TEXT NOT NULL,
          embedding BLOB NOT NULL,
          thumbnail BLOB,
          PRIMARY KEY (node, model, label, gid),
          FOREIGN KEY (node, model, label) REFERENCES gallery_contributions (node, model, label) ON DELETE CASCADE
        );
        -- Each other node's latest manifest: the contributions it has.
        CREATE TABLE gallery_peers (
          node     TEXT PRIMARY KEY,
          at       TEXT NOT NULL,
          entries  TEXT NOT NULL,
          seen_at  TEXT NOT NULL
        );
        -- Removals, renames and undos of every node (tombstones), compacted by rule.
        CREATE TABLE gallery_ops (
          at       TEXT PRIMARY KEY,
          kind     TEXT NOT NULL CHECK (kind IN ('remove', 'rename', 'drop')),
          label    TEXT NOT NULL,
          to_label TEXT,
          gid      TEXT
        );
        -- What this node published last per topic: an unchanged contribution keeps its version.
        CREATE TABLE gallery_published (
          topic   TEXT PRIMARY KEY,
          digest  TEXT NOT NULL,
          version TEXT NOT NULL
        );
        -- The hybrid logical clock, so that stamps keep increasing across restarts.
        CREATE TABLE gallery_clock (
          id      INTEGER PRIMARY KEY CHECK (id = 1),
          wall    INTEGER NOT NULL,
          counter INTEGER NOT NULL
        );
      `);
    },
  },
  {
    version: 4,
    description: 'classes.sum dropped (the classifier sums the shots itself)',
    // Its own version, not just an unused column: an older build refuses this database instead of trusting an empty sum.
    up: (db) => db.exec('ALTER TABLE classes DROP COLUMN sum'),
  },
  {
    version: 5,
    description: 'events.box: where in the frame a class was found (JSON fractions), null when the whole unit decided',
    up: (db) => db.exec('ALTER TABLE events ADD COLUMN box TEXT'),
  },
  {
    version: 6,
    description: "shots.object: the embedding of the object found in a photo (its pixels on grey), null when none was or the shot is no photo",
    up: (db) => db.exec('ALTER TABLE shots ADD COLUMN object BLOB'),
  },
];

/** The schema version this build writes. */
export function latestVersion(migrations: readonly Migration[] = MIGRATIONS): number {
  return migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
}

function checkSequence(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    // A gap or a duplicate is a programming error, caught by the unit tests.
    if (m.version !== i + 1) throw new Error(`migration ${m.version} out of sequence at position ${i + 1}`);
  });
}

function userVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` up to the latest version. Refuses a database written by a newer build, since
 * this build cannot know what the newer schema means.
 */
export function migrate(
  db: Database,
  logger: Logger,
  migrations: readonly Migration[] = MIGRATIONS,
): { from: number; to: number } {
  checkSequence(migrations);
  const latest = latestVersion(migrations);
  const from = userVersion(db);
  if (from > latest) {
    throw new AppError(
      'storage',
      `database ${db.name} has schema version ${from}, newer than this edge-imprint (${latest}); upgrade edge-imprint`,
    );
  }
  for (const m of migrations) {
    const applied = db
      .transaction(() => {
        // Re-read under the write lock: another process may have migrated meanwhile.
        if (userVersion(db) >= m.version) return false;
        m.up(db);
        db.pragma(`user_version = ${m.version}`);
        return true;
      })
      .immediate();
    if (applied) logger.info({ version: m.version, migration: m.description }, 'store schema migrated');
  }
  return { from, to: userVersion(db) };
}
