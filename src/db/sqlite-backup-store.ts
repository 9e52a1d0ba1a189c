/**
 * The last NAS backup check per site in SQLite (table backup_checks), so the backup state
 * shown after a restart is the last one known rather than "unknown".
 */
import { asc } from 'drizzle-orm';
import type { BackupResult } from '../core/backup.js';
import type { Db } from './database.js';
import { type BackupCheckRow, backupChecks } from './schema.js';

/** Where backup check results are kept (SqliteBackupStore implements it). */
export interface BackupStore {
  /** Every stored result, by site name. */
  all(): BackupResult[];
  /** Replaces the stored results of these sites. */
  put(results: readonly BackupResult[]): void;
}

function fromRow(r: BackupCheckRow): BackupResult {
  return {
    site: r.site,
    path: r.path,
    hosts: r.hosts,
    state: r.state,
    newestAt: r.newestAt,
    sizeBytes: r.sizeBytes,
    newestName: r.newestName,
    checkedAt: r.checkedAt,
    message: r.message,
  };
}

/** BackupStore on the drizzle handle. */
export class SqliteBackupStore implements BackupStore {
  constructor(private readonly db: Db) {}

  all(): BackupResult[] {
    return this.db.select().from(backupChecks).orderBy(asc(backupChecks.site)).all().map(fromRow);
  }

  put(results: readonly BackupResult[]): void {
    if (!results.length) return;
    this.db.transaction((tx) => {
      for (const r of results) {
        const row = { ...r, hosts: [...r.hosts] };
        tx.insert(backupChecks)
          .values(row)
          .onConflictDoUpdate({ target: backupChecks.site, set: { ...row, site: undefined } })
          .run();
      }
    });
  }
}
