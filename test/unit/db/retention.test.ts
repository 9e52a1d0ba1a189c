import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../src/core/alerts.js';
import type { Logger, NewOperation } from '../../../src/core/ports.js';
import { type OpenDatabase, openDatabase } from '../../../src/db/database.js';
import { RetentionJob } from '../../../src/db/retention.js';
import { SqliteAlertStore } from '../../../src/db/sqlite-alert-store.js';
import { SqliteAuditStore } from '../../../src/db/sqlite-audit-store.js';
import { SqliteOperationStore } from '../../../src/db/sqlite-operation-store.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2025, 5, 1, 3, 17);
const actor = { platform: 'discord' as const, id: '42', name: 'Ada' };

/** A Logger that keeps what it is given. */
class MemoryLogger implements Logger {
  readonly lines: { level: string; obj: object | string; msg?: string }[] = [];
  debug(obj: object | string, msg?: string) {
    this.lines.push({ level: 'debug', obj, msg });
  }
  info(obj: object | string, msg?: string) {
    this.lines.push({ level: 'info', obj, msg });
  }
  warn(obj: object | string, msg?: string) {
    this.lines.push({ level: 'warn', obj, msg });
  }
  error(obj: object | string, msg?: string) {
    this.lines.push({ level: 'error', obj, msg });
  }
  child(): Logger {
    return this;
  }
}

describe('RetentionJob', () => {
  let dir: string;
  let logsDir: string;
  let outside: string;
  let h: OpenDatabase;
  let audit: SqliteAuditStore;
  let ops: SqliteOperationStore;
  let logger: MemoryLogger;
  let job: RetentionJob | undefined;

  const finishedOp = (id: string, finishedAt: number, logPath: string | null) => {
    const op: NewOperation = {
      id,
      kind: 'pull',
      host: 'local',
      site: 'blog',
      args: {},
      requestedBy: actor,
      status: 'running',
      createdAt: finishedAt - 1000,
      logPath,
    };
    ops.create(op);
    ops.update(id, { status: 'succeeded', finishedAt });
  };
  const makeJob = (extra: Partial<ConstructorParameters<typeof RetentionJob>[0]> = {}) =>
    new RetentionJob({
      audit,
      operations: ops,
      logsDir,
      auditDays: 90,
      operationDays: 30,
      clock: { now: () => NOW },
      logger,
      ...extra,
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'siteflow-retention-'));
    logsDir = join(dir, 'logs');
    outside = join(dir, 'outside');
    mkdirSync(join(logsDir, 'blog'), { recursive: true });
    mkdirSync(outside);
    h = openDatabase(join(dir, 'data', 'siteflow.db'));
    audit = new SqliteAuditStore(h.db);
    ops = new SqliteOperationStore(h.db);
    logger = new MemoryLogger();
  });
  afterEach(async () => {
    await job?.stop();
    job = undefined;
    h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prunes only old audit rows and old finished operations, and only their log files inside logsDir', async () => {
    const write = (path: string) => {
      writeFileSync(path, 'log\n');
      return path;
    };
    // Audit: 3 rows older than 90 days, 1 exactly at the cut-off (kept), 2 newer.
    for (const age of [400, 200, 91, 90, 10, 0]) {
      audit.record({ at: NOW - age * DAY, actor, action: 'status', outcome: 'ok', details: { age } });
    }
    const oldLog = write(join(logsDir, 'blog', 'old.log'));
    const newLog = write(join(logsDir, 'blog', 'new.log'));
    const outsideFile = write(join(outside, 'precious.log'));
    const linkTarget = write(join(outside, 'target.log'));
    symlinkSync(linkTarget, join(logsDir, 'blog', 'link.log'));
    symlinkSync(outside, join(logsDir, 'escape'));
    const viaLinkedDir = write(join(outside, 'via-dir.log'));
    write(join(logsDir, 'relative.log'));
    const runningLog = write(join(logsDir, 'running.log'));

    finishedOp('old', NOW - 31 * DAY, oldLog);
    finishedOp('new', NOW - 29 * DAY, newLog);
    finishedOp('abs-outside', NOW - 40 * DAY, outsideFile);
    finishedOp('dotdot', NOW - 40 * DAY, join(logsDir, '..', 'outside', 'precious.log'));
    finishedOp('symlink-file', NOW - 40 * DAY, join(logsDir, 'blog', 'link.log'));
    finishedOp('symlink-dir', NOW - 40 * DAY, join(logsDir, 'escape', 'via-dir.log'));
    finishedOp('relative', NOW - 40 * DAY, 'relative.log');
    finishedOp('missing', NOW - 40 * DAY, join(logsDir, 'gone.log'));
    finishedOp('no-log', NOW - 40 * DAY, null);
    finishedOp('the-dir-itself', NOW - 40 * DAY, logsDir);
    ops.create({
      id: 'still-running',
      kind: 'pull',
      host: null,
      site: 'blog',
      args: {},
      requestedBy: actor,
      status: 'running',
      createdAt: NOW - 60 * DAY,
      logPath: runningLog,
    });

    job = makeJob();
    const result = await job.runOnce(NOW);

    // 9 operations go; 8 had a log path: 2 files deleted, 6 left alone (outside, links, missing, the folder).
    expect(result).toEqual({
      auditDeleted: 3,
      operationLogs: 8,
      logFilesDeleted: 2,
      logFilesSkipped: 6,
      alertsDeleted: 0,
      silencesDeleted: 0,
      deliveriesDeleted: 0,
      archivesDeleted: 0,
    });
    const ages = audit.query({}).entries.map((e) => e.details.age);
    expect(ages).toEqual([0, 10, 90]);
    expect(
      ops
        .list({ limit: 100 })
        .map((o) => o.id)
        .sort(),
    ).toEqual(['new', 'still-running']);

    expect(existsSync(oldLog)).toBe(false);
    expect(existsSync(join(logsDir, 'relative.log'))).toBe(false);
    expect(existsSync(newLog)).toBe(true);
    expect(existsSync(runningLog)).toBe(true);
    expect(readFileSync(outsideFile, 'utf8')).toBe('log\n');
    expect(readFileSync(linkTarget, 'utf8')).toBe('log\n');
    expect(existsSync(join(logsDir, 'blog', 'link.log'))).toBe(true);
    expect(readFileSync(viaLinkedDir, 'utf8')).toBe('log\n');
    expect(existsSync(logsDir)).toBe(true);
    expect(logger.lines.some((l) => l.level === 'info' && l.msg === 'retention pass done')).toBe(true);
    expect(logger.lines.filter((l) => l.level === 'warn').length).toBeGreaterThanOrEqual(4);

    // A second pass finds nothing more.
    expect(await job.runOnce(NOW)).toEqual({
      auditDeleted: 0,
      operationLogs: 0,
      logFilesDeleted: 0,
      logFilesSkipped: 0,
      alertsDeleted: 0,
      silencesDeleted: 0,
      deliveriesDeleted: 0,
      archivesDeleted: 0,
    });
  });

  it('prunes resolved alerts with their refs, ended silences and deliveries of channels no longer configured', async () => {
    const store = new SqliteAlertStore(h.db);
    const alert = (id: string, resolvedAt: number | null): AlertRecord => ({
      id,
      kind: 'site',
      key: `site:local/${id}`,
      severity: 'critical',
      status: resolvedAt === null ? 'open' : 'resolved',
      host: 'local',
      site: id,
      title: `${id} is down`,
      lines: [],
      silenced: false,
      parentId: null,
      openedAt: NOW - 400 * DAY,
      updatedAt: NOW,
      resolvedAt,
      ackedBy: null,
      remindedAt: NOW - 400 * DAY,
      announced: true,
    });
    store.saveAlert(alert('al_old', NOW - 91 * DAY));
    store.saveAlert(alert('al_recent', NOW - 10 * DAY));
    store.saveAlert(alert('al_open', null));
    for (const id of ['al_old', 'al_recent', 'al_open']) store.setRef(id, 'discord', { messageId: id });
    store.addSilence({
      id: 'si_old',
      host: 'local',
      site: null,
      until: NOW - 100 * DAY,
      by: 'a',
      reason: null,
      createdAt: NOW - 101 * DAY,
    });
    store.addSilence({
      id: 'si_ended',
      host: 'local',
      site: 'x',
      until: NOW + DAY,
      by: 'a',
      reason: null,
      createdAt: NOW - 95 * DAY,
    });
    store.endSilences('local', 'x', NOW - 94 * DAY);
    store.addSilence({
      id: 'si_now',
      host: 'local',
      site: 'y',
      until: NOW + DAY,
      by: 'a',
      reason: null,
      createdAt: NOW - DAY,
    });
    store.enqueue({
      channel: 'discord',
      alertId: 'al_open',
      op: 'post',
      alert: alert('al_open', null),
      at: NOW,
    });
    store.enqueue({
      channel: 'slack',
      alertId: 'al_open',
      op: 'post',
      alert: alert('al_open', null),
      at: NOW,
    });

    job = makeJob({ alerts: { store, channels: ['console', 'discord'] } });
    const result = await job.runOnce(NOW);
    expect(result).toMatchObject({ alertsDeleted: 1, silencesDeleted: 2, deliveriesDeleted: 1 });
    expect(store.alert('al_old')).toBeNull();
    expect(store.ref('al_old', 'discord')).toBeNull();
    expect(store.alert('al_recent')?.status).toBe('resolved');
    expect(store.ref('al_recent', 'discord')).toEqual({ messageId: 'al_recent' });
    expect(store.alert('al_open')?.status).toBe('open');
    expect(store.activeSilences(NOW).map((s) => s.id)).toEqual(['si_now']);
    expect(h.sqlite.prepare('select count(*) as n from alert_silences').get()).toEqual({ n: 1 });
    expect(store.queueLength('discord')).toBe(1);
    expect(store.queueLength('slack')).toBe(0);
  });

  it('deletes site archives older than ARCHIVE_RETENTION_DAYS, only archive files, and none with 0', async () => {
    const archives = join(dir, 'sites', '.archive');
    mkdirSync(archives, { recursive: true });
    const make = (name: string, ageDays: number) => {
      const f = join(archives, name);
      writeFileSync(f, 'x');
      const t = (NOW - ageDays * 86_400_000) / 1000;
      utimesSync(f, t, t);
      return f;
    };
    const old = make('blog-20250101T000000Z.tar.gz', 200);
    const recent = make('shop-20260101T000000Z.tar.gz', 10);
    const notOurs = make('notes.txt', 400);
    job = makeJob({ archives: { dir: archives, days: 0 } });
    expect((await job.runOnce(NOW)).archivesDeleted).toBe(0);
    expect(existsSync(old)).toBe(true);
    job = makeJob({ archives: { dir: archives, days: 180 } });
    expect((await job.runOnce(NOW)).archivesDeleted).toBe(1);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    expect(existsSync(notOurs)).toBe(true);
  });

  it('rejects a bad cron expression and non-positive retention', () => {
    expect(() => makeJob({ cron: 'every day please' })).toThrowError(
      expect.objectContaining({ code: 'CONFIG_BAD_CRON' }),
    );
    expect(() => makeJob({ auditDays: 0 })).toThrowError(
      expect.objectContaining({ code: 'CONFIG_BAD_RETENTION' }),
    );
  });

  it('runs on its cron schedule and calls afterPrune', async () => {
    audit.record({ at: NOW - 100 * DAY, actor, action: 'status', outcome: 'ok' });
    let optimized = 0;
    job = makeJob({ cron: '* * * * * *', afterPrune: () => optimized++ });
    job.start();
    job.start(); // idempotent
    const deadline = Date.now() + 5_000;
    while (optimized === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await job.stop();
    expect(optimized).toBeGreaterThan(0);
    expect(audit.query({}).entries).toEqual([]);
  });
});
