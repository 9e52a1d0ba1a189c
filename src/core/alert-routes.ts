/**
 * Alert routing (ALERT_ROUTES_FILE): an ordered list of routes, each matching alerts by site,
 * host, severity and kind and sending them to channels; the first match wins unless it says
 * `continue: true`; `default` takes what no route matched (without it: every channel). Routes
 * may tune the thresholds of what they match (`down_after_seconds`, `recover_after_seconds`,
 * `reminder_minutes`). Without a file every alert goes to every configured channel.
 * Pure: the file is read and validated in src/monitor/alert-routes-file.ts.
 */
import { type AlertRecord, ROUTE_KIND_OF, type RouteKind } from './alerts.js';
import type { AlertSeverity } from './live-state.js';

/** What a route matches; every given field must match (a list: any of its values). */
export interface RouteMatch {
  site?: readonly string[];
  host?: readonly string[];
  severity?: readonly AlertSeverity[];
  kind?: readonly RouteKind[];
}

/** One route. */
export interface AlertRoute {
  match: RouteMatch;
  /** Channel names: console, discord, slack, ntfy, email, webhook (every webhook) or webhook:NAME. */
  to: readonly string[];
  continue: boolean;
  downAfterSeconds?: number;
  recoverAfterSeconds?: number;
  reminderMinutes?: number;
  /** Line of the route in the file (for messages). */
  line: number;
}

/** A parsed routes file. */
export interface AlertRoutes {
  routes: readonly AlertRoute[];
  /** Where alerts no route matched go; null: every channel. */
  default: readonly string[] | null;
}

/** Per-alert thresholds a route may set (ms); absent ones keep the global setting. */
export interface RouteTuning {
  downAfterMs?: number;
  recoverAfterMs?: number;
  reminderMs?: number;
}

/** What a route is matched against. */
export interface RouteSubject {
  site: string | null;
  host: string;
  severity: AlertSeverity;
  kind: RouteKind;
}

/** The route subject of an alert. */
export function routeSubject(
  a: Pick<AlertRecord, 'site' | 'host' | 'severity' | 'kind'> & { key?: string },
): RouteSubject {
  return { site: a.site, host: a.host, severity: a.severity, kind: routeKindOf(a) };
}

/** A notice's route kind comes from its key (`notice:update:…`, `notice:auto:…`, `notice:drift:…`). */
function routeKindOf(a: Pick<AlertRecord, 'kind'> & { key?: string }): RouteKind {
  if (a.kind === 'notice') {
    const what = /^notice:([a-z]+):/.exec(a.key ?? '')?.[1];
    if (what === 'update' || what === 'auto') return 'update';
    if (what === 'drift') return 'drift';
  }
  return ROUTE_KIND_OF[a.kind];
}

function matches(m: RouteMatch, s: RouteSubject): boolean {
  if (m.site && (s.site === null || !m.site.includes(s.site))) return false;
  if (m.host && !m.host.includes(s.host)) return false;
  if (m.severity && !m.severity.includes(s.severity)) return false;
  if (m.kind && !m.kind.includes(s.kind)) return false;
  return true;
}

/** `webhook` means every webhook channel; other names stand for themselves. */
function expand(names: readonly string[], channels: readonly string[]): string[] {
  return names.flatMap((n) => (n === 'webhook' ? channels.filter((c) => c.startsWith('webhook:')) : [n]));
}

/** The channels (of `channels`, the configured ones) an alert goes to, in route order. */
export function routeChannels(
  routes: AlertRoutes | null,
  subject: RouteSubject,
  channels: readonly string[],
): string[] {
  if (!routes) return [...channels];
  const out = new Set<string>();
  let matched = false;
  for (const r of routes.routes) {
    if (!matches(r.match, subject)) continue;
    matched = true;
    for (const c of expand(r.to, channels)) out.add(c);
    if (!r.continue) break;
  }
  if (!matched) for (const c of routes.default ? expand(routes.default, channels) : channels) out.add(c);
  return [...out].filter((c) => channels.includes(c));
}

/** The thresholds of the first matching route that sets any (null: the global settings). */
export function routeTuning(routes: AlertRoutes | null, subject: RouteSubject): RouteTuning | null {
  for (const r of routes?.routes ?? []) {
    if (!matches(r.match, subject)) continue;
    const t: RouteTuning = {};
    if (r.downAfterSeconds !== undefined) t.downAfterMs = r.downAfterSeconds * 1000;
    if (r.recoverAfterSeconds !== undefined) t.recoverAfterMs = r.recoverAfterSeconds * 1000;
    if (r.reminderMinutes !== undefined) t.reminderMs = r.reminderMinutes * 60_000;
    if (Object.keys(t).length) return t;
    if (!r.continue) return null;
  }
  return null;
}

/** The effective routing as lines of text (`/alerts routes`). */
export function describeRoutes(routes: AlertRoutes | null, channels: readonly string[]): string[] {
  const list = (names: readonly string[]) => {
    const exp = expand(names, channels);
    return exp.length
      ? exp.map((c) => (channels.includes(c) ? c : `${c} (not configured)`)).join(', ')
      : '(none)';
  };
  if (!routes) return [`No ALERT_ROUTES_FILE: every alert goes to every channel: ${list(channels)}.`];
  const out = routes.routes.map((r, i) => {
    const m = Object.entries(r.match)
      .map(([k, v]) => `${k}=${(v as string[]).join('|')}`)
      .join(' ');
    const tune = [
      r.downAfterSeconds !== undefined ? `down after ${r.downAfterSeconds}s` : '',
      r.recoverAfterSeconds !== undefined ? `recover after ${r.recoverAfterSeconds}s` : '',
      r.reminderMinutes !== undefined ? `remind every ${r.reminderMinutes}m` : '',
    ].filter(Boolean);
    return `${i + 1}. ${m || 'every alert'} -> ${list(r.to)}${r.continue ? ' (then continue)' : ''}${tune.length ? `; ${tune.join(', ')}` : ''}`;
  });
  out.push(`otherwise -> ${list(routes.default ?? channels)}`);
  return out;
}
