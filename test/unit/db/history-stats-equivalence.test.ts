/**
 * The stats queries (covering indexes, rows read as arrays, uptime for all sites in one walk)
 * against a plain recomputation from every row of the history tables, on random data: the
 * answers must be identical, for all sites and for one, over windows from 1 h to 90 days.
 */
import { describe, expect, it } from 'vitest';
import {
  type IncidentStat,
  type OperationKindStats,
  type SiteStats,
  type StateChangePoint,
  type StatsReport,
  uptime,
  weightedPercentile,
} from '../../../src/core/stats.js';
import { openDatabase } from '../../../src/db/database.js';
import { type HistoryPoint, RAW_KEEP_MS, SqliteHistoryStore } from '../../../src/db/sqlite-history-store.js';

const H = 3_600_000;
const DAY = 24 * H;
const M5 = 300_000;

/** A small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Row = Record<string, unknown>;

/** The report recomputed from all rows, in JS, with the window rules the store documents. */
function reference(
  all: { states: Row[]; buckets: Row[]; points: Row[]; alerts: Row[]; ops: Row[] },
  o: { since: number; now: number; host?: string | null; site?: string | null },
): StatsReport {
  const { now, since } = o;
  const match = (h: unknown, s: unknown) => (!o.host || o.host === h) && (!o.site || o.site === s);
  const sites = new Map<string, SiteStats>();
  const entry = (host: string, site: string) => {
    const k = `${host}/${site}`;
    let e = sites.get(k);
    if (!e) {
      e = {
        host,
        site,
        uptime: { '24h': null, '7d': null, '30d': null },
        incidents: [],
        urls: [],
        containerExits: 0,
        restartOperations: 0,
      };
      sites.set(k, e);
    }
    return e;
  };
  const states = [...all.states].sort(
    (a, b) => (a.at as number) - (b.at as number) || (a.id as number) - (b.id as number),
  );
  const seen = new Set(states.map((s) => `${s.host}/${s.site}`));
  for (const k of [...seen].sort()) {
    const [host, site] = k.split('/') as [string, string];
    if (!match(host, site)) continue;
    const mine = states.filter((s) => s.host === host && s.site === site) as unknown as Array<
      StateChangePoint & { id: number }
    >;
    const e = entry(host, site);
    for (const [key, from] of [
      ['24h', now - DAY],
      ['7d', now - 7 * DAY],
      ['30d', now - 30 * DAY],
    ] as const) {
      const before = mine.filter((s) => s.at < from).at(-1) ?? null;
      const inside = mine.filter((s) => s.at >= from && s.at < now);
      e.uptime[key] = uptime(
        before && { at: before.at, state: before.state },
        inside.map((s) => ({ at: s.at, state: s.state })),
        from,
        now,
      ).percent;
    }
  }
  const alerts = all.alerts
    .filter(
      (a) =>
        a.kind === 'site' &&
        a.parent_id === null &&
        (a.opened_at as number) < now &&
        (a.resolved_at === null || (a.resolved_at as number) >= since),
    )
    .sort((a, b) => (a.opened_at as number) - (b.opened_at as number));
  for (const a of alerts) {
    if (!a.site || !match(a.host, a.site)) continue;
    const inc: IncidentStat = {
      alertId: a.id as string,
      title: a.title as string,
      openedAt: a.opened_at as number,
      resolvedAt: a.resolved_at as number | null,
      durationMs: ((a.resolved_at as number | null) ?? now) - (a.opened_at as number),
    };
    entry(a.host as string, a.site as string).incidents.push(inc);
  }
  const maxStart = (res: number) => {
    const xs = all.buckets.filter((b) => b.res === res).map((b) => b.start as number);
    return xs.length ? Math.max(...xs) : null;
  };
  const hour = Math.floor(now / H) * H;
  const bucketFrom = Math.ceil(since / H) * H;
  const lastHour = maxStart(H);
  const fiveFrom = Math.max(
    since,
    lastHour !== null ? Math.min(lastHour + H, hour) : since,
    now - RAW_KEEP_MS,
  );
  const last5 = maxStart(M5);
  const rawFrom = Math.max(fiveFrom, last5 !== null ? last5 + M5 : fiveFrom);
  const isUrl = (s: unknown) => String(s).startsWith('url:');
  const urls = new Map<
    string,
    {
      host: string;
      site: string;
      series: string;
      v50: Array<[number, number]>;
      v95: Array<[number, number]>;
      n: number;
      ok: number;
    }
  >();
  const url = (host: string, site: string, series: string) => {
    const k = `${host}\u0000${site}\u0000${series}`;
    let u = urls.get(k);
    if (!u) {
      u = { host, site, series, v50: [], v95: [], n: 0, ok: 0 };
      urls.set(k, u);
    }
    return u;
  };
  const inRange = (b: Row, res: number, from: number, to: number) =>
    b.res === res && (b.start as number) >= from && (b.start as number) < to;
  const fiveStart = Math.ceil(fiveFrom / M5) * M5;
  for (const b of all.buckets) {
    if (!isUrl(b.series) || !match(b.host, b.site)) continue;
    if (!inRange(b, H, bucketFrom, fiveFrom) && !inRange(b, M5, fiveStart, rawFrom)) continue;
    const u = url(b.host as string, b.site as string, b.series as string);
    u.n += b.n as number;
    u.ok += b.ok_n as number;
    if (b.p50 !== null) u.v50.push([b.p50 as number, b.n as number]);
    if (b.p95 !== null) u.v95.push([b.p95 as number, b.n as number]);
  }
  for (const p of all.points) {
    if (!isUrl(p.series) || !match(p.host, p.site) || (p.at as number) < rawFrom || (p.at as number) > now)
      continue;
    const u = url(p.host as string, p.site as string, p.series as string);
    u.n++;
    if (p.ok === 1) u.ok++;
    if (p.value !== null) {
      u.v50.push([p.value as number, 1]);
      u.v95.push([p.value as number, 1]);
    }
  }
  // Within a site the store lists URLs in the order it first meets them; compare as sets.
  for (const u of urls.values())
    entry(u.host, u.site).urls.push({
      url: u.series.slice(4),
      checks: u.n,
      failures: u.n - u.ok,
      p50Ms: weightedPercentile(u.v50, 50),
      p95Ms: weightedPercentile(u.v95, 95),
    });
  for (const b of all.buckets)
    if (b.series === 'die' && inRange(b, H, bucketFrom, rawFrom) && match(b.host, b.site))
      entry(b.host as string, b.site as string).containerExits += b.n as number;
  for (const p of all.points)
    if (p.series === 'die' && (p.at as number) >= rawFrom && (p.at as number) <= now && match(p.host, p.site))
      entry(p.host as string, p.site as string).containerExits++;
  const kinds = new Map<string, { count: number; ok: number; durations: number[] }>();
  for (const op of all.ops) {
    if ((op.created_at as number) < since || op.status === 'queued' || op.status === 'running') continue;
    if (!match(op.host, op.site)) continue;
    const k = kinds.get(op.kind as string) ?? { count: 0, ok: 0, durations: [] };
    k.count++;
    if (op.status === 'succeeded') k.ok++;
    if (op.started_at !== null && op.finished_at !== null)
      k.durations.push((op.finished_at as number) - (op.started_at as number));
    kinds.set(op.kind as string, k);
    if (op.kind === 'restart' && op.host && op.site)
      entry(op.host as string, op.site as string).restartOperations++;
  }
  const operations: OperationKindStats[] = [...kinds.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([kind, k]) => ({
      kind,
      count: k.count,
      succeeded: k.ok,
      failed: k.count - k.ok,
      successRate: k.count ? (k.ok / k.count) * 100 : null,
      avgMs: k.durations.length ? k.durations.reduce((s, x) => s + x, 0) / k.durations.length : null,
      p95Ms: weightedPercentile(
        k.durations.map((d) => [d, 1] as const),
        95,
      ),
    }));
  return {
    since,
    until: now,
    sites: [...sites.values()].sort((a, b) => a.host.localeCompare(b.host) || a.site.localeCompare(b.site)),
    operations,
  };
}

/** URLs of each site in a fixed order (the store lists them in the order it reads them). */
function normalized(r: StatsReport): StatsReport {
  return {
    ...r,
    sites: r.sites.map((s) => ({ ...s, urls: [...s.urls].sort((a, b) => a.url.localeCompare(b.url)) })),
  };
}

function randomHistory(seed: number) {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const d = openDatabase(':memory:');
  const store = new SqliteHistoryStore(d.db);
  const now = 20_000 * DAY + Math.floor(rand() * DAY);
  const sites = [
    ['local', 'blog'],
    ['local', 'shop'],
    ['local', 'wiki'],
    ['edge', 'blog'],
    ['edge', 'docs'],
  ] as const;
  const urlsOf = new Map<string, string[]>(
    sites.map(([h, s]) => [
      `${h}/${s}`,
      rand() < 0.5
        ? [`url:https://${s}.${h}/`]
        : [`url:https://${s}.${h}/`, `url:http://${s}.${h}:8080/health`],
    ]),
  );
  const states = ['up', 'degraded', 'down', 'stopped', 'empty', 'gone'] as const;
  // State changes over 100 days (ties in time on purpose: the id decides).
  for (const [h, s] of sites) {
    if (rand() < 0.15) continue; // a site with URLs but no recorded state
    let at = now - 100 * DAY;
    while (at < now + H) {
      store.recordState(h, s, at, pick(states));
      if (rand() < 0.1) store.recordState(h, s, at, pick(states));
      at += Math.floor(rand() * 6 * DAY);
    }
  }
  // Hourly buckets older than the raw history, written as the rollup would (n may be 0,
  // p50/p95 may be null, latencies repeat so percentiles meet ties).
  const bucket = d.sqlite.prepare(
    'INSERT INTO history_buckets (host, site, series, res, start, n, ok_n, sum, max, p50, p95) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const latency = () => (rand() < 0.3 ? pick([12, 40, 40.5, 99.25]) : 5 + rand() * 300);
  const rawStart = now - 3 * DAY;
  for (const [h, s] of sites)
    for (const series of [...urlsOf.get(`${h}/${s}`)!, 'die'])
      for (let t = Math.floor((now - 95 * DAY) / H) * H; t < Math.floor(rawStart / H) * H; t += H) {
        if (rand() < 0.2) continue;
        const n = series === 'die' ? 1 + Math.floor(rand() * 2) : Math.floor(rand() * 61);
        const none = series === 'die' || rand() < 0.05;
        const p50 = latency();
        bucket.run(
          h,
          s,
          series,
          H,
          t,
          n,
          Math.floor(n * rand()),
          p50 * n,
          p50 * 2,
          none ? null : p50,
          none ? null : p50 * 1.5,
        );
      }
  // Raw points over the last 3 days, rolled up the way the recorder does as time passes.
  const points: HistoryPoint[] = [];
  for (const [h, s] of sites) {
    for (const series of urlsOf.get(`${h}/${s}`)!)
      for (let t = rawStart; t <= now; t += 60_000 + Math.floor(rand() * 120_000))
        points.push({
          host: h,
          site: s,
          series,
          at: t,
          value: rand() < 0.05 ? null : latency(),
          ok: rand() < 0.9,
        });
    for (let t = rawStart; t <= now; t += Math.floor(rand() * 6 * H))
      points.push({ host: h, site: s, series: 'die', at: t, value: 1 });
  }
  points.sort((a, b) => a.at - b.at);
  let i = 0;
  for (let t = rawStart + H; t <= now; t += 7 * 60_000 + Math.floor(rand() * 20 * 60_000)) {
    const batch: HistoryPoint[] = [];
    while (i < points.length && points[i]!.at <= t) batch.push(points[i++]!);
    store.addPoints(batch);
    store.rollup(t);
  }
  store.addPoints(points.slice(i));
  // Incidents and operations over 100 days.
  const alert = d.sqlite.prepare(
    "INSERT INTO alerts (id, kind, key, severity, status, host, site, title, lines, silenced, announced, parent_id, opened_at, updated_at, resolved_at, acked_by, reminded_at) VALUES (?, ?, ?, 'critical', 'resolved', ?, ?, ?, '[]', 0, 1, ?, ?, ?, ?, NULL, ?)",
  );
  const op = d.sqlite.prepare(
    "INSERT INTO operations (id, kind, host, site, args, requested_by_platform, requested_by_id, requested_by_name, status, created_at, started_at, finished_at) VALUES (?, ?, ?, ?, '{}', 'console', 'u', 'u', ?, ?, ?, ?)",
  );
  for (let k = 0; k < 60; k++) {
    const [h, s] = pick(sites);
    const at = now - Math.floor(rand() * 100 * DAY);
    const resolved = rand() < 0.2 ? null : at + Math.floor(rand() * 3 * H);
    alert.run(
      `al_${k}`,
      pick(['site', 'site', 'host']),
      `site:${h}/${s}`,
      h,
      s,
      `${s} is down`,
      rand() < 0.1 ? 'al_0' : null,
      at,
      at,
      resolved,
      at,
    );
  }
  for (let k = 0; k < 200; k++) {
    const [h, s] = pick(sites);
    const at = now - Math.floor(rand() * 100 * DAY);
    const started = rand() < 0.05 ? null : at;
    op.run(
      `op_${k}`,
      pick(['restart', 'pull', 'logs']),
      h,
      s,
      pick(['succeeded', 'failed', 'cancelled', 'running']),
      at,
      started,
      started === null ? null : at + Math.floor(rand() * 60_000),
    );
  }
  const all = () => ({
    states: d.sqlite.prepare('SELECT * FROM history_states').all() as Row[],
    buckets: d.sqlite.prepare('SELECT * FROM history_buckets').all() as Row[],
    points: d.sqlite.prepare('SELECT * FROM history_points').all() as Row[],
    alerts: d.sqlite.prepare('SELECT * FROM alerts').all() as Row[],
    ops: d.sqlite.prepare('SELECT * FROM operations').all() as Row[],
  });
  return { store, sqlite: d.sqlite, all, now, close: () => d.close() };
}

describe('history stats on random data', () => {
  for (const seed of [1, 42, 2026]) {
    it(`equal the recomputation from every row (seed ${seed})`, () => {
      const { store, sqlite, all, now, close } = randomHistory(seed);
      try {
        let urlsSeen = 0;
        const compareAll = () => {
          const rows = all();
          for (const ago of [H, 6 * H + 17 * 60_000, DAY, 3 * DAY, 7 * DAY, 30 * DAY, 90 * DAY])
            for (const filter of [
              {},
              { site: 'blog' },
              { host: 'edge', site: 'blog' },
              { site: 'shop' },
              { site: 'nosuch' },
            ]) {
              const q = { since: now - ago, now, ...filter };
              const got = normalized(store.stats(q));
              expect(got, JSON.stringify(q)).toEqual(normalized(reference(rows, q)));
              urlsSeen += got.sites.reduce((n, s) => n + s.urls.length, 0);
            }
        };
        compareAll();
        // Asked again: the closed hours' aggregates are re-used, and still equal.
        compareAll();
        // The data really exercises the latency path (not only empty answers).
        expect(urlsSeen).toBeGreaterThan(100);
        // Old hourly buckets changed behind the store's back (SQL on the same connection):
        // the re-used aggregates notice, and the answers follow the rows.
        const old = Math.floor((now - 2 * DAY) / H) * H - 5 * H;
        sqlite
          .prepare(
            "UPDATE history_buckets SET p50 = p50 + 1000 WHERE res = ? AND start = ? AND series LIKE 'url:%'",
          )
          .run(H, old);
        sqlite
          .prepare("DELETE FROM history_buckets WHERE res = ? AND start = ? AND series LIKE 'url:%'")
          .run(H, old - 7 * H);
        sqlite
          .prepare(
            "INSERT OR REPLACE INTO history_buckets (host, site, series, res, start, n, ok_n, sum, max, p50, p95) VALUES ('edge', 'docs', 'url:https://docs.edge/', ?, ?, 7, 3, 70, 20, 10.5, 19)",
          )
          .run(H, old - 3 * H);
        compareAll();
        // And after a prune that removes old hours.
        store.prune(now, 20);
        compareAll();
      } finally {
        close();
      }
    });
  }
});
