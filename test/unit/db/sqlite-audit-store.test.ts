import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, AuditOutcome, AuditQuery, Platform } from '../../../src/core/ports.js';
import { type OpenDatabase, openDatabase } from '../../../src/db/database.js';
import {
  decodeAuditCursor,
  encodeAuditCursor,
  SqliteAuditStore,
} from '../../../src/db/sqlite-audit-store.js';
import { SqliteOperationStore } from '../../../src/db/sqlite-operation-store.js';

const ROWS = 100_000;
const T0 = Date.UTC(2025, 0, 1);
const MIN = 60_000;
/** 20,000 distinct minutes for 100,000 rows: about five rows share each `at`. */
const MINUTES = 20_000;

/** A small deterministic PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ACTORS: { platform: Platform; id: string; name: string }[] = [
  ...Array.from({ length: 40 }, (_, i) => ({
    platform: (i % 2 ? 'slack' : 'discord') as Platform,
    id: i % 2 ? `U0${i}ABC` : `${100000 + i}`,
    name: `User ${i}`,
  })),
  // Id of one equals the name of another, case aside: the `actor` filter must return both.
  { platform: 'discord', id: 'ops-bot', name: 'Deploy Bot' },
  { platform: 'slack', id: 'U9DEPLOY', name: 'OPS-BOT' },
  // Id and name equal: each row matches both halves of the OR and must appear once.
  { platform: 'console', id: 'root', name: 'root' },
  { platform: 'system', id: 'system', name: 'SiteFlow' },
  // Same display name on two platforms.
  { platform: 'discord', id: '555', name: 'Grace' },
  { platform: 'slack', id: 'U555', name: 'grace' },
];
const ACTIONS = ['restart', 'pull', 'provision', 'deprovision', 'audit', 'status', 'backup'];
const SITES = [...Array.from({ length: 30 }, (_, i) => `site-${i}`), null];
const OUTCOMES: AuditOutcome[] = [
  'ok',
  'ok',
  'ok',
  'ok',
  'failed',
  'denied',
  'rejected',
  'cancelled',
  'interrupted',
  'timed_out',
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** Every row newest first, as a query without filters must return them. */
const byNewest = (a: AuditEntry, b: AuditEntry) => b.at - a.at || b.id - a.id;

function matches(e: AuditEntry, q: AuditQuery): boolean {
  if (q.actorId !== undefined && e.actor.id !== q.actorId) return false;
  if (q.actor !== undefined) {
    const a = q.actor.toLowerCase();
    if (e.actor.id.toLowerCase() !== a && e.actor.name.toLowerCase() !== a) return false;
  }
  if (q.action !== undefined && e.action !== q.action) return false;
  if (q.site !== undefined && e.site !== q.site) return false;
  if (q.outcome !== undefined && e.outcome !== q.outcome) return false;
  if (q.since !== undefined && e.at < q.since) return false;
  if (q.until !== undefined && e.at >= q.until) return false;
  return true;
}

describe('SqliteAuditStore over 100,000 rows', () => {
  let dir: string;
  let h: OpenDatabase;
  let store: SqliteAuditStore;
  let all: AuditEntry[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'siteflow-audit-'));
    const file = join(dir, 'audit.db');
    h = openDatabase(file);
    store = new SqliteAuditStore(h.db);
    const ops = new SqliteOperationStore(h.db);
    for (let i = 0; i < 20; i++) {
      ops.create({
        id: `op-${i}`,
        kind: 'restart',
        host: 'local',
        site: `site-${i}`,
        args: {},
        requestedBy: ACTORS[0]!,
        status: 'succeeded',
        createdAt: T0,
        logPath: null,
      });
    }
    const r = rng(42);
    const inserted: AuditEntry[] = [];
    h.sqlite.transaction(() => {
      for (let i = 0; i < ROWS; i++) {
        // Times are inserted out of order, so id order differs from time order.
        const at = T0 + Math.floor(r() * MINUTES) * MIN;
        const site = pick(r, SITES);
        inserted.push(
          store.record({
            at,
            actor: pick(r, ACTORS),
            action: pick(r, ACTIONS),
            host: site ? 'local' : null,
            site,
            outcome: pick(r, OUTCOMES),
            durationMs: r() < 0.1 ? null : Math.floor(r() * 5000),
            details: r() < 0.5 ? {} : { n: i, note: `row ${i}` },
            operationId: r() < 0.05 ? `op-${Math.floor(r() * 20)}` : null,
          }),
        );
      }
    })();
    // Re-open so planner statistics are gathered the way production gets them.
    h.close();
    h = openDatabase(file);
    store = new SqliteAuditStore(h.db);
    all = inserted.sort(byNewest);
  }, 120_000);

  afterAll(() => {
    h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Walks every page of `q` and returns the concatenated entries. */
  function walk(q: AuditQuery): { entries: AuditEntry[]; pages: number } {
    const entries: AuditEntry[] = [];
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const page = store.query({ ...q, cursor });
      pages++;
      if (page.nextCursor !== null) expect(page.entries).toHaveLength(q.limit ?? 20);
      entries.push(...page.entries);
      if (page.nextCursor === null) return { entries, pages };
      cursor = page.nextCursor;
      if (pages > ROWS) throw new Error('paging does not end');
    }
  }

  const midAt = T0 + (MINUTES / 2) * MIN;
  const cases: [string, AuditQuery][] = [
    ['no filter', { limit: 500 }],
    ['actorId', { actorId: 'U01ABC', limit: 37 }],
    ['actorId is case-sensitive', { actorId: 'u01abc', limit: 50 }],
    ['actor by name, other case', { actor: 'user 7', limit: 41 }],
    ['actor by id, other case', { actor: 'u03abc', limit: 64 }],
    ['actor matching one id and another name', { actor: 'Ops-Bot', limit: 97 }],
    ['actor whose id equals its name', { actor: 'ROOT', limit: 100 }],
    ['actor name shared by two ids', { actor: 'GRACE', limit: 113 }],
    ['action', { action: 'provision', limit: 250 }],
    ['site', { site: 'site-3', limit: 29 }],
    ['outcome', { outcome: 'denied', limit: 200 }],
    ['since', { since: midAt, limit: 500 }],
    ['until', { until: midAt, limit: 500 }],
    ['since+until on a shared minute', { since: midAt - 300 * MIN, until: midAt + 7 * MIN, limit: 13 }],
    ['actor+site', { actor: 'grace', site: 'site-1', limit: 3 }],
    ['actor+outcome+since', { actor: 'ops-bot', outcome: 'ok', since: midAt, limit: 10 }],
    ['actorId+action+until', { actorId: '100000', action: 'restart', until: midAt, limit: 7 }],
    ['site+outcome', { site: 'site-9', outcome: 'failed', limit: 11 }],
    [
      'action+outcome+since+until',
      { action: 'pull', outcome: 'ok', since: T0 + 1000 * MIN, until: midAt, limit: 77 },
    ],
    [
      'everything',
      {
        actorId: 'root',
        actor: 'ROOT',
        action: 'status',
        site: 'site-2',
        outcome: 'ok',
        since: T0,
        until: T0 + MINUTES * MIN,
        limit: 2,
      },
    ],
    ['nothing matches', { site: 'no-such-site' }],
    ['actor nothing matches', { actor: 'nobody' }],
  ];

  it('stored every row with its fields', () => {
    expect(all).toHaveLength(ROWS);
    expect(new Set(all.map((e) => e.id)).size).toBe(ROWS);
    // Plenty of equal timestamps, the case keyset paging gets wrong most easily.
    const ats = new Set(all.map((e) => e.at));
    expect(ats.size).toBeLessThan(ROWS / 3);
    const first = store.query({ limit: 1 }).entries[0];
    expect(first).toEqual(all[0]);
  });

  it.each(cases)('%s: walking every page gives exactly the expected rows in order', (_name, q) => {
    const expected = all.filter((e) => matches(e, q));
    const { entries, pages } = walk(q);
    expect(entries.length).toBe(expected.length);
    expect(entries.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expect(entries).toEqual(expected);
    const limit = q.limit ?? 20;
    expect(pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
  });

  it('the cases cover large and small results and rows that share `at` across a page break', () => {
    const counts = cases.map(([, q]) => all.filter((e) => matches(e, q)).length);
    expect(Math.max(...counts)).toBe(ROWS);
    // 'actorId is case-sensitive' and the two 'nothing matches' cases.
    expect(counts.filter((c) => c === 0)).toHaveLength(3);
    // The `actor` case that matches one id and another name really has rows of both.
    const ids = new Set(all.filter((e) => matches(e, { actor: 'ops-bot' })).map((e) => e.actor.id));
    expect(ids).toEqual(new Set(['ops-bot', 'U9DEPLOY']));
    // Some page of the unfiltered walk ends in the middle of a run of equal `at`.
    const page = store.query({ limit: 500 });
    const last = page.entries.at(-1)!;
    const next = store.query({ limit: 500, cursor: page.nextCursor! }).entries[0]!;
    expect(all.filter((e) => e.at === last.at).length).toBeGreaterThan(1);
    expect(next.id).toBe(all[500]!.id);
  });

  it('every filter combination walks an index without sorting', () => {
    const keys = ['actorId', 'actor', 'action', 'site', 'outcome', 'since', 'until', 'cursor'] as const;
    const values: Required<AuditQuery> = {
      actorId: 'U01ABC',
      actor: 'grace',
      action: 'pull',
      site: 'site-4',
      outcome: 'failed',
      since: T0,
      until: midAt,
      cursor: encodeAuditCursor(midAt, 50_000),
      limit: 20,
    };
    for (let mask = 0; mask < 1 << keys.length; mask++) {
      const q: AuditQuery = {};
      keys.forEach((k, i) => {
        if (mask & (1 << i)) Object.assign(q, { [k]: values[k] });
      });
      const plan = store.explain(q);
      const scans = plan.filter((l) => /^(SCAN|SEARCH) /.test(l));
      expect(scans.length, JSON.stringify({ q, plan })).toBeGreaterThan(0);
      for (const line of scans) expect(line, JSON.stringify(q)).toMatch(/USING (COVERING )?INDEX audit_log_/);
      expect(plan.join('\n'), JSON.stringify(q)).not.toMatch(/TEMP B-TREE/);
      // A filtered query seeks its filter's index instead of scanning the whole time index.
      if (mask !== 0 && mask !== 1 << 7)
        expect(
          scans.every((l) => l.startsWith('SEARCH')),
          JSON.stringify({ q, plan }),
        ).toBe(true);
    }
  });

  it('clamps the page size to 1..500 and defaults to 20', () => {
    expect(store.query({}).entries).toHaveLength(20);
    expect(store.query({ limit: 0 }).entries).toHaveLength(1);
    expect(store.query({ limit: -5 }).entries).toHaveLength(1);
    expect(store.query({ limit: 10_000 }).entries).toHaveLength(500);
    expect(store.query({ limit: Number.NaN }).entries).toHaveLength(20);
    expect(store.query({ limit: 2.9 }).entries).toHaveLength(2);
  });

  it('rejects malformed cursors with INPUT_BAD_CURSOR', () => {
    const good = store.query({ limit: 3 }).nextCursor!;
    expect(decodeAuditCursor(good)).toEqual({ at: all[2]!.at, id: all[2]!.id });
    const bad = [
      'not a cursor',
      '!!!!',
      Buffer.from('12.x').toString('base64url'),
      Buffer.from('12').toString('base64url'),
      Buffer.from('1.2.3').toString('base64url'),
      Buffer.from('99999999999999999.1').toString('base64url'),
      `${good}=`,
      'A'.repeat(200),
      '',
    ];
    for (const cursor of bad) {
      const run = () => store.query({ cursor: cursor || ' ' });
      expect(run, cursor).toThrowError(expect.objectContaining({ code: 'INPUT_BAD_CURSOR' }));
    }
  });

  it('a page cursor stays valid while new rows arrive', () => {
    const page = store.query({ site: 'site-5', limit: 50 });
    store.record({
      at: T0 + MINUTES * MIN + 1,
      actor: ACTORS[0]!,
      action: 'restart',
      site: 'site-5',
      outcome: 'ok',
    });
    const next = store.query({ site: 'site-5', limit: 50, cursor: page.nextCursor! });
    const expected = all.filter((e) => e.site === 'site-5');
    expect(next.entries.map((e) => e.id)).toEqual(expected.slice(50, 100).map((e) => e.id));
  });

  it('a cursor combined with a different `until` honours both bounds', () => {
    const cursorAt = midAt + 100 * MIN;
    const cursorRow = all.find((e) => e.at === cursorAt)!;
    const cursor = encodeAuditCursor(cursorRow.at, cursorRow.id);
    const before = (e: AuditEntry) => e.at < cursorRow.at || (e.at === cursorRow.at && e.id < cursorRow.id);
    for (const until of [midAt, cursorAt, cursorAt + 1, midAt + 200 * MIN]) {
      const got = store.query({ until, cursor, limit: 100 }).entries.map((e) => e.id);
      const want = all
        .filter((e) => e.at < until && before(e))
        .slice(0, 100)
        .map((e) => e.id);
      expect(got, String(until)).toEqual(want);
    }
  });

  it('refuses an operation id that does not exist', () => {
    expect(() =>
      store.record({
        at: T0,
        actor: ACTORS[0]!,
        action: 'restart',
        outcome: 'ok',
        operationId: 'op-missing',
      }),
    ).toThrowError(expect.objectContaining({ code: 'DB_UNKNOWN_OPERATION' }));
  });
});

describe('SqliteAuditStore.pruneBefore', () => {
  it('deletes exactly the rows older than the cut-off, in batches', () => {
    const h = openDatabase(':memory:');
    try {
      const store = new SqliteAuditStore(h.db);
      const actor = ACTORS[0]!;
      h.sqlite.transaction(() => {
        for (let i = 0; i < 12_345; i++) store.record({ at: i, actor, action: 'status', outcome: 'ok' });
      })();
      expect(store.pruneBefore(11_000)).toBe(11_000);
      expect(store.pruneBefore(11_000)).toBe(0);
      const rest = store.query({ limit: 500 });
      expect(rest.entries[0]!.at).toBe(12_344);
      expect(rest.entries.at(-1)!.at).toBe(11_845);
      expect(h.sqlite.prepare('SELECT count(*) FROM audit_log').pluck().get()).toBe(1_345);
      expect(h.sqlite.prepare('SELECT min(at) FROM audit_log').pluck().get()).toBe(11_000);
    } finally {
      h.close();
    }
  });
});
