/**
 * The history store on SQLite: site state changes, raw points (URL checks, CPU, memory,
 * container exits) and their 5-minute and hourly buckets, plus the statistics `/stats`,
 * `/api/stats` and the page read. Buckets are rolled up from raw points as soon as their
 * window is complete (so reads over days touch a few thousand bucket rows, not raw points);
 * raw points are kept 48 h, 5-minute buckets 30 days, hourly ones the retention period.
 */
import type Database from 'better-sqlite3';
import {
  type HealthState,
  type IncidentStat,
  type OperationKindStats,
  type SiteStats,
  type StateChangePoint,
  type StatsReport,
  type UrlStat,
  uptime,
  weightedPercentile,
} from '../core/stats.js';
import type { Db } from './database.js';

/** Raw points are kept this long. */
export const RAW_KEEP_MS = 48 * 3_600_000;
/** 5-minute buckets are kept this long. */
export const FIVE_MIN_KEEP_MS = 30 * 86_400_000;
const RES_5M = 300_000;
const RES_1H = 3_600_000;
const DAY = 86_400_000;

/** One raw point. */
export interface HistoryPoint {
  host: string;
  site: string;
  /** `url:<URL>`, `cpu`, `mem` or `die`. */
  series: string;
  at: number;
  value: number | null;
  ok?: boolean | null;
  status?: number | null;
  error?: string | null;
}

/** What a prune removed. */
export interface HistoryPruneResult {
  points: number;
  buckets: number;
  states: number;
}

/** A URL bucket as the stats queries read it: host, site, series, n, ok_n, p50, p95. */
type BucketRow = [string, string, string, number, number, number | null, number | null];
/** A raw URL point as the stats queries read it: host, site, series, value, ok. */
type RawUrlRow = [string, string, string, number | null, number | null];

/** One URL's latency and check counts over a window, while they are being summed. */
interface UrlAgg {
  host: string;
  site: string;
  url: string;
  p50: Array<[number, number]>;
  p95: Array<[number, number]>;
  n: number;
  ok: number;
}

/** Windows whose closed-hour aggregates are kept (a few windows times a few filters). */
const CLOSED_WINDOWS = 16;

function urlOf(urls: Map<string, UrlAgg>, host: string, site: string, series: string): UrlAgg {
  const k = `${host}\u0000${site}\u0000${series}`;
  let u = urls.get(k);
  if (!u) {
    u = { host, site, url: series.slice(4), p50: [], p95: [], n: 0, ok: 0 };
    urls.set(k, u);
  }
  return u;
}

/** Adds URL bucket rows to the per-URL sums: counts, and (value, weight) pairs for the percentiles. */
function addBuckets(
  urls: Map<string, UrlAgg>,
  rows: readonly BucketRow[],
  match: (host: string, site: string) => boolean,
): void {
  for (const [host, site, series, n, okN, p50, p95] of rows) {
    if (!match(host, site)) continue;
    const u = urlOf(urls, host, site, series);
    u.n += n;
    u.ok += okN;
    if (p50 !== null) u.p50.push([p50, n]);
    if (p95 !== null) u.p95.push([p95, n]);
  }
}

/** See the module comment. */
export class SqliteHistoryStore {
  private readonly sqlite: Database.Database;
  private readonly st;
  /** Per-URL aggregates of closed hourly buckets, by window (see closedHours). */
  private readonly closed = new Map<string, { check: string; urls: Map<string, UrlAgg> }>();

  constructor(db: Db) {
    this.sqlite = db.$client;
    const q = (s: string) => this.sqlite.prepare(s);
    this.st = {
      insState: q('INSERT INTO history_states (host, site, at, state, note) VALUES (?, ?, ?, ?, ?)'),
      lastStates: q(
        'SELECT s.host, s.site, s.state FROM history_states s JOIN (SELECT host, site, MAX(id) AS id FROM history_states GROUP BY host, site) m ON m.id = s.id',
      ),
      insPoint: q(
        'INSERT INTO history_points (host, site, series, at, value, ok, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      maxBucket: q('SELECT MAX(start) AS start FROM history_buckets WHERE res = ?'),
      minPoint: q('SELECT MIN(at) AS at FROM history_points'),
      pointsIn: q(
        'SELECT host, site, series, at, value, ok FROM history_points WHERE at >= ? AND at < ? ORDER BY host, site, series, at',
      ),
      upsertBucket: q(
        'INSERT OR REPLACE INTO history_buckets (host, site, series, res, start, n, ok_n, sum, max, p50, p95) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      prunePoints: q('DELETE FROM history_points WHERE at < ?'),
      pruneBuckets: q('DELETE FROM history_buckets WHERE res = ? AND start < ?'),
      // Keep each site's last state before the cut, so uptime still knows what it was.
      pruneStates: q(
        'DELETE FROM history_states WHERE at < ? AND id NOT IN (SELECT MAX(id) FROM history_states WHERE at < ? GROUP BY host, site)',
      ),
      stateBefore: q(
        'SELECT at, state FROM history_states WHERE host = ? AND site = ? AND at < ? ORDER BY at DESC, id DESC LIMIT 1',
      ),
      statesIn: q(
        'SELECT at, state FROM history_states WHERE host = ? AND site = ? AND at >= ? AND at < ? ORDER BY at, id',
      ),
      // Every site's changes in the longest uptime window, in one walk (not three queries a site).
      statesSince: q(
        'SELECT host, site, at, state FROM history_states WHERE at >= ? AND at < ? ORDER BY host, site, at, id',
      ),
      sitesSeen: q('SELECT DISTINCT host, site FROM history_states'),
      // Every site's last state before a time (stateBefore for all sites in one statement).
      statesBefore: q(
        'SELECT s.host, s.site, s.at, s.state FROM (SELECT DISTINCT host, site FROM history_states) k JOIN history_states s ON s.id = (SELECT x.id FROM history_states x WHERE x.host = k.host AND x.site = k.site AND x.at < ? ORDER BY x.at DESC, x.id DESC LIMIT 1)',
      ),
      incidents: q(
        "SELECT id, host, site, title, opened_at, resolved_at FROM alerts WHERE kind = 'site' AND parent_id IS NULL AND opened_at < ? AND (resolved_at IS NULL OR resolved_at >= ?) ORDER BY opened_at",
      ),
      // The URL rows below are read as arrays ([host, site, series, n, ok_n, p50, p95], raw
      // points [host, site, series, value, ok]) from covering indexes (migration 0006): a
      // window of all sites is thousands of rows, and building an object per row, or a table
      // lookup per row, was most of what /stats cost (bench/stats.bench.ts).
      urlBuckets: q(
        "SELECT host, site, series, n, ok_n, p50, p95 FROM history_buckets WHERE res = ? AND start >= ? AND start < ? AND series >= 'url:' AND series < 'url;'",
      ).raw(true),
      // The checksum of closedHours (from the covering index, no row objects).
      urlBucketsCheck: q(
        "SELECT COUNT(*), TOTAL(n), TOTAL(ok_n), TOTAL(p50), TOTAL(p95), MIN(start), MAX(start) FROM history_buckets WHERE res = ? AND start >= ? AND start < ? AND series >= 'url:' AND series < 'url;'",
      ).raw(true),
      // One site: history_buckets_site_idx (host, site, res, start, ...) leads straight to its rows.
      urlBucketsSite: q(
        "SELECT host, site, series, n, ok_n, p50, p95 FROM history_buckets INDEXED BY history_buckets_site_idx WHERE host = ? AND site = ? AND res = ? AND start >= ? AND start < ? AND series >= 'url:' AND series < 'url;'",
      ).raw(true),
      urlRawSite: q(
        "SELECT host, site, series, value, ok FROM history_points WHERE host = ? AND site = ? AND series >= 'url:' AND series < 'url;' AND at >= ? AND at < ?",
      ).raw(true),
      urlRaw: q(
        "SELECT host, site, series, value, ok FROM history_points WHERE at >= ? AND at < ? AND series >= 'url:' AND series < 'url;'",
      ).raw(true),
      dieBuckets: q(
        "SELECT host, site, SUM(n) AS n FROM history_buckets INDEXED BY history_buckets_series_idx WHERE series = 'die' AND res = ? AND start >= ? AND start < ? GROUP BY host, site",
      ),
      dieBucketsSite: q(
        "SELECT host, site, SUM(n) AS n FROM history_buckets INDEXED BY history_buckets_site_idx WHERE host = ? AND site = ? AND res = ? AND start >= ? AND start < ? AND series = 'die' GROUP BY host, site",
      ),
      dieRaw: q(
        "SELECT host, site, COUNT(*) AS n FROM history_points WHERE at >= ? AND at < ? AND series = 'die' GROUP BY host, site",
      ),
      operationsSite: q(
        "SELECT kind, host, site, status, started_at, finished_at FROM operations WHERE site = ? AND created_at >= ? AND status NOT IN ('queued', 'running')",
      ),
      operations: q(
        "SELECT kind, host, site, status, started_at, finished_at FROM operations WHERE created_at >= ? AND status NOT IN ('queued', 'running')",
      ),
      latency5m: q(
        "SELECT start, series, p50, n FROM history_buckets WHERE res = ? AND host = ? AND site = ? AND start >= ? AND series LIKE 'url:%' ORDER BY start",
      ),
    };
  }

  /** Records a change of a site's health. */
  recordState(host: string, site: string, at: number, state: HealthState, note: string | null = null): void {
    this.st.insState.run(host, site, at, state, note);
  }

  /** Each site's last recorded state (so a restarted recorder does not repeat it). */
  lastStates(): Map<string, string> {
    const out = new Map<string, string>();
    for (const r of this.st.lastStates.all() as Array<{ host: string; site: string; state: string }>)
      out.set(`${r.host}/${r.site}`, r.state);
    return out;
  }

  /** Adds raw points in one transaction. */
  addPoints(points: readonly HistoryPoint[]): void {
    if (!points.length) return;
    this.sqlite.transaction(() => {
      for (const p of points)
        this.st.insPoint.run(
          p.host,
          p.site,
          p.series,
          p.at,
          p.value,
          p.ok === undefined || p.ok === null ? null : p.ok ? 1 : 0,
          p.status ?? null,
          p.error ?? null,
        );
    })();
  }

  /** Rolls raw points up into every complete 5-minute and hourly bucket not yet made. */
  rollup(now: number): number {
    let made = 0;
    for (const res of [RES_5M, RES_1H]) {
      const last = (this.st.maxBucket.get(res) as { start: number | null }).start;
      const first = (this.st.minPoint.get() as { at: number | null }).at;
      if (first === null) continue;
      let from = last !== null ? last + res : Math.floor(first / res) * res;
      from = Math.max(from, Math.floor((now - RAW_KEEP_MS) / res) * res);
      const to = Math.floor(now / res) * res;
      if (to <= from) continue;
      this.sqlite.transaction(() => {
        made += this.rollupRange(res, from, to);
      })();
    }
    return made;
  }

  private rollupRange(res: number, from: number, to: number): number {
    let made = 0;
    let key = '';
    let cur: {
      host: string;
      site: string;
      series: string;
      start: number;
      values: number[];
      n: number;
      ok: number;
    } | null = null;
    const flush = () => {
      if (!cur) return;
      const v = cur.values.sort((a, b) => a - b);
      const pick = (p: number) =>
        v.length ? v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))]! : null;
      this.st.upsertBucket.run(
        cur.host,
        cur.site,
        cur.series,
        res,
        cur.start,
        cur.n,
        cur.ok,
        v.reduce((s, x) => s + x, 0),
        v.length ? v[v.length - 1]! : null,
        pick(0.5),
        pick(0.95),
      );
      made++;
    };
    for (const r of this.st.pointsIn.all(from, to) as Array<{
      host: string;
      site: string;
      series: string;
      at: number;
      value: number | null;
      ok: number | null;
    }>) {
      const start = Math.floor(r.at / res) * res;
      const k = `${r.host}\u0000${r.site}\u0000${r.series}\u0000${start}`;
      if (k !== key) {
        flush();
        key = k;
        cur = { host: r.host, site: r.site, series: r.series, start, values: [], n: 0, ok: 0 };
      }
      cur!.n++;
      if (r.ok === 1) cur!.ok++;
      if (r.value !== null) cur!.values.push(r.value);
    }
    flush();
    return made;
  }

  /** Deletes raw points older than 48 h, 5-minute buckets older than 30 days, the rest after `retentionDays`. */
  prune(now: number, retentionDays: number): HistoryPruneResult {
    const cut = now - retentionDays * DAY;
    return this.sqlite.transaction(() => {
      const points = this.st.prunePoints.run(now - RAW_KEEP_MS).changes;
      const buckets =
        this.st.pruneBuckets.run(RES_5M, now - FIVE_MIN_KEEP_MS).changes +
        this.st.pruneBuckets.run(RES_1H, cut).changes;
      const states = this.st.pruneStates.run(cut, cut).changes;
      return { points, buckets, states };
    })();
  }

  /** Uptime of a site over [from, to). */
  uptimeOf(host: string, site: string, from: number, to: number) {
    const before = (this.st.stateBefore.get(host, site, from) as StateChangePoint | undefined) ?? null;
    const changes = this.st.statesIn.all(host, site, from, to) as StateChangePoint[];
    return uptime(before, changes, from, to);
  }

  /** Uptime per day of the last `days` days (oldest first; null for days it was not observed). */
  dailyUptime(host: string, site: string, now: number, days = 30): Array<number | null> {
    const end = Math.floor(now / DAY) * DAY + DAY;
    const start = end - days * DAY;
    let before = (this.st.stateBefore.get(host, site, start) as StateChangePoint | undefined) ?? null;
    const changes = this.st.statesIn.all(host, site, start, end) as StateChangePoint[];
    const out: Array<number | null> = [];
    let i = 0;
    for (let d = start; d < end; d += DAY) {
      const inDay: StateChangePoint[] = [];
      while (i < changes.length && changes[i]!.at < d + DAY) inDay.push(changes[i++]!);
      out.push(uptime(before, inDay, d, Math.min(d + DAY, now)).percent);
      if (inDay.length) before = inDay.at(-1)!;
    }
    return out;
  }

  /** The 5-minute median latency of a site's first URL over the last 24 h (oldest first). */
  latency24h(host: string, site: string, now: number): Array<{ at: number; ms: number }> {
    const rows = this.st.latency5m.all(RES_5M, host, site, now - DAY) as Array<{
      start: number;
      series: string;
      p50: number | null;
      n: number;
    }>;
    const first = rows[0]?.series;
    return rows.filter((r) => r.series === first && r.p50 !== null).map((r) => ({ at: r.start, ms: r.p50! }));
  }

  /**
   * The hourly URL buckets of all sites in [from, to) aggregated per URL. These hours are
   * closed (the rollup only adds newer buckets), so the aggregate is kept per window and
   * re-used while a checksum of the rows (count and sums, read from the covering index in
   * well under a millisecond) is unchanged: a window's thousands of bucket rows are read once
   * per hour it moves, not on every request. A row added, removed or with other counts or
   * percentiles (prune, or SQL on the file behind the store's back) changes the checksum and
   * rebuilds the aggregate; only an edit that kept every sum equal would go unnoticed.
   */
  private closedHours(
    from: number,
    to: number,
    filter: string,
    match: (host: string, site: string) => boolean,
  ): Map<string, UrlAgg> {
    const check = (this.st.urlBucketsCheck.get(RES_1H, from, to) as number[]).join(',');
    const key = `${from}/${to}/${filter}`;
    const hit = this.closed.get(key);
    if (hit && hit.check === check) return hit.urls;
    const urls = new Map<string, UrlAgg>();
    addBuckets(urls, this.st.urlBuckets.all(RES_1H, from, to) as BucketRow[], match);
    this.closed.delete(key);
    this.closed.set(key, { check, urls });
    if (this.closed.size > CLOSED_WINDOWS) this.closed.delete(this.closed.keys().next().value!);
    return urls;
  }

  /**
   * The statistics of every site (or one) since `since`: uptime over 24 h, 7 d and 30 d,
   * incidents, URL latency p50/p95 (exact from raw points inside the current hour, from the
   * hourly buckets' own p50/p95, weighted by their counts, before it), container exits,
   * restart operations, and operations by kind.
   */
  stats(o: { since: number; now: number; host?: string | null; site?: string | null }): StatsReport {
    const { now, since } = o;
    const match = (h: string, s: string | null) => (!o.host || o.host === h) && (!o.site || o.site === s);
    const sites = new Map<string, SiteStats>();
    const entry = (host: string, site: string): SiteStats => {
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
    // Uptime: each site's changes over the last 30 days (one query for all sites, one per site
    // when one is asked for) and its state before them; the 24 h and 7 d windows are cut from
    // that list, exactly as uptimeOf would read them.
    const from30 = now - 30 * DAY;
    const seen = (this.st.sitesSeen.all() as Array<{ host: string; site: string }>).filter((r) =>
      match(r.host, r.site),
    );
    const changesOf = new Map<string, StateChangePoint[]>();
    const beforeOf = new Map<string, StateChangePoint>();
    if (!o.site)
      for (const b of this.st.statesBefore.all(from30) as Array<
        StateChangePoint & { host: string; site: string }
      >)
        beforeOf.set(`${b.host}/${b.site}`, { at: b.at, state: b.state });
    const changeRows = o.site
      ? seen.flatMap((r) =>
          (this.st.statesIn.all(r.host, r.site, from30, now) as StateChangePoint[]).map((c) => ({
            ...c,
            host: r.host,
            site: r.site,
          })),
        )
      : (this.st.statesSince.all(from30, now) as Array<StateChangePoint & { host: string; site: string }>);
    for (const c of changeRows) {
      const k = `${c.host}/${c.site}`;
      let list = changesOf.get(k);
      if (!list) {
        list = [];
        changesOf.set(k, list);
      }
      list.push({ at: c.at, state: c.state });
    }
    for (const r of seen) {
      const e = entry(r.host, r.site);
      const changes = changesOf.get(`${r.host}/${r.site}`) ?? [];
      const before30 = o.site
        ? ((this.st.stateBefore.get(r.host, r.site, from30) as StateChangePoint | undefined) ?? null)
        : (beforeOf.get(`${r.host}/${r.site}`) ?? null);
      for (const [key, from] of [
        ['24h', now - DAY],
        ['7d', now - 7 * DAY],
        ['30d', from30],
      ] as const) {
        // changes are in (at, id) order: the last one before `from` is the state at `from`.
        let i = 0;
        while (i < changes.length && changes[i]!.at < from) i++;
        const before = i > 0 ? changes[i - 1]! : before30;
        e.uptime[key] = uptime(before, i > 0 ? changes.slice(i) : changes, from, now).percent;
      }
    }
    for (const a of this.st.incidents.all(now, since) as Array<{
      id: string;
      host: string;
      site: string | null;
      title: string;
      opened_at: number;
      resolved_at: number | null;
    }>) {
      if (!a.site || !match(a.host, a.site)) continue;
      const inc: IncidentStat = {
        alertId: a.id,
        title: a.title,
        openedAt: a.opened_at,
        resolvedAt: a.resolved_at,
        durationMs: (a.resolved_at ?? now) - a.opened_at,
      };
      entry(a.host, a.site).incidents.push(inc);
    }
    // URL latency: hourly buckets up to the current hour, raw points in it.
    const hour = Math.floor(now / RES_1H) * RES_1H;
    const bucketFrom = Math.ceil(since / RES_1H) * RES_1H;
    const urls = new Map<string, UrlAgg>();
    // Hourly buckets up to the last complete hour, 5-minute buckets in the current hour, raw
    // points after the last 5-minute bucket: a few rows per URL whatever the window.
    const lastHour = (this.st.maxBucket.get(RES_1H) as { start: number | null }).start;
    const fiveFrom = Math.max(
      since,
      lastHour !== null ? Math.min(lastHour + RES_1H, hour) : since,
      now - RAW_KEEP_MS,
    );
    const last5 = (this.st.maxBucket.get(RES_5M) as { start: number | null }).start;
    const rawFrom = Math.max(fiveFrom, last5 !== null ? last5 + RES_5M : fiveFrom);
    const one = o.site ? [...new Set([...sites.values()].map((e) => e.host))] : null;
    const buckets = (res: number, from: number, to: number): BucketRow[] =>
      one
        ? one.flatMap((h) => this.st.urlBucketsSite.all(h, o.site, res, from, to) as BucketRow[])
        : (this.st.urlBuckets.all(res, from, to) as BucketRow[]);
    if (one) addBuckets(urls, buckets(RES_1H, bucketFrom, fiveFrom), match);
    else
      for (const [k, u] of this.closedHours(bucketFrom, fiveFrom, `${o.host ?? ''}/${o.site ?? ''}`, match))
        urls.set(k, { ...u, p50: u.p50.slice(), p95: u.p95.slice() });
    addBuckets(urls, buckets(RES_5M, Math.ceil(fiveFrom / RES_5M) * RES_5M, rawFrom), match);
    const raw = (
      one
        ? one.flatMap((h) => this.st.urlRawSite.all(h, o.site, rawFrom, now + 1))
        : this.st.urlRaw.all(rawFrom, now + 1)
    ) as RawUrlRow[];
    for (const [host, site, series, value, ok] of raw) {
      if (!match(host, site)) continue;
      const u = urlOf(urls, host, site, series);
      u.n++;
      if (ok === 1) u.ok++;
      if (value !== null) {
        u.p50.push([value, 1]);
        u.p95.push([value, 1]);
      }
    }
    for (const u of urls.values()) {
      const s: UrlStat = {
        url: u.url,
        checks: u.n,
        failures: u.n - u.ok,
        p50Ms: weightedPercentile(u.p50, 50),
        p95Ms: weightedPercentile(u.p95, 95),
      };
      entry(u.host, u.site).urls.push(s);
    }
    const dies = (
      one
        ? one.flatMap((h) => this.st.dieBucketsSite.all(h, o.site, RES_1H, bucketFrom, rawFrom))
        : this.st.dieBuckets.all(RES_1H, bucketFrom, rawFrom)
    ) as Array<{ host: string; site: string; n: number }>;
    for (const r of dies) if (match(r.host, r.site)) entry(r.host, r.site).containerExits += r.n;
    for (const r of this.st.dieRaw.all(rawFrom, now + 1) as Array<{ host: string; site: string; n: number }>)
      if (match(r.host, r.site)) entry(r.host, r.site).containerExits += r.n;
    // Operations by kind.
    const kinds = new Map<string, { count: number; ok: number; failed: number; durations: number[] }>();
    const opRows = o.site ? this.st.operationsSite.all(o.site, since) : this.st.operations.all(since);
    for (const op of opRows as Array<{
      kind: string;
      host: string | null;
      site: string | null;
      status: string;
      started_at: number | null;
      finished_at: number | null;
    }>) {
      if (o.host && op.host !== o.host) continue;
      if (o.site && op.site !== o.site) continue;
      const k = kinds.get(op.kind) ?? { count: 0, ok: 0, failed: 0, durations: [] };
      k.count++;
      if (op.status === 'succeeded') k.ok++;
      else k.failed++;
      if (op.started_at !== null && op.finished_at !== null) k.durations.push(op.finished_at - op.started_at);
      kinds.set(op.kind, k);
      if (op.kind === 'restart' && op.host && op.site) entry(op.host, op.site).restartOperations++;
    }
    const operations: OperationKindStats[] = [...kinds.entries()]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([kind, k]) => ({
        kind,
        count: k.count,
        succeeded: k.ok,
        failed: k.failed,
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
}
