/**
 * Pure view models of the status page and its JSON API, built from a LiveSnapshot and stored
 * operations. Everything shown is chosen here: container environment never exists in the
 * state, and of a container's labels only a short list of descriptive ones is shown (labels
 * often carry credentials, e.g. reverse-proxy basic-auth hashes). Every string is still
 * untrusted and is escaped by the templates.
 */

import { createHash } from 'node:crypto';
import { formatAgo, formatDuration, formatTime } from '../core/format.js';
import type {
  BackupStatus,
  LiveAlert,
  LiveContainer,
  LiveHost,
  LiveSilence,
  LiveSite,
  LiveSnapshot,
} from '../core/live-state.js';
import type { AuditEntry, Operation } from '../core/ports.js';
import { type ChartSource, type SiteCharts, siteCharts } from './charts.js';

/** Labels shown on the page (descriptive, never credentials). */
export const SHOWN_LABELS = [
  'siteflow.description',
  'org.opencontainers.image.title',
  'org.opencontainers.image.description',
  'org.opencontainers.image.version',
] as const;

const ids = new Map<string, string>();
/** A stable, HTML-id-safe id for any (untrusted) key. */
export function domId(prefix: string, key: string): string {
  const k = `${prefix}:${key}`;
  let id = ids.get(k);
  if (!id) {
    if (ids.size > 50_000) ids.clear();
    id = `${prefix}-${createHash('sha1').update(key).digest('hex').slice(0, 12)}`;
    ids.set(k, id);
  }
  return id;
}

/** A meter value and its text. */
export interface MeterVM {
  value: number;
  text: string;
  high: boolean;
}

/** One container row. */
export interface ContainerVM {
  domId: string;
  id: string;
  shortId: string;
  name: string;
  service: string | null;
  image: string;
  state: string;
  status: string;
  /** `bad` statuses turn red. */
  tone: 'good' | 'warn' | 'bad' | 'muted';
  health: string | null;
  restartCount: number;
  restartPolicy: string;
  startedAt: number | null;
  since: string | null;
  cpu: MeterVM | null;
  memory: MeterVM | null;
  ports: string[];
  labels: Array<{ key: string; value: string }>;
}

/** A backup badge. */
export interface BackupVM {
  state: string;
  tone: 'good' | 'warn' | 'bad' | 'muted';
  text: string;
  title: string;
}

/** One site card. */
export interface SiteVM {
  key: string;
  domId: string;
  host: string;
  name: string;
  state: string;
  tone: 'good' | 'warn' | 'bad' | 'muted';
  up: number;
  total: number;
  containers: ContainerVM[];
  backup: BackupVM;
  alerts: number;
  /** Drifted services as `web (compose file or .env changed)`; empty when none. */
  drift: string;
  /** 30-day uptime bar and 24-hour latency sparkline (null without history). */
  charts: SiteCharts | null;
}

/** One host section. */
export interface HostVM {
  name: string;
  domId: string;
  reachable: boolean | null;
  reason: string | null;
  tone: 'good' | 'bad' | 'muted';
  stateText: string;
  sites: SiteVM[];
}

/** One operation row. */
export interface OperationVM {
  id: string;
  kind: string;
  target: string;
  status: string;
  tone: 'good' | 'warn' | 'bad' | 'muted';
  by: string;
  platform: string;
  createdAt: number;
  iso: string;
  time: string;
  ago: string;
  duration: string;
  error: string | null;
  href: string;
}

/** Tone of any status word. */
export function toneOf(status: string): 'good' | 'warn' | 'bad' | 'muted' {
  switch (status) {
    case 'up':
    case 'healthy':
    case 'fresh':
    case 'succeeded':
    case 'ok':
      return 'good';
    case 'degraded':
    case 'starting':
    case 'restarting':
    case 'paused':
    case 'stale':
    case 'running':
    case 'queued':
    case 'warning':
    case 'cancelled':
    case 'rejected':
    case 'denied':
      return 'warn';
    case 'down':
    case 'unhealthy':
    case 'missing':
    case 'error':
    case 'failed':
    case 'timed_out':
    case 'interrupted':
    case 'critical':
      return 'bad';
    default:
      return 'muted';
  }
}

/** Binary units: 512 B, 12.3 MiB. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

function portText(p: LiveContainer['ports'][number]): string {
  return p.hostPort !== null
    ? `${p.host ?? ''}${p.host ? ':' : ''}${p.hostPort}→${p.containerPort}/${p.protocol}`
    : `${p.containerPort}/${p.protocol}`;
}

/** The view of one container. */
export function containerVM(host: string, c: LiveContainer, now: number): ContainerVM {
  const running = c.state === 'running';
  const s = running ? c.stats : null;
  return {
    domId: domId('c', `${host}/${c.id}`),
    id: c.id,
    shortId: c.id.slice(0, 12),
    name: c.name,
    service: c.service,
    image: c.image,
    state: c.state,
    status: c.status,
    tone: toneOf(c.status),
    health: c.health,
    restartCount: c.restartCount,
    restartPolicy: c.restartPolicy,
    startedAt: c.startedAt,
    since:
      running && c.startedAt
        ? `up ${formatAgo(c.startedAt, now).replace(' ago', '')}`
        : c.finishedAt
          ? `exited ${formatAgo(c.finishedAt, now)}${c.exitCode !== null ? ` (code ${c.exitCode})` : ''}`
          : null,
    cpu: s
      ? {
          value: Math.min(1, Math.max(0, s.cpuPercent / 100)),
          text: `${s.cpuPercent.toFixed(1)}%`,
          high: s.cpuPercent >= 80,
        }
      : null,
    memory: s
      ? {
          value: Math.min(1, Math.max(0, s.memoryPercent / 100)),
          text: `${formatBytes(s.memoryBytes)} / ${formatBytes(s.memoryLimitBytes)}`,
          high: s.memoryPercent >= 80,
        }
      : null,
    ports: c.ports.map(portText),
    labels: SHOWN_LABELS.filter((k) => c.labels[k] !== undefined).map((k) => ({
      key: k,
      value: c.labels[k]!,
    })),
  };
}

/** The badge of a backup status slot. */
export function backupVM(b: BackupStatus | null, now: number): BackupVM {
  if (!b) return { state: 'unknown', tone: 'muted', text: 'backup: not checked', title: 'Not checked yet' };
  const age = b.newestAt !== null ? formatAgo(b.newestAt, now) : null;
  const size = b.sizeBytes !== null ? `, ${formatBytes(b.sizeBytes)}` : '';
  const text =
    b.state === 'fresh' || b.state === 'stale'
      ? `backup ${b.state}${age ? ` · ${age}` : ''}`
      : `backup ${b.state}`;
  const title = `${b.message ?? `Backup ${b.state}`}${age ? ` (newest ${age}${size})` : ''}; checked ${formatAgo(b.checkedAt, now)}`;
  return { state: b.state, tone: toneOf(b.state), text, title };
}

/** The view of one site. */
export function siteVM(
  s: LiveSite,
  now: number,
  alerts: readonly LiveAlert[] = [],
  charts?: ChartSource,
): SiteVM {
  const containers = s.containers.map((c) => containerVM(s.host, c, now));
  return {
    key: s.key,
    domId: domId('s', s.key),
    host: s.host,
    name: s.name,
    state: s.state,
    tone: toneOf(s.state),
    up: s.containers.filter((c) => c.status === 'up' || c.status === 'completed').length,
    total: s.containers.length,
    containers,
    backup: backupVM(s.backup, now),
    alerts: alerts.filter((a) => a.host === s.host && a.site === s.name).length,
    drift: Object.entries(s.drift ?? {})
      .map(([svc, why]) => `${svc} (${why})`)
      .join(', '),
    charts: charts ? siteCharts(charts, s.host, s.name, now) : null,
  };
}

/** The view of one host. */
export function hostVM(
  h: LiveHost,
  now: number,
  alerts: readonly LiveAlert[] = [],
  charts?: ChartSource,
): HostVM {
  return {
    name: h.name,
    domId: domId('h', h.name),
    reachable: h.reachable,
    reason: h.reason,
    tone: h.reachable === null ? 'muted' : h.reachable ? 'good' : 'bad',
    stateText: h.reachable === null ? 'not checked yet' : h.reachable ? 'reachable' : 'not reachable',
    sites: h.sites.map((s) => siteVM(s, now, alerts, charts)),
  };
}

/** The view of one operation. */
export function operationVM(op: Operation, now: number): OperationVM {
  const end = op.finishedAt ?? (op.status === 'running' ? now : null);
  return {
    id: op.id,
    kind: op.kind,
    target: op.site ? `${op.host ?? ''}${op.host ? '/' : ''}${op.site}` : (op.host ?? '-'),
    status: op.status,
    tone: toneOf(op.status),
    by: op.requestedBy.name,
    platform: op.requestedBy.platform,
    createdAt: op.createdAt,
    iso: new Date(op.createdAt).toISOString(),
    time: formatTime(op.createdAt),
    ago: formatAgo(op.createdAt, now),
    duration: end !== null ? formatDuration(end - (op.startedAt ?? op.createdAt)) : '-',
    error: op.error,
    href: `/runs/${encodeURIComponent(op.id)}`,
  };
}

/** Counts for the summary bar and /metrics. */
export interface Summary {
  hosts: number;
  hostsDown: number;
  sites: number;
  sitesByState: Record<string, number>;
  containers: number;
  containersByStatus: Record<string, number>;
  alerts: number;
  silences: number;
}

/** Counts over a snapshot. */
export function summarize(snap: LiveSnapshot): Summary {
  const sitesByState: Record<string, number> = {};
  const containersByStatus: Record<string, number> = {};
  let sites = 0;
  let containers = 0;
  for (const h of snap.hosts) {
    for (const s of h.sites) {
      sites++;
      sitesByState[s.state] = (sitesByState[s.state] ?? 0) + 1;
      for (const c of s.containers) {
        containers++;
        containersByStatus[c.status] = (containersByStatus[c.status] ?? 0) + 1;
      }
    }
  }
  return {
    hosts: snap.hosts.length,
    hostsDown: snap.hosts.filter((h) => h.reachable === false).length,
    sites,
    sitesByState,
    containers,
    containersByStatus,
    alerts: snap.alerts.length,
    silences: snap.silences.length,
  };
}

/** The summary as tiles. */
export function summaryTiles(sum: Summary): Array<{ label: string; value: string; tone: string }> {
  const bad = (sum.sitesByState.down ?? 0) + (sum.sitesByState.degraded ?? 0);
  const upC = (sum.containersByStatus.up ?? 0) + (sum.containersByStatus.completed ?? 0);
  return [
    { label: 'Sites', value: String(sum.sites), tone: 'muted' },
    {
      label: 'Sites up',
      value: `${sum.sitesByState.up ?? 0}/${sum.sites}`,
      tone: bad ? 'bad' : 'good',
    },
    {
      label: 'Containers up',
      value: `${upC}/${sum.containers}`,
      tone: upC < sum.containers ? 'warn' : 'good',
    },
    { label: 'Open alerts', value: String(sum.alerts), tone: sum.alerts ? 'bad' : 'good' },
    {
      label: 'Hosts reachable',
      value: `${sum.hosts - sum.hostsDown}/${sum.hosts}`,
      tone: sum.hostsDown ? 'bad' : 'good',
    },
  ];
}

/** The alert list view. */
export function alertsVM(alerts: readonly LiveAlert[], silences: readonly LiveSilence[], now: number) {
  return {
    alerts: alerts.map((a) => ({
      ...a,
      tone: toneOf(a.severity),
      where: [a.host, a.site, a.container].filter(Boolean).join('/'),
      ago: formatAgo(a.since, now),
      iso: new Date(a.since).toISOString(),
    })),
    silences: silences.map((s) => ({
      ...s,
      where: [s.host, s.site].filter(Boolean).join('/') || 'everything',
      until: formatTime(s.until),
      iso: new Date(s.until).toISOString(),
    })),
  };
}

/** The JSON of one container for /api/status (the same fields the page shows). */
export function containerJson(c: LiveContainer) {
  return {
    id: c.id,
    name: c.name,
    service: c.service,
    image: c.image,
    state: c.state,
    status: c.status,
    health: c.health,
    exitCode: c.exitCode,
    restartCount: c.restartCount,
    restartPolicy: c.restartPolicy,
    startedAt: c.startedAt,
    finishedAt: c.finishedAt,
    ports: c.ports,
    labels: Object.fromEntries(
      SHOWN_LABELS.filter((k) => c.labels[k] !== undefined).map((k) => [k, c.labels[k]]),
    ),
    cpuPercent: c.state === 'running' ? (c.stats?.cpuPercent ?? null) : null,
    memoryBytes: c.state === 'running' ? (c.stats?.memoryBytes ?? null) : null,
    memoryLimitBytes: c.state === 'running' ? (c.stats?.memoryLimitBytes ?? null) : null,
  };
}

/** The JSON of one site for /api/status and the live stream. */
export function siteJson(s: LiveSite) {
  return {
    host: s.host,
    name: s.name,
    state: s.state,
    backup: s.backup,
    containers: s.containers.map((c) => ({
      ...containerJson(c),
      drift: c.service !== null && s.drift?.[c.service] !== undefined,
    })),
  };
}

/** The JSON of an operation (no log path, no internal fields). */
export function operationJson(op: Operation) {
  return {
    id: op.id,
    kind: op.kind,
    host: op.host,
    site: op.site,
    args: op.args,
    requestedBy: op.requestedBy,
    status: op.status,
    createdAt: op.createdAt,
    startedAt: op.startedAt,
    finishedAt: op.finishedAt,
    exitCode: op.exitCode,
    error: op.error,
  };
}

/** One audit row view. */
export function auditVM(e: AuditEntry, now: number) {
  return {
    id: e.id,
    iso: new Date(e.at).toISOString(),
    time: formatTime(e.at),
    ago: formatAgo(e.at, now),
    actor: e.actor.name,
    actorId: e.actor.id,
    platform: e.actor.platform,
    action: e.action,
    target: e.site ? `${e.host ?? ''}${e.host ? '/' : ''}${e.site}` : (e.host ?? '-'),
    outcome: e.outcome,
    tone: toneOf(e.outcome),
    duration: formatDuration(e.durationMs),
    operationId: e.operationId,
    href: e.operationId ? `/runs/${encodeURIComponent(e.operationId)}` : null,
    details: summarizeDetails(e.details),
  };
}

function summarizeDetails(d: Record<string, unknown>): string {
  const parts: string[] = [];
  const args = d.args;
  if (args && typeof args === 'object') {
    for (const [k, v] of Object.entries(args as Record<string, unknown>)) {
      if (v === undefined || v === null || v === '') continue;
      parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    }
  }
  if (typeof d.error === 'string') parts.push(d.error);
  if (typeof d.reason === 'string') parts.push(d.reason);
  const s = parts.join(' · ');
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
}
