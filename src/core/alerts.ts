/**
 * Alerts: the record the monitor keeps for each alert, the `AlertChannel` port chat surfaces
 * implement to deliver them, the platform-neutral buttons (mapped by surfaces to dispatches
 * of /restart, /logs, /silence and /ack, so they run under the same permissions and audit),
 * and the `BackupAlertSink` the NAS backup checker reports freshness changes through.
 * Types and pure helpers only.
 */
import { SiteFlowError } from './errors.js';
import type { AlertSeverity, BackupState } from './live-state.js';

/** What an alert is about. */
export type AlertKind =
  /** A site is down or degraded (its failing containers are its children). */
  | 'site'
  /** A host's engine does not answer (its sites are its children). */
  | 'host'
  /** Many sites of one host changed within seconds: one incident, the sites in its thread. */
  | 'storm'
  /** A site's newest NAS backup is stale, missing or cannot be checked. */
  | 'backup'
  /** An https URL's certificate expires soon (once at TLS_WARN_DAYS, again at 3 days). */
  | 'certificate'
  /** SiteFlow's own DATA_DIR is (nearly) full, or a host's disk is above HOST_DISK_ALERT_PERCENT. */
  | 'disk'
  /** A container's CPU or memory stayed above its `siteflow.alerts.cpu`/`.memory` label's threshold for the whole window. */
  | 'resource'
  /** Something SiteFlow did or found that people should know once (a failed pull, rolled back): no reminders. */
  | 'notice';

/**
 * What an alert is about, as routes match it (`match.kind` in ALERT_ROUTES_FILE). New alert
 * kinds add a value here and map to it in {@link ROUTE_KIND_OF}.
 */
export const ROUTE_KINDS = [
  'container',
  'url',
  'certificate',
  'host',
  'backup',
  'update',
  'drift',
  'disk',
  'resource',
] as const;
/** One of {@link ROUTE_KINDS}. */
export type RouteKind = (typeof ROUTE_KINDS)[number];

/** The route kind of each alert kind (a storm is many sites' containers failing at once). */
export const ROUTE_KIND_OF: Record<AlertKind, RouteKind> = {
  site: 'container',
  storm: 'container',
  host: 'host',
  backup: 'backup',
  certificate: 'certificate',
  disk: 'disk',
  resource: 'resource',
  // Refined by the notice's key in routeSubject (update, drift); a failed pull's notice is about containers.
  notice: 'container',
};

/** Lifecycle of an alert. */
export type AlertStatus = 'open' | 'resolved';

/** One alert, as stored and as handed to channels. */
export interface AlertRecord {
  /** `al_` + random; stable across restarts. */
  id: string;
  kind: AlertKind;
  /** Dedupe key: at most one open alert per key (`site:host/name`, `host:host`, ...). */
  key: string;
  severity: AlertSeverity;
  status: AlertStatus;
  host: string;
  site: string | null;
  /** One line, e.g. `blog is down`. */
  title: string;
  /** Detail lines (container states, reasons); never a secret. */
  lines: string[];
  /** True when its opening fell under a silence: recorded, not posted. */
  silenced: boolean;
  /** The incident this alert is listed under (posted as a reply in the incident's thread). */
  parentId: string | null;
  openedAt: number;
  updatedAt: number;
  resolvedAt: number | null;
  ackedBy: string | null;
  /** Epoch ms of the last reminder (or of the opening). */
  remindedAt: number;
  /** True once it was handed to the channels (posted); false while silenced. */
  announced: boolean;
  /**
   * Why it broke, for people: per failing container its exit code, whether it was OOM-killed,
   * its memory limit, the last failing healthcheck output and its last log lines (masked and
   * clamped). Shown in the thread on chat channels, in the body of notifications.
   */
  context?: string[];
}

/** Buttons under an alert. */
export const ALERT_ACTIONS = ['restart', 'logs', 'silence', 'ack', 'up', 'pull', 'skip'] as const;
/** One kind of alert button. */
export type AlertAction = (typeof ALERT_ACTIONS)[number];
const ACTION_ALT = ALERT_ACTIONS.join('|');

/** One button, platform-neutral: a surface shows `label` and dispatches `command` with `args`. */
export interface AlertButton {
  action: AlertAction;
  label: string;
  command: string;
  args: Record<string, string>;
}

/** The buttons an alert offers (site alerts: all four; host/storm: silence and ack). */
export function alertButtons(
  a: Pick<AlertRecord, 'id' | 'kind' | 'host' | 'site' | 'status'> & { key?: string },
): AlertButton[] {
  if (a.status !== 'open') return [];
  const target = a.site ? `${a.host}/${a.site}` : a.host;
  const out: AlertButton[] = [];
  if (a.kind === 'site' && a.site) {
    out.push({ action: 'restart', label: 'Restart', command: 'restart', args: { site: target } });
    out.push({ action: 'logs', label: 'Logs', command: 'logs', args: { site: target } });
  }
  if (a.kind === 'notice') {
    // An update notice (key `notice:update:host/site/service@digest`): Pull, Skip this version, Logs.
    const update = a.site ? /^notice:update:[^/]+\/[^/]+\/([^@]+)@/.exec(a.key ?? '') : null;
    if (update) {
      const service = update[1]!;
      out.push({ action: 'pull', label: 'Pull', command: 'pull', args: { site: target, service } });
      out.push({ action: 'skip', label: 'Skip this version', command: 'ack', args: { alert: a.id } });
      out.push({ action: 'logs', label: 'Logs', command: 'logs', args: { site: target, service } });
      return out;
    }
    // A drift notice offers to apply the compose file (its key is `notice:drift:host/site`).
    if (a.site && a.key?.startsWith('notice:drift:'))
      out.push({ action: 'up', label: 'Up', command: 'up', args: { site: target } });
    else if (a.site) out.push({ action: 'logs', label: 'Logs', command: 'logs', args: { site: target } });
    out.push({ action: 'ack', label: 'Ack', command: 'ack', args: { alert: a.id } });
    return out;
  }
  out.push({ action: 'silence', label: 'Silence 1h', command: 'silence', args: { target, duration: '1h' } });
  out.push({ action: 'ack', label: 'Ack', command: 'ack', args: { alert: a.id } });
  return out;
}

/** The command a button of `alert` dispatches, or null when it offers no such button. */
export function alertActionCommand(
  alert: Pick<AlertRecord, 'id' | 'kind' | 'host' | 'site' | 'status'> & { key?: string },
  action: string,
): { command: string; args: Record<string, string> } | null {
  const b = alertButtons({ ...alert, status: 'open' }).find((x) => x.action === action);
  return b ? { command: b.command, args: b.args } : null;
}

/** Discord custom id of an alert button: `sf:alert:<action>:<alertId>`. */
export function alertCustomId(action: AlertAction, alertId: string): string {
  return `sf:alert:${action}:${alertId}`;
}

/** Parses a Discord custom id made by {@link alertCustomId}; null for anything else. */
export function parseAlertCustomId(id: string): { action: AlertAction; alertId: string } | null {
  const m = new RegExp(`^sf:alert:(${ACTION_ALT}):(al_[0-9a-z]{1,40})$`).exec(id);
  return m ? { action: m[1] as AlertAction, alertId: m[2]! } : null;
}

/** Slack action_id of an alert button (`sf_alert_<action>`; the value is the alert id). */
export function alertSlackActionId(action: AlertAction): string {
  return `sf_alert_${action}`;
}

/** Parses a Slack action_id made by {@link alertSlackActionId}. */
export function parseAlertSlackActionId(id: string): AlertAction | null {
  const m = new RegExp(`^sf_alert_(${ACTION_ALT})$`).exec(id);
  return m ? (m[1] as AlertAction) : null;
}

/** Where a delivered alert lives on one channel (opaque to the monitor; JSON-serializable). */
export type AlertRef = Record<string, string>;

/** What a channel learns about the delivery it is asked to make. */
export interface DeliveryContext {
  /** Unique per queued delivery and stable across its retries (webhooks send it as X-SiteFlow-Delivery). */
  deliveryId: string;
}

/**
 * A place alerts are delivered to (console, a Discord or Slack channel, a webhook, ntfy, email).
 * Every method throws when delivery failed, preferably a {@link SiteFlowError} with one of the
 * {@link DeliveryErrorCode}s (anything else counts as retryable); the delivery queue keeps the
 * job and retries with backoff, or gives it up when the code says it can never succeed.
 */
export interface AlertChannel {
  /** Unique, stable name (the delivery queue is persisted per channel), e.g. `console`, `webhook:shop`. */
  readonly name: string;
  /**
   * False for notification channels (webhook, ntfy, email): each alert is one notification,
   * updates are new notifications and there is no thread, so thread replies, incident
   * children and message take-overs are not delivered to them. Chat channels leave it unset.
   */
  readonly threaded?: boolean;
  /** Posts a new alert message with its buttons; returns where it lives. */
  post(alert: AlertRecord, ctx?: DeliveryContext): Promise<AlertRef>;
  /** Answers an alert in its thread. */
  reply(ref: AlertRef, text: string, ctx?: DeliveryContext): Promise<void>;
  /** Edits the alert message to show its current state (buttons removed once resolved). */
  update(ref: AlertRef, alert: AlertRecord, ctx?: DeliveryContext): Promise<void>;
}

/**
 * Codes of delivery failures: `ALERT_DELIVERY_RETRY` may go away (5xx, 408, 429, timeouts, the
 * network), `ALERT_DELIVERY_FAILED` never will (a 4xx, a refused request) and is given up and
 * audited, `ALERT_DELIVERY_GONE` says the message, thread or channel it targets no longer exists.
 */
export type DeliveryErrorCode = 'ALERT_DELIVERY_RETRY' | 'ALERT_DELIVERY_FAILED' | 'ALERT_DELIVERY_GONE';

/** A coded delivery failure (see {@link DeliveryErrorCode}); `cause` keeps the platform's error. */
export function deliveryError(code: DeliveryErrorCode, message: string, cause?: unknown): SiteFlowError {
  return new SiteFlowError(code, message, {}, cause === undefined ? undefined : { cause });
}

/** How an HTTP status of a delivery counts: 2xx null (delivered), 4xx other than 408/429 failed, else retry. */
export function httpDeliveryCode(status: number): DeliveryErrorCode | null {
  if (status >= 200 && status < 300) return null;
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return 'ALERT_DELIVERY_FAILED';
  return 'ALERT_DELIVERY_RETRY';
}

/** The NAS backup checker reports freshness changes here (the monitor implements it). */
export interface BackupAlertSink {
  /**
   * A site's backup freshness as just judged: `stale`, `missing` and `error` open (or keep)
   * a backup alert for the site, `fresh` resolves it, `unknown` changes nothing.
   * Call it on every check (repeats are ignored) or only on changes.
   */
  backupChanged(host: string, site: string, state: BackupState, note?: string | null): void;
}

const ICON: Record<AlertSeverity, string> = { critical: '🔴', warning: '🟠', info: 'ℹ️' };

/** The headline of an alert as text: icon, title and state. */
export function alertHeadline(a: AlertRecord): string {
  if (a.status === 'resolved') return `✅ RESOLVED ${a.title}`;
  return `${ICON[a.severity]} ${a.title}${a.ackedBy ? ` (acknowledged by ${a.ackedBy})` : ''}`;
}

/** A whole alert as plain text (headline, detail lines, where it is), for text channels. */
export function alertText(a: AlertRecord): string {
  const where = a.site ? `${a.host}/${a.site}` : `host ${a.host}`;
  return [`${alertHeadline(a)} [${where}, ${a.id}]`, ...a.lines].join('\n');
}

/** A new alert id. */
export function newAlertId(): string {
  const rand = Array.from(
    { length: 12 },
    () => '0123456789abcdefghijklmnopqrstuvwxyz'[Math.floor(Math.random() * 36)],
  ).join('');
  return `al_${Date.now().toString(36)}${rand}`;
}
