import { and, desc, eq, gte, is, lt, Placeholder, type SQL, sql } from 'drizzle-orm';
import { SiteFlowError } from '../core/errors.js';
import type { AuditEntry, AuditPage, AuditQuery, AuditStore, NewAuditEntry } from '../core/ports.js';
import type { Db } from './database.js';
import type { HeldWrites } from './held-writes.js';
import { type AuditRow, auditLog } from './schema.js';

/** Page size when a query names none. */
export const DEFAULT_AUDIT_LIMIT = 20;
/** Largest page a query may ask for. */
export const MAX_AUDIT_LIMIT = 500;
/** Rows deleted per statement while pruning, so other writers get the lock in between. */
const PRUNE_BATCH = 5000;

const CURSOR_TEXT = /^(-?\d{1,16})\.(\d{1,16})$/;

/** Encodes the keyset position (at, id) of an entry as an opaque base64url cursor. */
export function encodeAuditCursor(at: number, id: number): string {
  return Buffer.from(`${at}.${id}`, 'utf8').toString('base64url');
}

/** Decodes a cursor made by {@link encodeAuditCursor}; throws INPUT_BAD_CURSOR on anything else. */
export function decodeAuditCursor(cursor: string): { at: number; id: number } {
  const bad = () =>
    new SiteFlowError('INPUT_BAD_CURSOR', 'That page cursor is not valid; start from the first page.');
  if (cursor.length > 64 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = CURSOR_TEXT.exec(text);
  if (!m) throw bad();
  const at = Number(m[1]);
  const id = Number(m[2]);
  // Only the canonical encoding is accepted, so a cursor has exactly one spelling.
  if (!Number.isSafeInteger(at) || !Number.isSafeInteger(id) || encodeAuditCursor(at, id) !== cursor)
    throw bad();
  return { at, id };
}

/** Clamps a requested page size to 1..500 (default 20). */
export function clampAuditLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_AUDIT_LIMIT;
  return Math.min(MAX_AUDIT_LIMIT, Math.max(1, Math.trunc(limit)));
}

type Prepared = { all(values: Record<string, unknown>): AuditRow[] };
type Compiled = { prepared: Prepared; text: string; params: unknown[] };

const p = (name: string) => sql.placeholder(name);

/**
 * AuditStore on SQLite. Reads are keyset-paginated newest first (`at DESC, id DESC`);
 * each filter combination compiles once to a prepared statement whose plan walks one
 * `(filter, at)` index. The `actor` filter (id OR name, case-insensitive) becomes a
 * UNION of two index walks that SQLite merges in order, so it never sorts.
 */
export class SqliteAuditStore implements AuditStore {
  private readonly insert;
  private readonly queries = new Map<string, Compiled>();

  /** With `writes`, rows the database cannot take now are held and written later (see HeldWrites). */
  constructor(
    private readonly db: Db,
    private readonly writes?: HeldWrites,
  ) {
    this.insert = db
      .insert(auditLog)
      .values({
        at: p('at'),
        actorPlatform: p('actorPlatform'),
        actorId: p('actorId'),
        actorName: p('actorName'),
        action: p('action'),
        host: p('host'),
        site: p('site'),
        outcome: p('outcome'),
        durationMs: p('durationMs'),
        details: p('details'),
        operationId: p('operationId'),
      })
      .prepare();
  }

  record(entry: NewAuditEntry): AuditEntry {
    const stored: Omit<AuditEntry, 'id'> = {
      at: entry.at,
      actor: { platform: entry.actor.platform, id: entry.actor.id, name: entry.actor.name },
      action: entry.action,
      host: entry.host ?? null,
      site: entry.site ?? null,
      outcome: entry.outcome,
      durationMs: entry.durationMs ?? null,
      details: entry.details ?? {},
      operationId: entry.operationId ?? null,
    };
    let result: { lastInsertRowid: number | bigint } = { lastInsertRowid: 0 };
    const insert = () => {
      result = this.insert.run({
        at: stored.at,
        actorPlatform: stored.actor.platform,
        actorId: stored.actor.id,
        actorName: stored.actor.name,
        action: stored.action,
        host: stored.host,
        site: stored.site,
        outcome: stored.outcome,
        durationMs: stored.durationMs,
        details: stored.details,
        operationId: stored.operationId,
      });
    };
    try {
      // Held (database locked or full): written later, in order; the entry's id is then 0.
      if (this.writes) this.writes.run(`audit ${stored.action}`, insert);
      else insert();
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        throw new SiteFlowError(
          'DB_UNKNOWN_OPERATION',
          `no operation ${stored.operationId}`,
          {},
          { cause: e },
        );
      }
      throw e;
    }
    return { id: Number(result.lastInsertRowid), ...stored };
  }

  query(q: AuditQuery): AuditPage {
    const limit = clampAuditLimit(q.limit);
    const cursor = q.cursor ? decodeAuditCursor(q.cursor) : undefined;
    for (const key of ['since', 'until'] as const) {
      const v = q[key];
      if (v !== undefined && !Number.isSafeInteger(v)) {
        throw new SiteFlowError('INPUT_BAD_QUERY', `${key} must be a time in epoch milliseconds`);
      }
    }
    const { shape, values } = this.bind(q, limit + 1, cursor);
    const rows = this.statement(shape).prepared.all(values);
    const more = rows.length > limit;
    const entries = (more ? rows.slice(0, limit) : rows).map(toEntry);
    const last = entries[entries.length - 1];
    return { entries, nextCursor: more && last ? encodeAuditCursor(last.at, last.id) : null };
  }

  /**
   * SQLite's query plan (EXPLAIN QUERY PLAN detail lines) for the statement `query(q)` runs:
   * for checking that every filter walks an index without sorting.
   */
  explain(q: AuditQuery): string[] {
    const limit = clampAuditLimit(q.limit);
    const { shape, values } = this.bind(q, limit + 1, q.cursor ? decodeAuditCursor(q.cursor) : undefined);
    const { text, params } = this.statement(shape);
    const bound = params.map((x) => (is(x, Placeholder) ? values[x.name] : x));
    const plan = this.db.$client.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...bound) as { detail: string }[];
    return plan.map((r) => r.detail);
  }

  /** The statement shape (which filters are present) and the placeholder values of a query. */
  private bind(q: AuditQuery, limit: number, cursor: { at: number; id: number } | undefined) {
    const values: Record<string, unknown> = { limit };
    let shape = '';
    const add = (flag: string, name: string, value: unknown) => {
      if (value === undefined) return;
      shape += flag;
      values[name] = value;
    };
    add('i', 'actorId', q.actorId);
    add('a', 'actor', q.actor);
    add('c', 'action', q.action);
    add('s', 'site', q.site);
    add('o', 'outcome', q.outcome);
    add('f', 'since', q.since);
    // With a cursor, keep only the tighter of the two upper bounds: SQLite seeks the index
    // from one of them, and seeking from `until` would re-walk every earlier page.
    // (at, id) < (cAt, cId) implies at < until when cAt < until; else at < until implies it.
    let keyset = cursor;
    let until = q.until;
    if (keyset && until !== undefined) {
      if (keyset.at < until) until = undefined;
      else keyset = undefined;
    }
    add('u', 'until', until);
    if (keyset) {
      shape += 'k';
      values.cursorAt = keyset.at;
      values.cursorId = keyset.id;
    }
    return { shape, values };
  }

  private statement(shape: string): Compiled {
    let stmt = this.queries.get(shape);
    if (!stmt) {
      stmt = this.compile(shape);
      this.queries.set(shape, stmt);
    }
    return stmt;
  }

  pruneBefore(before: number): number {
    const stmt = this.db
      .delete(auditLog)
      .where(
        sql`${auditLog.id} IN (SELECT ${auditLog.id} FROM ${auditLog} WHERE ${auditLog.at} < ${p('before')} LIMIT ${PRUNE_BATCH})`,
      )
      .prepare();
    let total = 0;
    for (;;) {
      const changes = stmt.run({ before }).changes;
      total += changes;
      if (changes < PRUNE_BATCH) return total;
    }
  }

  /** Builds the prepared statement for one combination of filters (see `shape` in query()). */
  private compile(shape: string): Compiled {
    const t = auditLog;
    const has = (flag: string) => shape.includes(flag);
    const common: SQL[] = [];
    if (has('i')) {
      // Seeks the NOCASE index, then keeps only the exact (binary) match.
      common.push(sql`${t.actorId} = ${p('actorId')} COLLATE NOCASE`, eq(t.actorId, p('actorId')));
    }
    if (has('c')) common.push(eq(t.action, p('action')));
    if (has('s')) common.push(eq(t.site, p('site')));
    if (has('o')) common.push(eq(t.outcome, p('outcome')));
    if (has('f')) common.push(gte(t.at, p('since')));
    if (has('u')) common.push(lt(t.at, p('until')));
    if (has('k')) common.push(sql`(${t.at}, ${t.id}) < (${p('cursorAt')}, ${p('cursorId')})`);

    const select = (extra?: SQL) => {
      const where = [...(extra ? [extra] : []), ...common];
      return this.db
        .select()
        .from(t)
        .where(where.length ? and(...where) : undefined);
    };
    const query = has('a')
      ? select(sql`${t.actorId} = ${p('actor')} COLLATE NOCASE`)
          .union(select(sql`${t.actorName} = ${p('actor')} COLLATE NOCASE`))
          .orderBy(desc(t.at), desc(t.id))
          .limit(p('limit'))
      : select().orderBy(desc(t.at), desc(t.id)).limit(p('limit'));
    const { sql: text, params } = query.toSQL();
    return { prepared: query.prepare() as unknown as Prepared, text, params };
  }
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: { platform: row.actorPlatform, id: row.actorId, name: row.actorName },
    action: row.action,
    host: row.host,
    site: row.site,
    outcome: row.outcome,
    durationMs: row.durationMs,
    details: row.details,
    operationId: row.operationId,
  };
}
