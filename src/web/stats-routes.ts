/**
 * `/stats` (page) and `/api/stats` (JSON): uptime, incidents, URL latency, restarts and
 * operations statistics from the history store. Query: `site` (`name` or `host/name`) and
 * `since` (a duration ago such as `24h` or `7d`; default 24 h).
 */
import express, { type Request } from 'express';
import { parseDuration, SITE_RE } from '../core/command.js';
import { formatDuration, formatTime } from '../core/format.js';
import type { Clock } from '../core/ports.js';
import { formatPercent, type StatsReport, type StatsSource } from '../core/stats.js';

const DAY = 86_400_000;
const MAX_SINCE = 366 * DAY;

/** The parsed query of a stats request. */
export interface StatsQuery {
  since: number;
  now: number;
  host: string | null;
  site: string | null;
  /** As given (for links and the form). */
  sinceText: string;
  siteText: string;
}

/** Reads `site` and `since`; throws a 400 error with what is wrong. */
export function statsQuery(req: Request, clock: Clock): StatsQuery {
  const now = clock.now();
  const q = req.query as Record<string, string | undefined>;
  const sinceText = (q.since ?? '24h').trim() || '24h';
  const d = parseDuration(sinceText);
  if (!d.ok || d.value <= 0 || d.value > MAX_SINCE)
    throw Object.assign(new Error('"since" is a duration ago such as 24h, 7d or 30d (at most 366d).'), {
      status: 400,
    });
  const siteText = (q.site ?? '').trim();
  let host: string | null = null;
  let site: string | null = null;
  if (siteText) {
    const m = SITE_RE.exec(siteText);
    if (!m) throw Object.assign(new Error('"site" is a site name or host/name.'), { status: 400 });
    host = m[1] ?? null;
    site = m[2]!;
  }
  return { since: now - d.value, now, host, site, sinceText, siteText };
}

/** The report for a parsed query. */
export function readStats(source: StatsSource, q: StatsQuery): StatsReport {
  return source.stats({ since: q.since, now: q.now, host: q.host, site: q.site });
}

const WINDOWS = ['1h', '24h', '7d', '30d', '90d'];

/** The /stats page's template context. */
export function statsPageContext(r: StatsReport, q: StatsQuery) {
  return {
    title: 'Statistics',
    nav: { stats: true },
    query: { site: q.siteText },
    windows: [...new Set([...WINDOWS, q.sinceText])].map((w) => ({
      value: w,
      label: `last ${w}`,
      selected: w === q.sinceText,
    })),
    since: formatTime(r.since),
    generated: formatTime(r.until),
    operations: r.operations.map((o) => ({
      kind: o.kind,
      count: o.count,
      succeeded: o.succeeded,
      rate: formatPercent(o.successRate),
      avg: formatDuration(o.avgMs),
      p95: formatDuration(o.p95Ms),
    })),
    sites: r.sites.map((s) => ({
      key: `${s.host}/${s.site}`,
      u24: formatPercent(s.uptime['24h']),
      u7: formatPercent(s.uptime['7d']),
      u30: formatPercent(s.uptime['30d']),
      incidents: s.incidents.length,
      latency: s.urls.length
        ? s.urls.map((u) => `${formatDuration(u.p50Ms)} / ${formatDuration(u.p95Ms)}`).join(', ')
        : '-',
      exits: s.containerExits,
      restarts: s.restartOperations,
    })),
    incidents: r.sites
      .flatMap((s) => s.incidents.map((i) => ({ s, i })))
      .sort((a, b) => b.i.openedAt - a.i.openedAt)
      .slice(0, 100)
      .map(({ s, i }) => ({
        iso: new Date(i.openedAt).toISOString(),
        time: formatTime(i.openedAt),
        site: `${s.host}/${s.site}`,
        title: i.title,
        duration: `${formatDuration(i.durationMs)}${i.resolvedAt === null ? ' (ongoing)' : ''}`,
      })),
  };
}

/** `/stats` (rendered by `page`) and `/api/stats`. */
export function statsRouter(
  source: StatsSource,
  clock: Clock,
  page: (ctx: ReturnType<typeof statsPageContext>) => string,
): express.Router {
  const r = express.Router();
  r.get('/api/stats', (req, res) => {
    res.set('Cache-Control', 'no-store').json(readStats(source, statsQuery(req, clock)));
  });
  r.get('/stats', (req, res) => {
    const q = statsQuery(req, clock);
    res
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(page(statsPageContext(readStats(source, q), q)));
  });
  return r;
}
