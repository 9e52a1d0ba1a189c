/**
 * Drizzle schema of the SQLite store. Times are epoch milliseconds in INTEGER columns;
 * JSON values are TEXT. Migrations in /drizzle are generated from this file
 * (`npm run db:generate`); never edit an applied migration, add a new one.
 */
import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
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
