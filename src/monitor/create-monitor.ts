/**
 * Builds the monitor from the configuration (null when MONITOR_ENABLED=false), with the
 * console alert channel when the console surface runs and the notification channels
 * (webhooks, ntfy, email) configured. Discord and Slack alert channels are
 * added by their surfaces through `monitor.addChannel` once connected; alerts are queued for
 * every configured channel from the start, so none raised before a surface connects is lost.
 */

import { ConsoleAlertChannel, type NoticeSink } from '../chat/console/console-alert-channel.js';
import type { Config } from '../config.js';
import { alertsOff } from '../core/alert-labels.js';
import type { Engine } from '../core/engine.js';
import { describeError } from '../core/errors.js';
import type { AuditStore, Clock, Logger, OperationStore } from '../core/ports.js';
import { stoppedBy } from '../core/stopped.js';
import type { Db } from '../db/database.js';
import { SqliteAlertStore } from '../db/sqlite-alert-store.js';
import { SqliteMaintenanceStore } from '../db/sqlite-maintenance-store.js';
import {
  type NotifyConfig,
  notificationChannelNames,
  notificationChannels,
} from '../notify/notification-channels.js';
import { crashContext } from './crash-context.js';
import { Monitor, type MonitorDeps } from './monitor.js';

/** What {@link createMonitor} needs besides the configuration. */
export interface CreateMonitorDeps {
  config: Config;
  db: Db;
  state: MonitorDeps['state'];
  reconciler: MonitorDeps['reconciler'];
  runner: MonitorDeps['runner'];
  hub: MonitorDeps['hub'];
  audit: AuditStore;
  clock: Clock;
  logger: Logger;
  hostNames(): string[];
  /** Resolves when a host's engine answers (Engine.ping). */
  probe(host: string): Promise<void>;
  console: NoticeSink | null;
  /** Operation history: who stopped a site on purpose (such sites are not alerted on). */
  operations?: Pick<OperationStore, 'list' | 'get'>;
  /** Alert channel names expected to attach (default: {@link alertChannelNames} of the config). */
  channels?: readonly string[];
  /** Masks secrets in alert texts. */
  masker?: MonitorDeps['masker'];
  /** Re-reads the sites' `.env` secrets into the masker (before crash context is masked). */
  refreshSecrets?: () => Promise<void>;
  /** A host's engine (crash context is read from it). */
  engineFor?(host: string): Engine | undefined;
}

/** The monitor settings from the configuration (seconds and minutes to ms). */
export function alertSettingsFrom(config: Config) {
  return {
    downAfterMs: config.ALERT_DOWN_AFTER_SECONDS * 1000,
    recoverAfterMs: config.ALERT_RECOVER_AFTER_SECONDS * 1000,
    flapChanges: config.ALERT_FLAP_CHANGES,
    flapWindowMs: config.ALERT_FLAP_WINDOW_SECONDS * 1000,
    reminderMs: config.ALERT_REMINDER_MINUTES * 60_000,
    stormThreshold: config.ALERT_STORM_THRESHOLD,
    stormWindowMs: config.ALERT_STORM_WINDOW_SECONDS * 1000,
    hostDownAfterMs: config.ALERT_HOST_DOWN_AFTER_SECONDS * 1000,
    actionGraceMs: config.ALERT_ACTION_GRACE_SECONDS * 1000,
    tlsWarnDays: config.TLS_WARN_DAYS,
    diskAlertPercent: config.HOST_DISK_ALERT_PERCENT,
  };
}

/**
 * Names of the alert channels the configuration asks for: `console` when the console surface
 * runs, `discord` with DISCORD_TOKEN and DISCORD_ALERT_CHANNEL_ID, `slack` with SLACK_BOT_TOKEN
 * and SLACK_ALERT_CHANNEL, then the notification channels (webhook:NAME, ntfy, email). Alerts
 * are queued for each from the start.
 */
export function alertChannelNames(
  config: Pick<
    Config,
    'DISCORD_TOKEN' | 'DISCORD_ALERT_CHANNEL_ID' | 'SLACK_BOT_TOKEN' | 'SLACK_ALERT_CHANNEL'
  > &
    Partial<NotifyConfig>,
  consoleOn: boolean,
): string[] {
  const out: string[] = [];
  if (consoleOn) out.push('console');
  if (config.DISCORD_TOKEN && config.DISCORD_ALERT_CHANNEL_ID) out.push('discord');
  if (config.SLACK_BOT_TOKEN && config.SLACK_ALERT_CHANNEL) out.push('slack');
  out.push(...notificationChannelNames(config));
  return out;
}

/** Reads the crash context of a site's failing containers (as the live state knows them). */
function siteCrashContext(d: CreateMonitorDeps, engineFor: (host: string) => Engine | undefined) {
  return async (host: string, site: string): Promise<string[]> => {
    const engine = engineFor(host);
    const s = d.state.site(host, site);
    if (!engine || !s) return [];
    const failing = s.containers
      .filter((c) => !['up', 'completed', 'starting'].includes(c.status))
      .filter((c) => {
        const off = alertsOff(c.labels);
        return !(off.ok && off.value);
      })
      .map((c) => c.id);
    if (!failing.length) return [];
    const lines = await crashContext(engine, failing, { secrets: d.config.secrets });
    // The context quotes container output: masked like a run's output, the site's `.env`
    // secrets included (re-read first, so a site added or changed since the last run counts).
    const m = d.masker;
    if (!m) return lines;
    await d
      .refreshSecrets?.()
      .catch((x) => d.logger.warn({ err: describeError(x) }, 'reading site secrets failed'));
    return lines.map((l) => m.mask(l));
  };
}

/** Creates and starts the monitor, or returns null when it is turned off. */
export function createMonitor(d: CreateMonitorDeps): Monitor | null {
  if (!d.config.MONITOR_ENABLED) return null;
  const monitor = new Monitor({
    state: d.state,
    reconciler: d.reconciler,
    runner: d.runner,
    hub: d.hub,
    store: new SqliteAlertStore(d.db),
    audit: d.audit,
    clock: d.clock,
    logger: d.logger.child({ part: 'monitor' }),
    hostNames: d.hostNames,
    probe: d.probe,
    settings: alertSettingsFrom(d.config),
    reconcileCron: d.config.MONITOR_RECONCILE_CRON,
    channels: d.channels ?? alertChannelNames(d.config, d.console !== null),
    ...(d.masker ? { masker: d.masker } : {}),
    routes: d.config.ALERT_ROUTES_FILE,
    maintenance: new SqliteMaintenanceStore(d.db),
    ...(d.engineFor ? { crashContext: siteCrashContext(d, d.engineFor) } : {}),
    ...(d.operations
      ? {
          stoppedBy: (host: string, site: string) => stoppedBy(d.operations!, host, site)?.by ?? null,
          operation: (id: string) => d.operations!.get(id),
        }
      : {}),
  });
  if (d.console) monitor.addChannel(new ConsoleAlertChannel(d.console));
  for (const ch of notificationChannels(d.config)) monitor.addChannel(ch);
  monitor.start();
  return monitor;
}
