/**
 * Drizzle schema of the SQLite store. Times are epoch milliseconds in INTEGER columns;
 * JSON values are TEXT. Migrations in /drizzle are generated from this file
 * (`npm run db:generate`); never edit an applied migration, add a new one.
 */
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { BackupCheckState } from '../core/backup.js';
import type { AuditOutcome, OperationStatus, Platform } from '../core/ports.js';

/** One run of an action (restart, pull, provision, ...). */
export const operations = sqliteTable(
  'operations',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    host: text('host'),
    site: text('site'),
    args: text('args', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    requestedByPlatform: text('requested_by_platform').$type<Platform>().notNull(),
    requestedById: text('requested_by_id').notNull(),
    requestedByName: text('requested_by_name').notNull(),
    status: text('status').$type<OperationStatus>().notNull(),
    createdAt: integer('created_at').notNull(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    exitCode: integer('exit_code'),
    error: text('error'),
    outputTail: text('output_tail'),
    outputPlatform: text('output_platform').$type<Platform>(),
    outputChannelId: text('output_channel_id'),
    outputThreadId: text('output_thread_id'),
    outputMessageId: text('output_message_id'),
    logPath: text('log_path'),
  },
  (t) => [
    // list(): newest first, overall or per site/host. The rowid-less text pk breaks ties.
    index('operations_created_idx').on(t.createdAt),
    index('operations_site_created_idx').on(t.site, t.createdAt),
    index('operations_host_created_idx').on(t.host, t.createdAt),
    // markInterrupted() and list({ status }).
    index('operations_status_idx').on(t.status),
    // Retention: finished operations older than a cut-off.
    index('operations_finished_idx').on(t.finishedAt).where(sql`${t.finishedAt} IS NOT NULL`),
  ],
);

/**
 * The append-only audit trail. Every filter index ends in `at` (and, implicitly, the
 * rowid `id`), so `WHERE <filter> = ? AND (at, id) < cursor ORDER BY at DESC, id DESC`
 * is an index range walk with no sort, however many rows there are.
 */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    actorPlatform: text('actor_platform').$type<Platform>().notNull(),
    actorId: text('actor_id').notNull(),
    actorName: text('actor_name').notNull(),
    action: text('action').notNull(),
    host: text('host'),
    site: text('site'),
    outcome: text('outcome').$type<AuditOutcome>().notNull(),
    durationMs: integer('duration_ms'),
    details: text('details', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    operationId: text('operation_id').references(() => operations.id, { onDelete: 'set null' }),
  },
  (t) => [
    index('audit_log_at_idx').on(t.at),
    // NOCASE so the `actor` filter (id or name, case-insensitive) can seek; the exact
    // `actorId` filter seeks the same index and re-checks with binary equality.
    index('audit_log_actor_id_idx').on(sql`${t.actorId} COLLATE NOCASE`, t.at),
    index('audit_log_actor_name_idx').on(sql`${t.actorName} COLLATE NOCASE`, t.at),
    index('audit_log_action_idx').on(t.action, t.at),
    index('audit_log_site_idx').on(t.site, t.at),
    index('audit_log_outcome_idx').on(t.outcome, t.at),
    // Deleting an operation sets its audit rows' operation_id to NULL: without this
    // index every such delete would scan the whole audit log.
    index('audit_log_operation_idx').on(t.operationId).where(sql`${t.operationId} IS NOT NULL`),
  ],
);

/** Row types as drizzle sees them. */
export type OperationRow = typeof operations.$inferSelect;
/** A stored audit row as drizzle sees it. */
export type AuditRow = typeof auditLog.$inferSelect;

/**
 * The last NAS backup check of each site (one row per site name, replaced on each check),
 * so the last known state survives a restart.
 */
export const backupChecks = sqliteTable('backup_checks', {
  site: text('site').primaryKey(),
  path: text('path').notNull(),
  /** Hosts where the site ran at the check (JSON array of names). */
  hosts: text('hosts', { mode: 'json' }).$type<string[]>().notNull(),
  state: text('state').$type<BackupCheckState>().notNull(),
  newestAt: integer('newest_at'),
  sizeBytes: integer('size_bytes'),
  newestName: text('newest_name'),
  checkedAt: integer('checked_at').notNull(),
  message: text('message'),
});

/** A stored backup check row as drizzle sees it. */
export type BackupCheckRow = typeof backupChecks.$inferSelect;

/** Every alert the monitor opened (open and resolved), silenced ones included: the alert history. */
export const alerts = sqliteTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    key: text('key').notNull(),
    severity: text('severity').notNull(),
    status: text('status').notNull(),
    host: text('host').notNull(),
    site: text('site'),
    title: text('title').notNull(),
    lines: text('lines', { mode: 'json' }).$type<string[]>().notNull(),
    silenced: integer('silenced', { mode: 'boolean' }).notNull(),
    announced: integer('announced', { mode: 'boolean' }).notNull(),
    parentId: text('parent_id'),
    openedAt: integer('opened_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    resolvedAt: integer('resolved_at'),
    ackedBy: text('acked_by'),
    remindedAt: integer('reminded_at').notNull(),
  },
  (t) => [index('alerts_status_idx').on(t.status), index('alerts_opened_idx').on(t.openedAt)],
);

/** Silences of alerts for a host or a site (`site` null: the whole host). */
export const alertSilences = sqliteTable(
  'alert_silences',
  {
    id: text('id').primaryKey(),
    host: text('host').notNull(),
    site: text('site'),
    until: integer('until').notNull(),
    byName: text('by_name').notNull(),
    reason: text('reason'),
    createdAt: integer('created_at').notNull(),
    endedAt: integer('ended_at'),
  },
  (t) => [index('alert_silences_until_idx').on(t.until)],
);

/** Alert deliveries waiting for (or retrying) a chat channel: never dropped, retried with backoff. */
export const alertDeliveries = sqliteTable(
  'alert_deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    channel: text('channel').notNull(),
    alertId: text('alert_id').notNull(),
    /** post | reply | update */
    op: text('op').notNull(),
    /** The alert record (post, update) or `{ text }` (reply), as JSON. */
    payload: text('payload').notNull(),
    attempts: integer('attempts').notNull(),
    nextAt: integer('next_at').notNull(),
    createdAt: integer('created_at').notNull(),
    lastError: text('last_error'),
  },
  (t) => [index('alert_deliveries_channel_idx').on(t.channel, t.id)],
);

/** Where each alert was posted on each channel (message ids), for replies and edits after a restart. */
export const alertRefs = sqliteTable(
  'alert_refs',
  {
    alertId: text('alert_id').notNull(),
    channel: text('channel').notNull(),
    ref: text('ref', { mode: 'json' }).$type<Record<string, string>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.alertId, t.channel] })],
);

/**
 * Maintenance windows (/maintenance): while one is open (from each cron firing for its
 * duration) its target's alerts are recorded, not posted. `site` null: the whole host.
 */
export const maintenanceWindows = sqliteTable('maintenance_windows', {
  id: text('id').primaryKey(),
  host: text('host').notNull(),
  site: text('site'),
  cron: text('cron').notNull(),
  durationMs: integer('duration_ms').notNull(),
  reason: text('reason'),
  byName: text('by_name').notNull(),
  createdAt: integer('created_at').notNull(),
  /** End of the window opened last (epoch ms); null before its first opening. */
  openUntil: integer('open_until'),
  removedAt: integer('removed_at'),
});

/** Scheduled commands (/schedule): a cron and an allowlisted command line, run as the schedule. */
export const schedules = sqliteTable('schedules', {
  id: text('id').primaryKey(),
  cron: text('cron').notNull(),
  commandLine: text('command_line').notNull(),
  byPlatform: text('by_platform').$type<Platform>().notNull(),
  byId: text('by_id').notNull(),
  byName: text('by_name').notNull(),
  createdAt: integer('created_at').notNull(),
  lastRunAt: integer('last_run_at'),
  removedAt: integer('removed_at'),
});

/**
 * The steps a provision (or deprovision) has done so far, one row per site while it runs: if
 * SiteFlow dies meanwhile, the next start undoes them in reverse (or finishes the deprovision).
 */
export const provisionJournal = sqliteTable(
  'provision_journal',
  {
    host: text('host').notNull(),
    site: text('site').notNull(),
    /** provision | deprovision */
    kind: text('kind').notNull(),
    /** The operation that wrote it. */
    operationId: text('operation_id'),
    siteDir: text('site_dir').notNull(),
    /** Steps done, in order (folder, snippet, caddy-reload, compose). */
    steps: text('steps', { mode: 'json' }).$type<string[]>().notNull(),
    /** The action's options (a deprovision's removeVolumes/deleteFiles), to finish it the same way. */
    args: text('args', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default({}),
    startedAt: integer('started_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.host, t.site] })],
);

/**
 * History, site states: one row per change of a site's health as visitors see it (`up`,
 * `degraded`, `down`, `stopped`, `empty`, `gone`). Uptime and incidents are computed from
 * these intervals; pruned after HISTORY_RETENTION_DAYS.
 */
export const historyStates = sqliteTable(
  'history_states',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    host: text('host').notNull(),
    site: text('site').notNull(),
    at: integer('at').notNull(),
    state: text('state').notNull(),
    /** Why (e.g. the failing URL), never a secret. */
    note: text('note'),
  },
  (t) => [
    // Covering (with the state) for uptime: a site's changes are read from the index alone.
    index('history_states_site_at_idx').on(t.host, t.site, t.at, t.state),
    index('history_states_at_idx').on(t.at),
  ],
);

/**
 * History, raw points (kept 48 h): `url:<URL>` checks (value = latency ms, ok, status, error),
 * `cpu` (percent of one core, summed over the site's containers), `mem` (bytes) and `die`
 * (a container of the site exited; value 1).
 */
export const historyPoints = sqliteTable(
  'history_points',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    host: text('host').notNull(),
    site: text('site').notNull(),
    series: text('series').notNull(),
    at: integer('at').notNull(),
    value: real('value'),
    ok: integer('ok', { mode: 'boolean' }),
    status: integer('status'),
    error: text('error'),
  },
  (t) => [
    index('history_points_series_at_idx').on(t.host, t.site, t.series, t.at),
    // Covering: the stats read the current window's URL points (and container exits) of every
    // site from the index alone, never a table row per point. Also serves prune (`at < ?`).
    index('history_points_window_idx').on(t.at, t.series, t.host, t.site, t.value, t.ok),
  ],
);

/**
 * History, downsampled: 5-minute buckets (`res` 300, kept 30 days) and hourly ones (`res`
 * 3600, kept HISTORY_RETENTION_DAYS) of each series: count, passing count, sum, max and the
 * bucket's own p50/p95 of the values.
 */
export const historyBuckets = sqliteTable(
  'history_buckets',
  {
    host: text('host').notNull(),
    site: text('site').notNull(),
    series: text('series').notNull(),
    res: integer('res').notNull(),
    start: integer('start').notNull(),
    n: integer('n').notNull(),
    okN: integer('ok_n').notNull(),
    sum: real('sum').notNull(),
    max: real('max'),
    p50: real('p50'),
    p95: real('p95'),
  },
  (t) => [
    primaryKey({ columns: [t.host, t.site, t.series, t.res, t.start] }),
    // The three below are covering indexes for /stats: a window's buckets are read from the
    // index alone (no table row per bucket). All sites' buckets of a window (also the newest
    // bucket and prune, by res and start):
    index('history_buckets_window_idx').on(
      t.res,
      t.start,
      t.series,
      t.host,
      t.site,
      t.n,
      t.okN,
      t.p50,
      t.p95,
    ),
    // One site's buckets of a window.
    index('history_buckets_site_idx').on(t.host, t.site, t.res, t.start, t.series, t.n, t.okN, t.p50, t.p95),
    // Counts of one series over all sites (container exits) without walking the URL buckets.
    index('history_buckets_series_idx').on(t.series, t.res, t.start, t.host, t.site, t.n),
  ],
);
