import { and, desc, eq, inArray, isNotNull, lt, type SQL, sql } from 'drizzle-orm';
import {
  FINAL_STATUSES,
  type NewOperation,
  type Operation,
  type OperationPatch,
  type OperationStatus,
  type OperationStore,
} from '../core/ports.js';
import type { Db } from './database.js';
import { type OperationRow, operations } from './schema.js';

/** Page size of list() when none is given, and its upper bound. */
const DEFAULT_LIST_LIMIT = 20;
const MAX_LIST_LIMIT = 500;
const ACTIVE_STATUSES: OperationStatus[] = ['queued', 'running'];

const p = (name: string) => sql.placeholder(name);

/** OperationStore on SQLite: one row per run of an action. */
export class SqliteOperationStore implements OperationStore {
  private readonly getById;

  constructor(private readonly db: Db) {
    this.getById = db
      .select()
      .from(operations)
      .where(eq(operations.id, p('id')))
      .prepare();
  }

  create(op: NewOperation): Operation {
    const row = this.db
      .insert(operations)
      .values({
        id: op.id,
        kind: op.kind,
        host: op.host,
        site: op.site,
        args: op.args,
        requestedByPlatform: op.requestedBy.platform,
        requestedById: op.requestedBy.id,
        requestedByName: op.requestedBy.name,
        status: op.status,
        createdAt: op.createdAt,
        logPath: op.logPath,
      })
      .returning()
      .get();
    return toOperation(row);
  }

  update(id: string, patch: OperationPatch): Operation | null {
    const set: Partial<typeof operations.$inferInsert> = {};
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.startedAt !== undefined) set.startedAt = patch.startedAt;
    if (patch.finishedAt !== undefined) set.finishedAt = patch.finishedAt;
    if (patch.exitCode !== undefined) set.exitCode = patch.exitCode;
    if (patch.error !== undefined) set.error = patch.error;
    if (patch.outputTail !== undefined) set.outputTail = patch.outputTail;
    if (patch.output !== undefined) {
      set.outputPlatform = patch.output?.platform ?? null;
      set.outputChannelId = patch.output?.channelId ?? null;
      set.outputThreadId = patch.output?.threadId ?? null;
      set.outputMessageId = patch.output?.messageId ?? null;
    }
    if (Object.keys(set).length === 0) return this.get(id);
    const row = this.db.update(operations).set(set).where(eq(operations.id, id)).returning().get();
    return row ? toOperation(row) : null;
  }

  get(id: string): Operation | null {
    const row = this.getById.get({ id });
    return row ? toOperation(row) : null;
  }

  list(q: { site?: string; host?: string; status?: OperationStatus[]; limit?: number } = {}): Operation[] {
    const where: SQL[] = [];
    if (q.site !== undefined) where.push(eq(operations.site, q.site));
    if (q.host !== undefined) where.push(eq(operations.host, q.host));
    if (q.status !== undefined) {
      if (q.status.length === 0) return [];
      where.push(inArray(operations.status, q.status));
    }
    const limit =
      q.limit === undefined || !Number.isFinite(q.limit)
        ? DEFAULT_LIST_LIMIT
        : Math.min(MAX_LIST_LIMIT, Math.max(1, Math.trunc(q.limit)));
    return this.db
      .select()
      .from(operations)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(operations.createdAt), desc(operations.id))
      .limit(limit)
      .all()
      .map(toOperation);
  }

  markInterrupted(at: number, reason: string): Operation[] {
    return this.db
      .update(operations)
      .set({ status: 'interrupted', finishedAt: at, error: reason })
      .where(inArray(operations.status, ACTIVE_STATUSES))
      .returning()
      .all()
      .map(toOperation)
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  pruneBefore(before: number): string[] {
    return this.db
      .delete(operations)
      .where(
        and(
          isNotNull(operations.finishedAt),
          lt(operations.finishedAt, before),
          inArray(operations.status, [...FINAL_STATUSES]),
        ),
      )
      .returning({ logPath: operations.logPath })
      .all()
      .flatMap((r) => (r.logPath ? [r.logPath] : []));
  }
}

function toOperation(row: OperationRow): Operation {
  return {
    id: row.id,
    kind: row.kind,
    host: row.host,
    site: row.site,
    args: row.args,
    requestedBy: { platform: row.requestedByPlatform, id: row.requestedById, name: row.requestedByName },
    status: row.status,
    createdAt: row.createdAt,
    logPath: row.logPath,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    exitCode: row.exitCode,
    error: row.error,
    outputTail: row.outputTail,
    output:
      row.outputPlatform && row.outputChannelId
        ? {
            platform: row.outputPlatform,
            channelId: row.outputChannelId,
            threadId: row.outputThreadId,
            messageId: row.outputMessageId,
          }
        : null,
  };
}
