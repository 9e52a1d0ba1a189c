/**
 * `/stats` (page) and `/api/stats` (JSON): uptime, incidents, URL latency, restarts and
 * operations statistics from the history store. Query: `site` (`name` or `host/name`) and
 * `since` (a duration ago such as `24h` or `7d`; default 24 h).
 */
import express, { type Request } from 'express';
import { parseDuration, SITE_RE } from '../core/command.js';
import type { Clock } from '../core/ports.js';
import type { StatsReport, StatsSource } from '../core/stats.js';

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

/** The JSON route (the page route is mounted with the other pages). */
export function statsApiRouter(source: StatsSource, clock: Clock): express.Router {
  const r = express.Router();
  r.get('/api/stats', (req, res) => {
    res.set('Cache-Control', 'no-store').json(readStats(source, statsQuery(req, clock)));
  });
  return r;
}
