import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findMigrationsFolder, type OpenDatabase, openDatabase } from '../../../src/db/database.js';
import { SqliteAuditStore } from '../../../src/db/sqlite-audit-store.js';
import { SqliteOperationStore } from '../../../src/db/sqlite-operation-store.js';

const actor = { platform: 'discord' as const, id: 'U1', name: 'Ada' };

describe('openDatabase', () => {
  let dir: string;
  const open: OpenDatabase[] = [];
  const openDb = (file: string) => {
    const h = openDatabase(file);
    open.push(h);
    return h;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'siteflow-db-'));
  });
  afterEach(() => {
    for (const h of open.splice(0)) h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the parent folder and the file, migrates an empty database and sets the pragmas', () => {
    const file = join(dir, 'nested', 'deeper', 'siteflow.db');
    const h = openDb(file);
    expect(existsSync(file)).toBe(true);
    const tables = h.sqlite
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all();
    expect(tables).toEqual(expect.arrayContaining(['__drizzle_migrations', 'audit_log', 'operations']));
    expect(h.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(h.sqlite.pragma('busy_timeout', { simple: true })).toBe(200);
    expect(h.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(h.sqlite.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    const indexes = h.sqlite
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log'")
      .pluck()
      .all();
    expect(indexes).toEqual(
      expect.arrayContaining([
        'audit_log_at_idx',
        'audit_log_actor_id_idx',
        'audit_log_actor_name_idx',
        'audit_log_action_idx',
        'audit_log_site_idx',
        'audit_log_outcome_idx',
        'audit_log_operation_idx',
      ]),
    );
  });

  it('re-opening an existing database with rows applies nothing and keeps the data', () => {
    const file = join(dir, 'siteflow.db');
    const first = openDb(file);
    const applied = first.sqlite.prepare('SELECT hash, created_at FROM __drizzle_migrations').all();
    expect(applied.length).toBeGreaterThan(0);
    const ops = new SqliteOperationStore(first.db);
    ops.create({
      id: 'op-1',
      kind: 'restart',
      host: 'local',
      site: 'blog',
      args: { service: 'web' },
      requestedBy: actor,
      status: 'succeeded',
      createdAt: 1000,
      logPath: null,
    });
    const entry = new SqliteAuditStore(first.db).record({
      at: 1000,
      actor,
      action: 'restart',
      site: 'blog',
      outcome: 'ok',
      operationId: 'op-1',
      details: { note: 'kept' },
    });
    first.close();

    for (let i = 0; i < 2; i++) {
      const again = openDb(file);
      expect(again.sqlite.prepare('SELECT hash, created_at FROM __drizzle_migrations').all()).toEqual(
        applied,
      );
      const page = new SqliteAuditStore(again.db).query({});
      expect(page.entries).toEqual([entry]);
      expect(new SqliteOperationStore(again.db).get('op-1')?.args).toEqual({ service: 'web' });
      again.close();
    }
  });

  it('works in memory', () => {
    const h = openDb(':memory:');
    const store = new SqliteAuditStore(h.db);
    store.record({ at: 5, actor, action: 'status', outcome: 'ok' });
    expect(store.query({}).entries.map((e) => e.action)).toEqual(['status']);
  });

  it('finds the migrations folder from the source tree and from a dist-like depth', () => {
    const fromSrc = findMigrationsFolder();
    expect(existsSync(join(fromSrc, 'meta', '_journal.json'))).toBe(true);
    // dist/src/db is one level deeper than src/db; the walk up still finds <repo>/drizzle.
    expect(findMigrationsFolder(join(fromSrc, '..', 'dist', 'src', 'db'))).toBe(fromSrc);
  });

  it('reports a missing migrations folder with a DB_ code', () => {
    expect(() => openDatabase(':memory:', { migrationsFolder: join(dir, 'nope') })).toThrowError(
      expect.objectContaining({ code: 'DB_MIGRATION_FAILED' }),
    );
  });
});
