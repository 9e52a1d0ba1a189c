import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { describeError, SiteFlowError } from '../core/errors.js';
import * as schema from './schema.js';

/** The drizzle handle typed with our schema; `$client` is the raw better-sqlite3 connection. */
export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

/** An open, migrated database: the drizzle handle, the raw connection and how to close both. */
export interface OpenDatabase {
  db: Db;
  sqlite: Database.Database;
  /**
   * Re-gathers the query planner's statistics with a full ANALYZE (about 0.6 s per million
   * audit rows; run it daily). Opening already does so when they are missing or stale.
   */
  optimize(): void;
  close(): void;
}

/** SQLite's busy timeout once the database is open: the longest one write blocks the event loop. */
export const RUNNING_BUSY_TIMEOUT_MS = 200;

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** Folder holding the generated SQL and meta/_journal.json; found next to the package by default. */
  migrationsFolder?: string;
}

/**
 * Finds the `drizzle/` folder by walking up from this module: it is `../../drizzle` from
 * src/db under tsx and `../../../drizzle` from dist/src/db after `tsc`.
 */
export function findMigrationsFolder(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'drizzle');
    if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new SiteFlowError('DB_NO_MIGRATIONS', `no drizzle/meta/_journal.json found above ${from}`);
}

/**
 * Opens (creating if needed) the SQLite file, sets WAL, a busy timeout, foreign keys and
 * NORMAL sync, and applies pending migrations. `:memory:` works for tests.
 */
export function openDatabase(file: string, options: OpenDatabaseOptions = {}): OpenDatabase {
  const inMemory = file === ':memory:' || file === '';
  if (!inMemory) mkdirSync(dirname(resolve(file)), { recursive: true });

  let sqlite: Database.Database;
  try {
    sqlite = new Database(file);
  } catch (e) {
    throw new SiteFlowError(
      'DB_OPEN_FAILED',
      `cannot open database ${file}: ${describeError(e)}`,
      {},
      { cause: e },
    );
  }
  try {
    sqlite.pragma('journal_mode = WAL');
    // Opening and migrating may wait for another process's lock a while...
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('synchronous = NORMAL');
    const db = drizzle(sqlite, { schema });
    migrate(db, { migrationsFolder: options.migrationsFolder ?? findMigrationsFolder() });
    // A 16 MiB page cache keeps the audit indexes' hot pages in memory (the default is 2 MiB).
    sqlite.pragma('cache_size = -16000');
    refreshStatistics(sqlite);
    // ...but once running, a locked database blocks the event loop at most this long per
    // attempt: writes that cannot wait are held and retried (HeldWrites), not waited for.
    sqlite.pragma(`busy_timeout = ${RUNNING_BUSY_TIMEOUT_MS}`);
    return {
      db,
      sqlite,
      optimize() {
        refreshStatistics(sqlite, true);
      },
      close() {
        // No `PRAGMA optimize` here: it runs an approximate ANALYZE whose numbers make every
        // audit index look alike, which is worse than the full statistics we keep.
        if (sqlite.open) sqlite.close();
      },
    };
  } catch (e) {
    sqlite.close();
    if (e instanceof SiteFlowError) throw e;
    throw new SiteFlowError(
      'DB_MIGRATION_FAILED',
      `cannot migrate ${file}: ${describeError(e)}`,
      {},
      { cause: e },
    );
  }
}

/** Tables whose planner statistics {@link refreshStatistics} keeps current. */
const ANALYZED_TABLES = ['audit_log', 'operations'] as const;

/**
 * Runs a full ANALYZE of each table that has no statistics yet or has grown or shrunk 2x
 * since they were taken, so a query with several filters walks its most selective index
 * (the planner cannot tell a per-user index from a per-outcome one without them). A full
 * ANALYZE, not `PRAGMA optimize`'s sampled one: sampling only the first index entries makes
 * every index look equally selective. About 0.6 s per million audit rows; returns the
 * tables analyzed. https://sqlite.org/lang_analyze.html
 */
export function refreshStatistics(sqlite: Database.Database, force = false): string[] {
  const analyzed: string[] = [];
  const hasStats = sqlite
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
    .get();
  for (const table of ANALYZED_TABLES) {
    const rows = sqlite.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number;
    const stat = hasStats
      ? (sqlite
          .prepare('SELECT stat FROM sqlite_stat1 WHERE tbl = ? AND idx IS NOT NULL LIMIT 1')
          .pluck()
          .get(table) as string | undefined)
      : undefined;
    const statRows = stat === undefined ? undefined : Number.parseInt(stat, 10);
    const stale =
      statRows === undefined ||
      Number.isNaN(statRows) ||
      rows > 2 * statRows + 100 ||
      rows < statRows / 2 - 100;
    if (force || stale) {
      sqlite.pragma('analysis_limit = 0');
      sqlite.exec(`ANALYZE "${table}"`);
      analyzed.push(table);
    }
  }
  return analyzed;
}
