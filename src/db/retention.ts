import { lstat, readdir, realpath, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import cron, { type ScheduledTask } from 'node-cron';
import { describeError, SiteFlowError } from '../core/errors.js';
import type { AuditStore, Clock, Logger, OperationStore } from '../core/ports.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Options of {@link RetentionJob}. */
export interface RetentionOptions {
  audit: AuditStore;
  operations: OperationStore;
  /** Operation log files are deleted only when they resolve inside this folder. */
  logsDir: string;
  /** Audit entries older than this many days are deleted. */
  auditDays: number;
  /** Finished operations (and their log files) older than this many days are deleted. */
  operationDays: number;
  clock: Clock;
  logger: Logger;
  /** node-cron expression; daily at 03:17 by default. */
  cron?: string;
  timezone?: string;
  /** Called after a prune, e.g. to refresh planner statistics (`OpenDatabase.optimize`). */
  afterPrune?: () => void;
  /**
   * SITES_ROOT/.archive: deprovisioned sites' archives (`<site>-<stamp>.tar.gz`, regular files)
   * older than `days` are deleted (ARCHIVE_RETENTION_DAYS; 0 keeps them).
   */
  archives?: { dir: string; days: number };
  /**
   * The monitor's tables: alerts resolved and silences ended more than `auditDays` ago are
   * deleted (with the alerts' refs and deliveries), and queued deliveries of channels not in
   * `channels` (no longer configured).
   */
  alerts?: {
    store: {
      prune(
        before: number,
        channels: readonly string[],
      ): { alerts: number; silences: number; deliveries: number };
    };
    channels: readonly string[];
  };
}

/** What one retention pass removed. */
export interface RetentionResult {
  auditDeleted: number;
  /**
   * Log paths of the finished operations deleted (the OperationStore port reports paths, not a
   * count, so operations without a log file are not counted here).
   */
  operationLogs: number;
  logFilesDeleted: number;
  /** Log paths that were left alone: outside logsDir, not a regular file, or already gone. */
  logFilesSkipped: number;
  /** Resolved alerts, ended silences and stale deliveries deleted (0 without `alerts`). */
  alertsDeleted: number;
  silencesDeleted: number;
  deliveriesDeleted: number;
  /** Site archives older than ARCHIVE_RETENTION_DAYS deleted. */
  archivesDeleted: number;
}

/**
 * Daily pruning of the audit log, of finished operations with their log files, and of the
 * monitor's resolved alerts, ended silences and deliveries for channels no longer configured.
 * `runOnce(now)` does one pass and is what the schedule calls.
 */
export class RetentionJob {
  private task: ScheduledTask | null = null;
  private readonly expression: string;

  constructor(private readonly opts: RetentionOptions) {
    this.expression = opts.cron ?? '17 3 * * *';
    if (!cron.validate(this.expression)) {
      throw new SiteFlowError('CONFIG_BAD_CRON', `invalid retention schedule "${this.expression}"`);
    }
    for (const key of ['auditDays', 'operationDays'] as const) {
      if (!(opts[key] > 0))
        throw new SiteFlowError('CONFIG_BAD_RETENTION', `${key} must be a positive number`);
    }
  }

  /** Starts the cron schedule (idempotent). */
  start(): void {
    if (this.task) return;
    this.task = cron.createTask(
      this.expression,
      async () => {
        try {
          await this.runOnce(this.opts.clock.now());
        } catch (e) {
          this.opts.logger.error({ err: describeError(e) }, 'retention pass failed');
        }
      },
      { name: 'retention', noOverlap: true, ...(this.opts.timezone ? { timezone: this.opts.timezone } : {}) },
    );
    void this.task.start();
    this.opts.logger.info({ cron: this.expression }, 'retention scheduled');
  }

  /** Stops the schedule; a pass already running finishes. */
  async stop(): Promise<void> {
    const task = this.task;
    this.task = null;
    if (task) await task.destroy();
  }

  /**
   * One pass: deletes audit rows and finished operations older than their cut-offs, then their
   * log files, and the monitor's old alerts, silences and orphaned deliveries.
   */
  async runOnce(now: number): Promise<RetentionResult> {
    const { audit, operations, logger } = this.opts;
    const auditDeleted = audit.pruneBefore(now - this.opts.auditDays * DAY_MS);
    const logPaths = operations.pruneBefore(now - this.opts.operationDays * DAY_MS);
    let logFilesDeleted = 0;
    let logFilesSkipped = 0;
    for (const path of logPaths) {
      if (await this.deleteLogFile(path)) logFilesDeleted++;
      else logFilesSkipped++;
    }
    const pruned = this.opts.alerts?.store.prune(
      now - this.opts.auditDays * DAY_MS,
      this.opts.alerts.channels,
    ) ?? { alerts: 0, silences: 0, deliveries: 0 };
    const archivesDeleted = await this.pruneArchives(now);
    this.opts.afterPrune?.();
    const result = {
      archivesDeleted,
      auditDeleted,
      operationLogs: logPaths.length,
      logFilesDeleted,
      logFilesSkipped,
      alertsDeleted: pruned.alerts,
      silencesDeleted: pruned.silences,
      deliveriesDeleted: pruned.deliveries,
    };
    logger.info(result, 'retention pass done');
    return result;
  }

  /** Deletes archives older than their cut-off: only `*.tar.gz` regular files directly in the folder. */
  private async pruneArchives(now: number): Promise<number> {
    const a = this.opts.archives;
    if (!a || !(a.days > 0)) return 0;
    let names: string[];
    try {
      names = await readdir(a.dir);
    } catch {
      return 0; // no archive folder yet
    }
    let deleted = 0;
    for (const name of names) {
      if (!/^[a-z0-9][a-z0-9_-]*-\d{8}T\d{6}Z\.tar\.gz$/.test(name)) continue;
      const file = join(a.dir, name);
      try {
        const st = await lstat(file);
        if (!st.isFile() || st.mtimeMs >= now - a.days * DAY_MS) continue;
        await unlink(file);
        deleted++;
        this.opts.logger.info({ archive: file }, 'retention: old site archive deleted');
      } catch (e) {
        this.opts.logger.warn(
          { archive: file, err: describeError(e) },
          'retention: could not delete archive',
        );
      }
    }
    return deleted;
  }

  /**
   * Deletes one log file if, with every symlink in its folder path resolved, it lies inside
   * logsDir and is a regular file. A symlink as the file itself is never followed (we would
   * only unlink the link, but it is not ours: skip it).
   */
  private async deleteLogFile(path: string): Promise<boolean> {
    const { logger } = this.opts;
    try {
      const root = await realpath(this.opts.logsDir);
      const candidate = resolve(this.opts.logsDir, path);
      const real = join(await realpath(dirname(candidate)), basename(candidate));
      const rel = relative(root, real);
      if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
        logger.warn({ path }, 'retention: log path outside the logs folder, left alone');
        return false;
      }
      const st = await lstat(real);
      if (!st.isFile()) {
        logger.warn({ path }, 'retention: log path is not a regular file, left alone');
        return false;
      }
      await unlink(real);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      logger.warn({ path, err: describeError(e) }, 'retention: could not delete log file');
      return false;
    }
  }
}
