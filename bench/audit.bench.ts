/**
 * Audit store benchmark: a 1,000,000-row audit log in a temp file; insert rate and query
 * latency (p50/p99 of first and deep pages for each filter kind) through SqliteAuditStore
 * (drizzle) against the same SQL on plain better-sqlite3 in the same run.
 *
 *   npx tsx bench/audit.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type Database from 'better-sqlite3';
import type { AuditEntry, AuditOutcome, AuditQuery, NewAuditEntry, Platform } from '../src/core/ports.js';
import { openDatabase } from '../src/db/database.js';
import { encodeAuditCursor, SqliteAuditStore } from '../src/db/sqlite-audit-store.js';
import { percentile } from './stats.js';
import type { BenchResult } from './types.js';

const TOTAL = 1_000_000;
/** Rows inserted by each of record() and the plain insert, in alternating rounds, after the bulk build. */
const COMPARE_ROWS = 100_000;
const ROUNDS = 10;
const ITERATIONS = 200;
const LIMIT = 20;
const T0 = Date.UTC(2024, 0, 1);

/** mulberry32: deterministic data, so runs compare. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ACTIONS = [
  'restart',
  'pull',
  'provision',
  'deprovision',
  'status',
  'audit',
  'logs',
  'backup',
  'deploy',
];
const OUTCOMES: AuditOutcome[] = [
  ...Array<AuditOutcome>(14).fill('ok'),
  'failed',
  'failed',
  'denied',
  'rejected',
  'cancelled',
  'timed_out',
];
const PLATFORMS: Platform[] = ['discord', 'slack', 'console'];

/** Realistic-ish rows: time mostly increasing (a few late writes), a few heavy actors, 60 sites. */
function makeRows(seed: number, start: number, count: number): NewAuditEntry[] {
  const r = rng(seed);
  const rows: NewAuditEntry[] = [];
  for (let i = 0; i < count; i++) {
    const n = start + i;
    // Skewed actors: a quarter of rows come from 5 people, the rest from 195.
    const a = r() < 0.25 ? Math.floor(r() * 5) : 5 + Math.floor(r() * 195);
    const siteNo = Math.floor(r() * 61);
    const late = r() < 0.05 ? Math.floor(r() * 3_600_000) : 0;
    rows.push({
      at: T0 + Math.floor(n / 2) * 3_000 - late,
      actor: { platform: PLATFORMS[a % 3]!, id: `U${1000 + a}`, name: `User ${a}` },
      action: ACTIONS[Math.floor(r() * ACTIONS.length)]!,
      host: siteNo === 60 ? null : `host-${siteNo % 3}`,
      site: siteNo === 60 ? null : `site-${siteNo}`,
      outcome: OUTCOMES[Math.floor(r() * OUTCOMES.length)]!,
      durationMs: Math.floor(r() * 20_000),
      details: r() < 0.5 ? {} : { service: 'web', lines: Math.floor(r() * 500) },
      operationId: null,
    });
  }
  return rows;
}

const INSERT_SQL = `INSERT INTO audit_log (at, actor_platform, actor_id, actor_name, action, host, site, outcome, duration_ms, details, operation_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

function plainInsert(stmt: Database.Statement, e: NewAuditEntry): number {
  const res = stmt.run(
    e.at,
    e.actor.platform,
    e.actor.id,
    e.actor.name,
    e.action,
    e.host ?? null,
    e.site ?? null,
    e.outcome,
    e.durationMs ?? null,
    JSON.stringify(e.details ?? {}),
    e.operationId ?? null,
  );
  return Number(res.lastInsertRowid);
}

/**
 * The plain-SQLite twin of SqliteAuditStore.query: the same SQL shape (UNION for `actor`,
 * row-value keyset, limit + 1), prepared once per shape, rows mapped to the same AuditEntry.
 */
class PlainAuditQuery {
  private readonly cache = new Map<string, Database.Statement>();
  constructor(private readonly sqlite: Database.Database) {}

  query(
    q: AuditQuery,
    cursor?: { at: number; id: number },
  ): { entries: AuditEntry[]; nextCursor: string | null } {
    const where: string[] = [];
    const params: unknown[] = [];
    let key = '';
    const cond = (k: string, text: string, ...values: unknown[]) => {
      key += k;
      where.push(text);
      params.push(...values);
    };
    if (q.actorId !== undefined)
      cond('i', 'actor_id = ? COLLATE NOCASE AND actor_id = ?', q.actorId, q.actorId);
    if (q.action !== undefined) cond('c', 'action = ?', q.action);
    if (q.site !== undefined) cond('s', 'site = ?', q.site);
    if (q.outcome !== undefined) cond('o', 'outcome = ?', q.outcome);
    if (q.since !== undefined) cond('f', 'at >= ?', q.since);
    // The store keeps only the tighter of `until` and the cursor; so does this twin.
    let keyset = cursor;
    let until = q.until;
    if (keyset && until !== undefined) {
      if (keyset.at < until) until = undefined;
      else keyset = undefined;
    }
    if (until !== undefined) cond('u', 'at < ?', until);
    if (keyset) cond('k', '(at, id) < (?, ?)', keyset.at, keyset.id);
    const cols =
      'id, at, actor_platform, actor_id, actor_name, action, host, site, outcome, duration_ms, details, operation_id';
    const limit = LIMIT + 1;
    let all: unknown[];
    if (q.actor !== undefined) {
      key += 'a';
      const w = where.length ? ` AND ${where.join(' AND ')}` : '';
      const text = `SELECT ${cols} FROM audit_log WHERE actor_id = ? COLLATE NOCASE${w} UNION SELECT ${cols} FROM audit_log WHERE actor_name = ? COLLATE NOCASE${w} ORDER BY at DESC, id DESC LIMIT ?`;
      all = [q.actor, ...params, q.actor, ...params, limit];
      let stmt = this.cache.get(key);
      if (!stmt) {
        stmt = this.sqlite.prepare(text);
        this.cache.set(key, stmt);
      }
      return this.page(stmt.all(...all) as Row[]);
    }
    const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    const text = `SELECT ${cols} FROM audit_log${w} ORDER BY at DESC, id DESC LIMIT ?`;
    let stmt = this.cache.get(key);
    if (!stmt) {
      stmt = this.sqlite.prepare(text);
      this.cache.set(key, stmt);
    }
    return this.page(stmt.all(...params, limit) as Row[]);
  }

  private page(rows: Row[]) {
    const more = rows.length > LIMIT;
    const entries = (more ? rows.slice(0, LIMIT) : rows).map(
      (r): AuditEntry => ({
        id: r.id,
        at: r.at,
        actor: { platform: r.actor_platform as Platform, id: r.actor_id, name: r.actor_name },
        action: r.action,
        host: r.host,
        site: r.site,
        outcome: r.outcome as AuditOutcome,
        durationMs: r.duration_ms,
        details: JSON.parse(r.details) as Record<string, unknown>,
        operationId: r.operation_id,
      }),
    );
    const last = entries.at(-1);
    return { entries, nextCursor: more && last ? encodeAuditCursor(last.at, last.id) : null };
  }
}

interface Row {
  id: number;
  at: number;
  actor_platform: string;
  actor_id: string;
  actor_name: string;
  action: string;
  host: string | null;
  site: string | null;
  outcome: string;
  duration_ms: number | null;
  details: string;
  operation_id: string | null;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Runs the benchmark and returns its numbers; prints progress to stderr when `log` is set. */
export async function run(log: (line: string) => void = () => {}): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'siteflow-bench-'));
  const file = join(dir, 'audit.db');
  const results: BenchResult[] = [];
  let h = openDatabase(file);
  try {
    // 1. Bulk build with a plain prepared insert in one transaction.
    const buildRows = TOTAL - 2 * COMPARE_ROWS;
    let t = performance.now();
    {
      const stmt = h.sqlite.prepare(INSERT_SQL);
      const chunk = 100_000;
      for (let start = 0; start < buildRows; start += chunk) {
        const rows = makeRows(start + 1, start, Math.min(chunk, buildRows - start));
        h.sqlite.transaction(() => {
          for (const e of rows) plainInsert(stmt, e);
        })();
      }
    }
    const buildMs = performance.now() - t;
    log(`built ${buildRows} rows in ${round(buildMs / 1000, 1)} s`);
    results.push({
      name: 'audit.build.rows_per_s (plain, 100k per transaction)',
      value: Math.round(buildRows / (buildMs / 1000)),
      unit: 'rows/s',
    });

    // 2. Insert rate: record() vs plain prepared insert, alternating rounds of one transaction each.
    const store = new SqliteAuditStore(h.db);
    const plainStmt = h.sqlite.prepare(INSERT_SQL);
    const per = COMPARE_ROWS / ROUNDS;
    let storeMs = 0;
    let plainMs = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const base = buildRows + i * 2 * per;
      const a = makeRows(7_000 + i, base, per);
      const b = makeRows(9_000 + i, base + per, per);
      const first = i % 2 === 0;
      const doStore = () => {
        const s = performance.now();
        h.sqlite.transaction(() => {
          for (const e of a) store.record(e);
        })();
        storeMs += performance.now() - s;
      };
      const doPlain = () => {
        const s = performance.now();
        h.sqlite.transaction(() => {
          for (const e of b) plainInsert(plainStmt, e);
        })();
        plainMs += performance.now() - s;
      };
      if (first) {
        doStore();
        doPlain();
      } else {
        doPlain();
        doStore();
      }
    }
    const storeRate = COMPARE_ROWS / (storeMs / 1000);
    const plainRate = COMPARE_ROWS / (plainMs / 1000);
    results.push({
      name: 'audit.insert.rows_per_s (SqliteAuditStore.record)',
      value: Math.round(storeRate),
      unit: 'rows/s',
      baseline: { name: 'better-sqlite3 prepared insert', value: Math.round(plainRate) },
      target: 'overhead < 1.5x',
    });
    log(
      `insert: record() ${Math.round(storeRate)} rows/s, plain ${Math.round(plainRate)} rows/s, overhead ${(plainRate / storeRate).toFixed(2)}x`,
    );

    // 3. Re-open as production does: migrations (no-op) and planner statistics.
    h.close();
    t = performance.now();
    h = openDatabase(file);
    const openMs = performance.now() - t;
    results.push({
      name: 'audit.open.ms (1M rows, migrations + first full ANALYZE)',
      value: round(openMs, 1),
      unit: 'ms',
    });
    const count = h.sqlite.prepare('SELECT count(*) FROM audit_log').pluck().get() as number;
    if (count !== TOTAL) throw new Error(`expected ${TOTAL} rows, found ${count}`);

    // 4. Query latency.
    const q = new SqliteAuditStore(h.db);
    const plain = new PlainAuditQuery(h.sqlite);
    const day = 86_400_000;
    const lastAt = T0 + (TOTAL / 2) * 3_000;
    const cases: [string, AuditQuery][] = [
      ['none', {}],
      ['actorId (heavy)', { actorId: 'U1001' }],
      ['actorId (light)', { actorId: 'U1150' }],
      ['actor name, any case', { actor: 'user 77' }],
      ['actor id, any case', { actor: 'u1003' }],
      ['action', { action: 'deprovision' }],
      ['site', { site: 'site-17' }],
      ['outcome (rare)', { outcome: 'timed_out' }],
      ['outcome (common)', { outcome: 'ok' }],
      ['since+until (1 day)', { since: lastAt - 10 * day, until: lastAt - 9 * day }],
      ['actor+outcome', { actor: 'User 3', outcome: 'failed' }],
      ['site+action+since', { site: 'site-5', action: 'restart', since: lastAt - 7 * day }],
      ['actorId+site', { actorId: 'U1120', site: 'site-40' }],
    ];
    const header = [
      'query',
      'page',
      'store p50',
      'store p99',
      'plain p50',
      'plain p99',
      'ratio p50',
      'ratio p99',
    ];
    const table: string[][] = [];
    for (const [label, filter] of cases) {
      // Deep cursors: 20 positions spread over the second half of the matching rows.
      const deep = deepCursors(h.sqlite, filter, 20);
      for (const page of ['first', 'deep'] as const) {
        if (page === 'deep' && deep.length === 0) continue;
        const sTimes: number[] = [];
        const pTimes: number[] = [];
        for (let i = -10; i < ITERATIONS; i++) {
          const c = page === 'deep' ? deep[(i + 10) % deep.length] : undefined;
          const sq: AuditQuery = {
            ...filter,
            limit: LIMIT,
            cursor: c ? encodeAuditCursor(c.at, c.id) : undefined,
          };
          const order = i % 2 === 0;
          let s0 = 0;
          let s1 = 0;
          let p0 = 0;
          let p1 = 0;
          let sRes: AuditEntry[] = [];
          let pRes: AuditEntry[] = [];
          const doS = () => {
            s0 = performance.now();
            sRes = q.query(sq).entries;
            s1 = performance.now();
          };
          const doP = () => {
            p0 = performance.now();
            pRes = plain.query(filter, c).entries;
            p1 = performance.now();
          };
          if (order) {
            doS();
            doP();
          } else {
            doP();
            doS();
          }
          if (i < 0) {
            // Warm-up; also checks both paths return the same page.
            if (JSON.stringify(sRes.map((e) => e.id)) !== JSON.stringify(pRes.map((e) => e.id))) {
              throw new Error(`store and plain disagree on ${label}/${page}`);
            }
            continue;
          }
          sTimes.push(s1 - s0);
          pTimes.push(p1 - p0);
        }
        sTimes.sort((a, b) => a - b);
        pTimes.sort((a, b) => a - b);
        const s50 = percentile(sTimes, 50);
        const s99 = percentile(sTimes, 99);
        const p50 = percentile(pTimes, 50);
        const p99 = percentile(pTimes, 99);
        results.push(
          {
            name: `audit.query.${label}.${page}.p50`,
            value: round(s50),
            unit: 'ms',
            baseline: { name: 'better-sqlite3', value: round(p50) },
            target: 'overhead < 1.5x',
          },
          {
            name: `audit.query.${label}.${page}.p99`,
            value: round(s99),
            unit: 'ms',
            baseline: { name: 'better-sqlite3', value: round(p99) },
            target: '< 10 ms',
          },
        );
        table.push([
          label,
          page,
          s50.toFixed(3),
          s99.toFixed(3),
          p50.toFixed(3),
          p99.toFixed(3),
          `${(s50 / p50).toFixed(2)}x`,
          `${(s99 / p99).toFixed(2)}x`,
        ]);
      }
    }
    log(formatTable(header, table));
    return results;
  } finally {
    h.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `n` keyset positions spread over the second half of the rows matching `filter`. */
function deepCursors(sqlite: Database.Database, filter: AuditQuery, n: number): { at: number; id: number }[] {
  const where: string[] = [];
  const params: unknown[] = [];
  const cond = (text: string, ...values: unknown[]) => {
    where.push(text);
    params.push(...values);
  };
  if (filter.actorId !== undefined) cond('actor_id = ?', filter.actorId);
  if (filter.actor !== undefined) {
    cond('(actor_id = ? COLLATE NOCASE OR actor_name = ? COLLATE NOCASE)', filter.actor, filter.actor);
  }
  if (filter.action !== undefined) cond('action = ?', filter.action);
  if (filter.site !== undefined) cond('site = ?', filter.site);
  if (filter.outcome !== undefined) cond('outcome = ?', filter.outcome);
  if (filter.since !== undefined) cond('at >= ?', filter.since);
  if (filter.until !== undefined) cond('at < ?', filter.until);
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = sqlite
    .prepare(`SELECT count(*) FROM audit_log ${w}`)
    .pluck()
    .get(...params) as number;
  if (total < 4 * LIMIT) return [];
  const stmt = sqlite.prepare(`SELECT at, id FROM audit_log ${w} ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?`);
  const out: { at: number; id: number }[] = [];
  for (let i = 0; i < n; i++) {
    const offset = Math.floor(total / 2 + ((total / 2 - 2 * LIMIT) * i) / n);
    out.push(stmt.get(...params, offset) as { at: number; id: number });
  }
  return out;
}

function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  const results = await run((line) => console.log(line));
  console.log('');
  for (const r of results) {
    // Overhead: how many times slower than the baseline (rates are inverted).
    const overhead = r.baseline
      ? r.unit.endsWith('/s')
        ? r.baseline.value / r.value
        : r.value / r.baseline.value
      : 0;
    const base = r.baseline
      ? `  (${r.baseline.name}: ${r.baseline.value} ${r.unit}, overhead ${overhead.toFixed(2)}x)`
      : '';
    console.log(`${r.name}: ${r.value} ${r.unit}${base}${r.target ? `  target ${r.target}` : ''}`);
  }
  console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
