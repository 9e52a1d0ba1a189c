/**
 * History statistics, the pure part: uptime from a site's state changes, weighted percentiles
 * (latency from hourly buckets), and the shapes `/stats`, `/api/stats` and the page show.
 */

/** A site's health as visitors see it, recorded on every change. */
export type HealthState = 'up' | 'degraded' | 'down' | 'stopped' | 'empty' | 'gone';

/** One recorded change. */
export interface StateChangePoint {
  at: number;
  state: HealthState | string;
}

/** Time in each state over a window. */
export interface UptimeResult {
  /** Percent of the observed time the site was up; null when it was never observed (or only stopped). */
  percent: number | null;
  upMs: number;
  /** Time it was observed and meant to run (stopped, empty and gone do not count). */
  observedMs: number;
}

const COUNTED = new Set(['up', 'degraded', 'down']);

/**
 * Uptime over [from, to): `before` is the last change before `from` (null when none), `changes`
 * the changes inside the window in time order. Degraded counts as up (the site still answers);
 * stopped, empty and gone are not counted at all (nobody meant it to run).
 */
export function uptime(
  before: StateChangePoint | null,
  changes: readonly StateChangePoint[],
  from: number,
  to: number,
): UptimeResult {
  let upMs = 0;
  let observedMs = 0;
  let state: string | null = before?.state ?? null;
  let since = from;
  const close = (until: number) => {
    if (state === null || until <= since) return;
    if (COUNTED.has(state)) {
      observedMs += until - since;
      if (state !== 'down') upMs += until - since;
    }
  };
  for (const c of changes) {
    const at = Math.min(Math.max(c.at, from), to);
    close(at);
    state = c.state;
    since = at;
  }
  close(to);
  return { percent: observedMs > 0 ? (upMs / observedMs) * 100 : null, upMs, observedMs };
}

/** Nearest-rank weighted percentile (p 0..100) of values with weights; null for none. */
export function weightedPercentile(
  xs: ReadonlyArray<readonly [value: number, weight: number]>,
  p: number,
): number | null {
  const items = xs.filter(([v, w]) => Number.isFinite(v) && w > 0).sort((a, b) => a[0] - b[0]);
  const total = items.reduce((s, [, w]) => s + w, 0);
  if (!total) return null;
  const rank = (p / 100) * total;
  let acc = 0;
  for (const [v, w] of items) {
    acc += w;
    if (acc >= rank) return v;
  }
  return items.at(-1)![0];
}

/** One incident (a site alert) in the window. */
export interface IncidentStat {
  alertId: string;
  title: string;
  openedAt: number;
  resolvedAt: number | null;
  durationMs: number;
}

/** Latency of one URL over the window. */
export interface UrlStat {
  url: string;
  checks: number;
  failures: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** Everything /stats shows for one site. */
export interface SiteStats {
  host: string;
  site: string;
  uptime: { '24h': number | null; '7d': number | null; '30d': number | null };
  incidents: IncidentStat[];
  urls: UrlStat[];
  /** Containers of the site that exited (crashed or were restarted by Docker) in the window. */
  containerExits: number;
  /** SiteFlow restart operations in the window. */
  restartOperations: number;
}

/** Operations of one kind over the window. */
export interface OperationKindStats {
  kind: string;
  count: number;
  succeeded: number;
  failed: number;
  /** succeeded / finished, in percent; null when none finished. */
  successRate: number | null;
  avgMs: number | null;
  p95Ms: number | null;
}

/** The whole answer of /stats and /api/stats. */
export interface StatsReport {
  since: number;
  until: number;
  sites: SiteStats[];
  operations: OperationKindStats[];
}

/** `97.25%`, or `n/a`. */
export function formatPercent(p: number | null): string {
  if (p === null) return 'n/a';
  if (p >= 99.995) return '100%';
  return `${p.toFixed(2)}%`;
}

/** What /stats and /api/stats read (the SQLite history store implements it). */
export interface StatsSource {
  stats(o: { since: number; now: number; host?: string | null; site?: string | null }): StatsReport;
}
