/**
 * Alerts: the record the monitor keeps for each alert, the `AlertChannel` port chat surfaces
 * implement to deliver them, the platform-neutral buttons (mapped by surfaces to dispatches
 * of /restart, /logs, /silence and /ack, so they run under the same permissions and audit),
 * and the `BackupAlertSink` the NAS backup checker reports freshness changes through.
 * Types and pure helpers only.
 */
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
  /** A host's disk (Docker data root or SITES_ROOT) is above HOST_DISK_ALERT_PERCENT. */
  | 'disk';

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
}

/** Buttons under an alert. */
export type AlertAction = 'restart' | 'logs' | 'silence' | 'ack';

/** One button, platform-neutral: a surface shows `label` and dispatches `command` with `args`. */
export interface AlertButton {
  action: AlertAction;
  label: string;
  command: string;
  args: Record<string, string>;
}

/** The buttons an alert offers (site alerts: all four; host/storm: silence and ack). */
export function alertButtons(
  a: Pick<AlertRecord, 'id' | 'kind' | 'host' | 'site' | 'status'>,
): AlertButton[] {
  if (a.status !== 'open') return [];
  const target = a.site ? `${a.host}/${a.site}` : a.host;
  const out: AlertButton[] = [];
  if (a.kind === 'site' && a.site) {
    out.push({ action: 'restart', label: 'Restart', command: 'restart', args: { site: target } });
    out.push({ action: 'logs', label: 'Logs', command: 'logs', args: { site: target } });
  }
  out.push({ action: 'silence', label: 'Silence 1h', command: 'silence', args: { target, duration: '1h' } });
  out.push({ action: 'ack', label: 'Ack', command: 'ack', args: { alert: a.id } });
  return out;
}

/** The command a button of `alert` dispatches, or null when it offers no such button. */
export function alertActionCommand(
  alert: Pick<AlertRecord, 'id' | 'kind' | 'host' | 'site' | 'status'>,
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
  const m = /^sf:alert:(restart|logs|silence|ack):(al_[0-9a-z]{1,40})$/.exec(id);
  return m ? { action: m[1] as AlertAction, alertId: m[2]! } : null;
}

/** Slack action_id of an alert button (`sf_alert_<action>`; the value is the alert id). */
export function alertSlackActionId(action: AlertAction): string {
  return `sf_alert_${action}`;
}

/** Parses a Slack action_id made by {@link alertSlackActionId}. */
export function parseAlertSlackActionId(id: string): AlertAction | null {
  const m = /^sf_alert_(restart|logs|silence|ack)$/.exec(id);
  return m ? (m[1] as AlertAction) : null;
}

/** Where a delivered alert lives on one channel (opaque to the monitor; JSON-serializable). */
export type AlertRef = Record<string, string>;

/**
 * A place alerts are delivered to (console, a Discord channel, a Slack channel). Every method
 * throws when delivery failed; the delivery queue keeps the job and retries with backoff.
 */
export interface AlertChannel {
  /** Unique, stable name (the delivery queue is persisted per channel), e.g. `console`. */
  readonly name: string;
  /** Posts a new alert message with its buttons; returns where it lives. */
  post(alert: AlertRecord): Promise<AlertRef>;
  /** Answers an alert in its thread. */
  reply(ref: AlertRef, text: string): Promise<void>;
  /** Edits the alert message to show its current state (buttons removed once resolved). */
  update(ref: AlertRef, alert: AlertRecord): Promise<void>;
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
