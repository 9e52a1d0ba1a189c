/**
 * NAS backup checks assembled from the configuration: the NAS_* settings (checked together),
 * the ssh2 probe, the checker with its SQLite store and the node-cron schedule. main.ts calls
 * `createBackupChecks` and `start()`/`stop()`; commands use `service`.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../config.js';
import type { BackupAlertSink } from '../core/alerts.js';
import {
  type BackupChange,
  type BackupReport,
  type BackupResult,
  type BackupService,
  isAbsoluteNasPath,
  parseBackupMap,
} from '../core/backup.js';
import type { HostRegistry } from '../core/engine.js';
import { describeError } from '../core/errors.js';
import type { Clock, Logger } from '../core/ports.js';
import type { Db } from '../db/database.js';
import { SqliteBackupStore } from '../db/sqlite-backup-store.js';
import { BackupChecker, type BackupSink } from './backup-checker.js';
import { Ssh2BackupProbe, type Ssh2BackupProbeOptions } from './ssh2-backup-probe.js';

/** The NAS settings, or why checks are off. */
export type NasSettings =
  | {
      enabled: true;
      probe: Ssh2BackupProbeOptions;
      root: string;
      map: Map<string, string>;
      staleAfterMs: number;
      cron: string;
    }
  | { enabled: false; reason: string; problems: string[] };

/** Reads and cross-checks the NAS_* keys (each key alone was validated by loadConfig). */
export function nasSettings(config: Config): NasSettings {
  if (!config.NAS_HOST)
    return { enabled: false, reason: 'NAS backup checks are off: NAS_HOST is not set.', problems: [] };
  const problems: string[] = [];
  if (!config.NAS_USER) problems.push('NAS_USER is not set');
  if (!config.NAS_PRIVATE_KEY_PATH && !config.NAS_PASSWORD)
    problems.push('set NAS_PRIVATE_KEY_PATH or NAS_PASSWORD');
  if (!config.NAS_HOST_KEY)
    problems.push(
      'NAS_HOST_KEY is not set (the SHA256 fingerprint from `ssh-keygen -lf` of the NAS host key)',
    );
  const map = parseBackupMap(config.NAS_BACKUP_MAP);
  if (!map.ok) problems.push(`NAS_BACKUP_MAP: ${map.error.join('; ')}`);
  if (config.NAS_BACKUP_ROOT && !isAbsoluteNasPath(config.NAS_BACKUP_ROOT))
    problems.push('NAS_BACKUP_ROOT must be an absolute path without . or ..');
  if (!config.NAS_BACKUP_ROOT && map.ok && map.value.size === 0)
    problems.push('set NAS_BACKUP_ROOT (or map sites in NAS_BACKUP_MAP)');
  if (problems.length || !map.ok)
    return {
      enabled: false,
      reason: `NAS backup checks are off: the NAS settings are incomplete (${problems.join('; ')}).`,
      problems,
    };
  return {
    enabled: true,
    probe: {
      host: config.NAS_HOST,
      port: config.NAS_PORT,
      username: config.NAS_USER,
      ...(config.NAS_PRIVATE_KEY_PATH ? { privateKeyPath: config.NAS_PRIVATE_KEY_PATH } : {}),
      ...(config.NAS_PASSWORD ? { password: config.NAS_PASSWORD } : {}),
      hostKeyFingerprint: config.NAS_HOST_KEY,
      connectTimeoutMs: config.NAS_CONNECT_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: Math.max(30, config.NAS_CONNECT_TIMEOUT_SECONDS * 2) * 1000,
    },
    root: config.NAS_BACKUP_ROOT,
    map: map.value,
    staleAfterMs: config.NAS_STALE_THRESHOLD_HOURS * 3_600_000,
    cron: config.NAS_CHECK_CRON,
  };
}

/** A BackupService that explains why checks are off. */
class DisabledBackupService implements BackupService {
  constructor(readonly disabled: string) {}
  async check(): Promise<BackupReport | null> {
    return { results: [], failure: null, unlistedHosts: [] };
  }
  last(): BackupResult[] {
    return [];
  }
}

/** What main.ts needs to run backup checks. */
export interface BackupChecks {
  service: BackupService;
  /** The checker when checks are on (to subscribe to changes). */
  checker: BackupChecker | null;
  /** Restores the last known results, schedules checks and runs a first one in the background. */
  start(): void;
  /** Stops the schedule and waits for a running check. */
  stop(): Promise<void>;
}

/** Dependencies of {@link createBackupChecks}. */
export interface BackupChecksDeps {
  config: Config;
  db: Db;
  hosts: HostRegistry;
  clock: Clock;
  logger: Logger;
  /** The live state (its backup slot); optional so the checker works without a status page. */
  state?: BackupSink;
  /** Called when a site's backup state changes. */
  onChange?: (change: BackupChange) => void;
  /** The monitor (AlertEngine): told every result; stale/missing/error open an alert, fresh resolves it. */
  alerts?: BackupAlertSink;
  /** Run a check right after start (default true). */
  checkOnStart?: boolean;
}

/** Builds the backup checks from the configuration (disabled, with the reason, when NAS_* is incomplete). */
export function createBackupChecks(deps: BackupChecksDeps): BackupChecks {
  const s = nasSettings(deps.config);
  const logger = deps.logger.child({ component: 'backup' });
  if (!s.enabled) {
    return {
      service: new DisabledBackupService(s.reason),
      checker: null,
      start() {
        if (s.problems.length) logger.error({ problems: s.problems }, s.reason);
      },
      async stop() {},
    };
  }
  const checker = new BackupChecker({
    probe: new Ssh2BackupProbe(s.probe),
    hosts: deps.hosts,
    root: s.root,
    map: s.map,
    staleAfterMs: s.staleAfterMs,
    store: new SqliteBackupStore(deps.db),
    ...(deps.state ? { state: deps.state } : {}),
    clock: deps.clock,
    logger,
    ...(deps.onChange ? { onChange: deps.onChange } : {}),
    ...(deps.alerts ? { alerts: deps.alerts } : {}),
  });
  let task: ScheduledTask | null = null;
  const runCheck = (why: string) =>
    checker.check().then(
      () => undefined,
      (e) => logger.error({ err: describeError(e), why }, 'backup check failed'),
    );
  return {
    service: checker,
    checker,
    start() {
      if (task) return;
      try {
        checker.restore();
      } catch (e) {
        logger.error({ err: describeError(e) }, 'cannot restore the last backup checks');
      }
      task = cron.createTask(s.cron, () => runCheck('schedule'), { name: 'backup-check', noOverlap: true });
      void task.start();
      logger.info(
        {
          nas: `${s.probe.host}:${s.probe.port}`,
          cron: s.cron,
          staleAfterHours: s.staleAfterMs / 3_600_000,
          mapped: [...s.map.keys()],
        },
        'backup checks scheduled',
      );
      if (deps.checkOnStart !== false) void runCheck('start');
    },
    async stop() {
      const t = task;
      task = null;
      if (t) await t.destroy();
      await checker.idle();
    },
  };
}
