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
import type { HeldWrites } from './held-writes.js';
import { type OperationRow, operations } from './schema.js';

/** Page size of list() when none is given, and its upper bound. */
const DEFAULT_LIST_LIMIT = 20;
const MAX_LIST_LIMIT = 500;
const ACTIVE_STATUSES: OperationStatus[] = ['queued', 'running'];

const p = (name: string) => sql.placeholder(name);

/** OperationStore on SQLite: one row per run of an action. */
export class SqliteOperationStore implements OperationStore {
  private readonly getById;
  /** Operations whose latest writes are held (database locked or full): how they look meanwhile. */
  private readonly pending = new Map<string, { op: Operation; writes: number }>();

  /** With `writes`, rows the database cannot take now are held and written later (see HeldWrites). */
  constructor(
    private readonly db: Db,
    private readonly writes?: HeldWrites,
  ) {
    this.getById = db
      .select()
      .from(operations)
      .where(eq(operations.id, p('id')))
      .prepare();
  }

  create(op: NewOperation): Operation {
    const values = {
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
    };
    if (!this.writes) return toOperation(this.db.insert(operations).values(values).returning().get());
    const created: Operation = {
      ...op,
      startedAt: null,
      finishedAt: null,
      exitCode: null,
      error: null,
      outputTail: null,
      output: null,
    };
    this.write(op.id, created, () => this.db.insert(operations).values(values).run());
    return created;
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
    if (!this.writes) {
      const row = this.db.update(operations).set(set).where(eq(operations.id, id)).returning().get();
      return row ? toOperation(row) : null;
    }
    const before = this.get(id);
    if (!before) return null;
    const after: Operation = { ...before, ...patch } as Operation;
    this.write(id, after, () => this.db.update(operations).set(set).where(eq(operations.id, id)).run());
    return after;
  }

  get(id: string): Operation | null {
    const held = this.pending.get(id);
    if (held) return held.op;
    const row = this.getById.get({ id });
    return row ? toOperation(row) : null;
  }

  /** Runs (or holds) one write of operation `id`, which then looks like `op` until it is written. */
  private write(id: string, op: Operation, run: () => unknown): void {
    const entry = this.pending.get(id) ?? { op, writes: 0 };
    entry.op = op;
    entry.writes++;
    this.pending.set(id, entry);
    const done = () => {
      if (--entry.writes === 0 && this.pending.get(id) === entry) this.pending.delete(id);
    };
    if (this.writes!.run(`operation ${id}`, run, done)) done();
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
