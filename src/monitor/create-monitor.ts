/**
 * Builds the monitor from the configuration (null when MONITOR_ENABLED=false), with the
 * console alert channel when the console surface runs. Discord and Slack alert channels are
 * added by their surfaces through `monitor.addChannel`.
 */
import type { Config } from '../config.js';
import type { AuditStore, Clock, Logger } from '../core/ports.js';
import type { Db } from '../db/database.js';
import { SqliteAlertStore } from '../db/sqlite-alert-store.js';
import { ConsoleAlertChannel, type NoticeSink } from './console-alert-channel.js';
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
  });
  if (d.console) monitor.addChannel(new ConsoleAlertChannel(d.console));
  monitor.start();
  return monitor;
}
