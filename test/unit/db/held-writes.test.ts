/**
 * HeldWrites against a real SQLite file locked by a second connection (as a backup tool would):
 * a write never blocks for the old 5 s busy timeout, rows wait in order and land once the lock
 * is gone, and an operation reads back as written meanwhile.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type OpenDatabase, openDatabase } from '../../../src/db/database.js';
import { HeldWrites, holdReason } from '../../../src/db/held-writes.js';
import { SqliteAuditStore } from '../../../src/db/sqlite-audit-store.js';
import { SqliteOperationStore } from '../../../src/db/sqlite-operation-store.js';
import { waitFor } from '../../env/harness.js';
import { ManualClock } from '../../support/manual-clock.js';
import { testLogger } from '../../support/siteflow.js';

const actor = { platform: 'discord' as const, id: 'U1', name: 'Ada' };

const until = (check: () => boolean, ms = 5000) => waitFor('held writes', check, ms, { intervalMs: 20 });

describe('HeldWrites', () => {
  let dir: string;
  let h: OpenDatabase;
  let locker: Database.Database;
  let writes: HeldWrites;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sf-held-'));
    h = openDatabase(join(dir, 'siteflow.db'));
    locker = new Database(join(dir, 'siteflow.db'));
    writes = new HeldWrites({ logger: testLogger(), retryMs: { initial: 20, max: 100 } });
  });
  afterEach(() => {
    writes.stop();
    if (locker.inTransaction) locker.exec('ROLLBACK');
    locker.close();
    h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds audit rows while another connection has the write lock, then writes them in order', async () => {
    const audit = new SqliteAuditStore(h.db, writes);
    locker.exec('BEGIN EXCLUSIVE');
    const t0 = Date.now();
    audit.record({ at: 1, actor, action: 'status', outcome: 'ok' });
    audit.record({ at: 2, actor, action: 'help', outcome: 'ok' });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(writes.held).toBe(2);
    expect(writes.reason).toBe('busy');
    locker.exec('COMMIT');
    await until(() => writes.held === 0);
    expect(writes.reason).toBeNull();
    const rows = audit.query({ limit: 10 }).entries.map((e) => e.action);
    expect(rows).toEqual(['help', 'status']);
  });

  it('a write after held ones queues behind them even when the lock is gone', async () => {
    const audit = new SqliteAuditStore(h.db, writes);
    locker.exec('BEGIN EXCLUSIVE');
    audit.record({ at: 1, actor, action: 'first', outcome: 'ok' });
    locker.exec('COMMIT');
    expect(writes.run('second', () => audit.record({ at: 2, actor, action: 'second', outcome: 'ok' }))).toBe(
      false,
    );
    await until(() => writes.held === 0);
    expect(audit.query({ limit: 10 }).entries.map((e) => e.action)).toEqual(['second', 'first']);
  });

  it('an operation created and updated while locked reads back as written, and lands later', async () => {
    const ops = new SqliteOperationStore(h.db, writes);
    locker.exec('BEGIN EXCLUSIVE');
    ops.create({
      id: 'op_1',
      kind: 'restart',
      host: 'local',
      site: 'blog',
      args: {},
      requestedBy: actor,
      status: 'queued',
      createdAt: 1,
      logPath: null,
    });
    expect(ops.update('op_1', { status: 'running', startedAt: 2 })).toMatchObject({ status: 'running' });
    expect(ops.get('op_1')).toMatchObject({ status: 'running', startedAt: 2 });
    locker.exec('COMMIT');
    await until(() => writes.held === 0);
    const fresh = new SqliteOperationStore(h.db);
    expect(fresh.get('op_1')).toMatchObject({ status: 'running', startedAt: 2 });
  });

  it('retries on the clock port: nothing lands before the backoff passes, which doubles while refused', async () => {
    const clock = new ManualClock();
    const timed = new HeldWrites({ logger: testLogger(), clock, retryMs: { initial: 100, max: 5000 } });
    let refuse = 2;
    const written: string[] = [];
    const write = (what: string) => () => {
      if (refuse-- > 0) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      written.push(what);
    };
    // Refused once when run, once more at the first retry (100 ms), written at the second (200 ms later).
    expect(timed.run('a', write('a'))).toBe(false);
    timed.run('b', () => written.push('b'));
    expect(timed.reason).toBe('full');
    await clock.advance(99);
    expect(timed.held).toBe(2);
    await clock.advance(1);
    expect(timed.held).toBe(2);
    await clock.advance(199);
    expect(written).toEqual([]);
    await clock.advance(1);
    expect(written).toEqual(['a', 'b']);
    expect(timed.held).toBe(0);
    expect(timed.reason).toBeNull();
    expect(clock.pending).toBe(0);
    timed.stop();
  });

  it('drops (and counts) writes beyond its bound', () => {
    const small = new HeldWrites({ logger: testLogger(), max: 2 });
    const busy = () => {
      throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    };
    for (let i = 0; i < 5; i++) small.run(`w${i}`, busy);
    expect(small.held).toBe(2);
    expect(small.dropped).toBe(3);
    small.stop();
  });

  it('throws errors that retrying cannot fix', () => {
    expect(() =>
      writes.run('bad', () => {
        throw Object.assign(new Error('constraint'), { code: 'SQLITE_CONSTRAINT' });
      }),
    ).toThrow('constraint');
    expect(holdReason({ code: 'SQLITE_FULL' })).toBe('full');
    expect(holdReason({ code: 'SQLITE_IOERR_WRITE' })).toBe('full');
    expect(holdReason({ code: 'SQLITE_BUSY' })).toBe('busy');
    expect(holdReason(new Error('x'))).toBeNull();
  });
});
