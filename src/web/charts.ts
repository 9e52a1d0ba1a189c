/**
 * The page's charts, drawn as SVG on the server (no chart framework, no script): a 30-day
 * uptime bar and a 24-hour latency sparkline per site. Each SVG is an image with a text
 * alternative (`role="img"` + `aria-label`) and per-day `<title>`s; colours come from the
 * page's CSS variables, so dark mode and contrast follow the stylesheet. This module makes
 * the values; views/partials/charts.hbs draws them (escaped like every other value).
 */
import { formatPercent } from '../core/stats.js';

const DAY = 86_400_000;

/** What the charts of one site read. */
export interface ChartSource {
  dailyUptime(host: string, site: string, now: number, days?: number): Array<number | null>;
  latency24h(host: string, site: string, now: number): Array<{ at: number; ms: number }>;
}

/** The charts of one site, as plain values for the `charts` partial (which escapes each). */
export interface SiteCharts {
  uptime: { width: number; label: string; cells: Array<{ x: number; tone: string; title: string }> };
  latency: { width: number; height: number; label: string; points: string | null };
}

const CELL = 4;
const GAP = 1;

function toneOf(p: number | null): string {
  if (p === null) return 'none';
  if (p >= 99.9) return 'good';
  if (p >= 95) return 'warn';
  return 'bad';
}

/** One cell per day (oldest first), coloured by that day's uptime, with its text alternative. */
export function uptimeBar(days: ReadonlyArray<number | null>, now: number): SiteCharts['uptime'] {
  const n = days.length;
  const seen = days.filter((d): d is number => d !== null);
  const avg = seen.length ? seen.reduce((a, b) => a + b, 0) / seen.length : null;
  const below = seen.filter((d) => d < 99.9).length;
  const label =
    avg === null
      ? `Uptime, last ${n} days: no data yet.`
      : `Uptime, last ${n} days: ${formatPercent(avg)} on average over ${seen.length} day${seen.length === 1 ? '' : 's'} with data${below ? `, ${below} below 99.9%` : ''}.`;
  const start = Math.floor(now / DAY) * DAY - (n - 1) * DAY;
  return {
    width: n * (CELL + GAP) - GAP,
    label,
    cells: days.map((d, i) => ({
      x: i * (CELL + GAP),
      tone: toneOf(d),
      title: `${new Date(start + i * DAY).toISOString().slice(0, 10)}: ${d === null ? 'no data' : formatPercent(d)}`,
    })),
  };
}

/** A sparkline of median latency over the last 24 h (`points` null below 2 points). */
export function latencySpark(
  points: ReadonlyArray<{ at: number; ms: number }>,
  now: number,
): SiteCharts['latency'] {
  const width = 150;
  const height = 24;
  if (points.length < 2)
    return { width, height, label: 'Latency, last 24 h: not enough checks yet.', points: null };
  const max = Math.max(...points.map((p) => p.ms), 1);
  const from = now - DAY;
  const xy = points.map((p) => {
    const x = Math.max(0, Math.min(width, ((p.at - from) / DAY) * width));
    const y = height - 2 - (p.ms / max) * (height - 4);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const sorted = points.map((p) => p.ms).sort((a, b) => a - b);
  const med = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return {
    width,
    height,
    label: `Latency, last 24 h: median ${Math.round(med)} ms, highest ${Math.round(max)} ms.`,
    points: xy.join(' '),
  };
}

/** Both charts of a site. */
export function siteCharts(src: ChartSource, host: string, site: string, now: number): SiteCharts {
  return {
    uptime: uptimeBar(src.dailyUptime(host, site, now, 30), now),
    latency: latencySpark(src.latency24h(host, site, now), now),
  };
}
