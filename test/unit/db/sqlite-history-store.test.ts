import { describe, expect, it } from 'vitest';
import { uptime, weightedPercentile } from '../../../src/core/stats.js';
import { openDatabase } from '../../../src/db/database.js';
import { SqliteHistoryStore } from '../../../src/db/sqlite-history-store.js';

const H = 3_600_000;
const DAY = 24 * H;

describe('uptime and percentiles', () => {
  it('counts up and degraded as up, down as down, and stopped/empty not at all', () => {
    const r = uptime(
      { at: 0, state: 'up' },
      [
        { at: 100, state: 'down' },
        { at: 150, state: 'up' },
        { at: 300, state: 'stopped' },
      ],
      0,
      400,
    );
    expect(r).toEqual({ percent: (250 / 300) * 100, upMs: 250, observedMs: 300 });
    expect(uptime(null, [], 0, 100).percent).toBeNull();
    expect(
      weightedPercentile(
        [
          [10, 1],
          [20, 1],
          [30, 2],
        ],
        50,
      ),
    ).toBe(20);
    expect(
      weightedPercentile(
        [
          [10, 1],
          [20, 1],
          [30, 2],
        ],
        95,
      ),
    ).toBe(30);
    expect(weightedPercentile([], 50)).toBeNull();
  });
});

describe('SqliteHistoryStore', () => {
  const setup = () => {
    const d = openDatabase(':memory:');
    return { d, store: new SqliteHistoryStore(d.db) };
  };

  it('rolls raw points into 5-minute and hourly buckets, and answers latency from buckets plus the current hour', () => {
    const { store } = setup();
    const t0 = 1_000 * DAY; // midnight
    const pts = [];
    for (let i = 0; i < 120; i++)
      pts.push({
        host: 'h',
        site: 's',
        series: 'url:http://x/',
        at: t0 + i * 60_000,
        value: i < 60 ? 10 : 100,
        ok: i % 10 !== 0,
      });
    store.addPoints(pts);
    const now = t0 + 90 * 60_000; // 1.5 h: hour 0 complete, hour 1 half done
    store.rollup(now);
    const r = store.stats({ since: t0, now });
    const u = r.sites.find((s) => s.site === 's')!.urls[0]!;
    // hour 0 from its bucket (60 checks at 10 ms), the 31 raw points of hour 1 up to now (100 ms)
    expect(u.checks).toBe(91);
    expect(u.failures).toBe(10);
    expect(u.p50Ms).toBe(10);
    expect(u.p95Ms).toBe(100);
    // raw older than 48 h goes; the buckets stay
    const later = t0 + 3 * DAY;
    store.rollup(later);
    const pr = store.prune(later, 180);
    expect(pr.points).toBe(120);
    const again = store.stats({ since: t0, now: t0 + 2 * H });
    expect(again.sites[0]?.urls[0]?.checks ?? 0).toBeGreaterThanOrEqual(60);
  });

  it('computes uptime, incidents and operations by kind', () => {
    const { d, store } = setup();
    const now = 2_000 * DAY;
    store.recordState('h', 'blog', now - 10 * H, 'up');
    store.recordState('h', 'blog', now - 2 * H, 'down');
    store.recordState('h', 'blog', now - 1 * H, 'up');
    d.sqlite
      .prepare(
        "INSERT INTO alerts (id, kind, key, severity, status, host, site, title, lines, silenced, announced, parent_id, opened_at, updated_at, resolved_at, acked_by, reminded_at) VALUES ('al_1', 'site', 'site:h/blog', 'critical', 'resolved', 'h', 'blog', 'blog is down', '[]', 0, 1, NULL, ?, ?, ?, NULL, ?)",
      )
      .run(now - 2 * H, now - H, now - H, now - 2 * H);
    const op = d.sqlite.prepare(
      "INSERT INTO operations (id, kind, host, site, args, requested_by_platform, requested_by_id, requested_by_name, status, created_at, started_at, finished_at) VALUES (?, ?, 'h', 'blog', '{}', 'console', 'u', 'u', ?, ?, ?, ?)",
    );
    op.run('op1', 'restart', 'succeeded', now - 3 * H, now - 3 * H, now - 3 * H + 1000);
    op.run('op2', 'restart', 'succeeded', now - 3 * H, now - 3 * H, now - 3 * H + 3000);
    op.run('op3', 'pull', 'failed', now - 3 * H, now - 3 * H, now - 3 * H + 5000);
    const r = store.stats({ since: now - DAY, now, site: 'blog' });
    const s = r.sites[0]!;
    expect(s.uptime['24h']).toBeCloseTo(90, 5);
    expect(s.incidents).toEqual([
      { alertId: 'al_1', title: 'blog is down', openedAt: now - 2 * H, resolvedAt: now - H, durationMs: H },
    ]);
    expect(s.restartOperations).toBe(2);
    expect(r.operations).toEqual([
      { kind: 'pull', count: 1, succeeded: 0, failed: 1, successRate: 0, avgMs: 5000, p95Ms: 5000 },
      { kind: 'restart', count: 2, succeeded: 2, failed: 0, successRate: 100, avgMs: 2000, p95Ms: 3000 },
    ]);
    expect(store.dailyUptime('h', 'blog', now, 30).filter((x) => x !== null)).toHaveLength(1);
  });
});
