/**
 * The monitor at run time: feeds the pure AlertEngine (src/core/monitor.ts) from the live
 * state (site states, host reachability), the StateReconciler's engine event stream (which
 * reconnects with backoff), the action runner (SiteFlow's own mutating operations are
 * intents: their events become notes in the operation's output) and a node-cron reconcile;
 * persists every alert and silence in SQLite; hands deliveries to the persisted queue; and
 * serves /silence, /unsilence, /silences and /ack.
 */
import cron, { type ScheduledTask } from 'node-cron';
import {
  alertsOff,
  labelDownAfterMs,
  labelResourceRule,
  RESOURCE_LABELS,
  type ResourceMetric,
} from '../core/alert-labels.js';
import {
  type AlertRoutes,
  describeRoutes,
  routeChannels,
  routeSubject,
  routeTuning,
} from '../core/alert-routes.js';
import {
  type AlertAction,
  type AlertChannel,
  type AlertRecord,
  alertActionCommand,
  type BackupAlertSink,
} from '../core/alerts.js';
import { type ClockTimers, timersOf } from '../core/clock.js';
import { SITE_RE } from '../core/command.js';
import type { ContainerEvent } from '../core/engine.js';
import { describeError } from '../core/errors.js';
import type { HostHealth } from '../core/host-health.js';
import type { OutputHub } from '../core/hub.js';
import type { BackupState, LiveSite, LiveState, StateChange } from '../core/live-state.js';
import {
  type AlertEngine,
  type AlertSettings,
  AlertEngine as Engine,
  type ObservedContainer,
  type ResourceSample,
  type SiteObservation,
} from '../core/monitor.js';
import type { Actor, AuditStore, Clock, ClockTimer, Logger } from '../core/ports.js';
import { err, ok, type Result } from '../core/result.js';
import type { ActionRunner } from '../core/runs.js';
import type { Masker } from '../core/secret-mask.js';
import type { CertificateInfo, UrlCheckResult } from '../core/url-checks.js';
import type { SqliteAlertStore, StoredSilence } from '../db/sqlite-alert-store.js';
import type { MaintenanceWindow, SqliteMaintenanceStore } from '../db/sqlite-maintenance-store.js';
import { siteState } from '../docker/status.js';
import { AlertDeliveryQueue } from './delivery-queue.js';

const SYSTEM: Actor = { platform: 'system', id: 'monitor', name: 'monitor' };

/** What commands may ask of the monitor. */
export interface MonitorControl {
  /** Silences a host or site (`target`: `host`, `site` or `host/site`) for `durationMs`. */
  silence(
    target: string,
    durationMs: number,
    by: Actor,
    reason: string | null,
  ): Result<StoredSilence, string>;
  /** Ends the silences of a target; the number ended. */
  unsilence(target: string): Result<number, string>;
  /** Active silences. */
  silences(): StoredSilence[];
  /** Acknowledges an open alert (stops reminders). */
  ack(alertId: string, by: Actor): Result<AlertRecord, string>;
  /** Open alerts, newest first. */
  openAlerts(): AlertRecord[];
  /** Adds a place alerts are delivered to (chat surfaces add their ops channel once connected). */
  addChannel(ch: AlertChannel): void;
  /** Posts a notice once through the alert channels (see `AlertEngine.notice`). */
  notice(o: { key: string; host: string; site: string | null; title: string; lines: string[] }): AlertRecord;
  /** Resolves the open notice under `key` (see `AlertEngine.endNotice`). */
  endNotice(key: string, text: string): void;
  /** The command an alert's button runs (for chat surfaces), or null. */
  actionFor(alertId: string, action: AlertAction): { command: string; args: Record<string, string> } | null;
  /** The effective alert routing, as lines of text (`/alerts routes`). */
  routing(): string[];
  /** Adds a maintenance window on a host or site: from each `cron` firing, `durationMs` long. */
  addMaintenance(
    target: string,
    cronExpr: string,
    durationMs: number,
    by: Actor,
    reason: string | null,
  ): Result<MaintenanceWindow, string>;
  /** Maintenance windows, with whether each is open now. */
  maintenance(): Array<MaintenanceWindow & { open: boolean }>;
  /** Removes a maintenance window (an open one ends now). */
  removeMaintenance(id: string): Result<MaintenanceWindow, string>;
}

/** What the monitor needs. */
export interface MonitorDeps {
  state: LiveState;
  reconciler: {
    onContainerEvent(l: (host: string, ev: ContainerEvent) => void): () => void;
    refreshAll(): Promise<void>;
    /** Resolves once every event received so far is inspected and in the state (see settled()). */
    inspected?(): Promise<void>;
    /** Whether an inspect after an event is under way. */
    inspecting?(): boolean;
  };
  runner: Pick<ActionRunner, 'active' | 'note'>;
  hub: Pick<OutputHub, 'onAny'>;
  store: SqliteAlertStore;
  audit: AuditStore;
  /** Time, and the timers of the rule clock, probes and settle() go through it. */
  clock: Clock;
  logger: Logger;
  hostNames(): string[];
  /** Resolves when the host's engine answers (a site alert waits for one answer after its change). */
  probe?: (host: string) => Promise<void>;
  settings?: Partial<AlertSettings>;
  /** node-cron expression of the reconcile (default every 30 s). */
  reconcileCron?: string;
  /** Who stopped a site on purpose (see `core/stopped.ts`), or null; such sites are not alerted on. */
  stoppedBy?: (host: string, site: string) => string | null;
  /** The operation of a run (to learn its site when it ends). */
  operation?: (id: string) => { host: string | null; site: string | null } | null;
  /** Period of the rule clock (default 250 ms). */
  tickMs?: number;
  /** Called with the delivery queue length when it may have changed. */
  onQueueLength?: (channel: string, length: number) => void;
  /**
   * Names of the alert channels configured (console, discord, slack): alerts are queued for
   * them from the start and delivered once their surface attaches the channel.
   */
  channels?: readonly string[];
  /** Masks secrets in alert texts (they quote container names, states and, later, output). */
  masker?: Masker;
  /** Maintenance windows (absent: /maintenance is unavailable). */
  maintenance?: SqliteMaintenanceStore;
  /** ALERT_ROUTES_FILE, parsed (null or absent: every alert to every channel). */
  routes?: AlertRoutes | null;
  /**
   * Crash context of a site's failing containers (exit code, OOM, memory limit, health output,
   * last log lines), read when its alert opens; the alert waits for it (bounded by its deadline).
   */
  crashContext?: (host: string, site: string) => Promise<string[]>;
}

/** The running monitor; see the module comment. */
export class Monitor implements MonitorControl, BackupAlertSink {
  readonly engine: AlertEngine;
  readonly queue: AlertDeliveryQueue;
  private readonly unsubs: Array<() => void> = [];
  private task: ScheduledTask | null = null;
  private timer: ClockTimer | null = null;
  private readonly time: ClockTimers;
  /** Probes of hosts under way (see settled()). */
  private readonly probing = new Set<Promise<void>>();
  private silenceList: StoredSilence[] = [];
  private readonly seenRuns = new Set<string>();
  private started = false;
  /** Crash-context reads under way. */
  private readonly reading = new Set<Promise<void>>();
  private readonly contexts = new Map<string, string[]>();
  private closed = false;
  /** node-cron tasks opening each maintenance window. */
  private readonly windowTasks = new Map<string, ScheduledTask>();
  /** Bad label values already reported (container id + value). */
  private readonly badLabels = new Set<string>();

  constructor(private readonly deps: MonitorDeps) {
    this.time = timersOf(deps.clock);
    const routes = deps.routes ?? null;
    this.engine = new Engine(deps.clock, deps.settings ?? {}, {
      tune: (subject) => {
        const route = routeTuning(routes, routeSubject(subject));
        const label = subject.site ? this.labelDownAfter(subject.host, subject.site) : null;
        return label === null ? route : { ...route, downAfterMs: label };
      },
    });
    this.queue = new AlertDeliveryQueue({
      ...(routes
        ? { route: (a: AlertRecord, all: readonly string[]) => routeChannels(routes, routeSubject(a), all) }
        : {}),
      store: deps.store,
      clock: deps.clock,
      logger: deps.logger.child({ part: 'alert-delivery' }),
      ...(deps.onQueueLength ? { onLength: deps.onQueueLength } : {}),
      ...(deps.channels ? { expectedChannels: deps.channels } : {}),
      onDropped: (d, error) =>
        deps.audit.record({
          at: deps.clock.now(),
          actor: SYSTEM,
          action: 'alert-delivery-dropped',
          host: d.alert?.host ?? null,
          site: d.alert?.site ?? null,
          outcome: 'failed',
          details: { alertId: d.alertId, channel: d.channel, op: d.op, error },
        }),
    });
  }

  /** Adds a delivery channel (console, Discord, Slack); queued deliveries for it resume. */
  addChannel(ch: AlertChannel): void {
    this.queue.addChannel(ch);
  }

  /** Restores open alerts and silences, then follows the state, events, runs and clock. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const { state, store, reconciler, hub } = this.deps;
    this.engine.restore(store.openAlerts());
    for (const w of this.deps.maintenance?.list() ?? []) this.scheduleWindow(w);
    this.silenceList = this.activeSilences();
    this.engine.setSilences(this.silenceList);
    this.publishSilences();
    this.syncIntents();
    // What is known already (the reconciler lists before the monitor starts).
    const snap = state.snapshot();
    for (const h of snap.hosts) for (const s of h.sites) this.syncStopped(h.name, s.name);
    for (const h of snap.hosts) this.observeHost(h.name, h.reachable, h.reason, h.sites);
    this.flush();
    this.unsubs.push(state.subscribe((c) => this.onState(c)));
    this.unsubs.push(
      reconciler.onContainerEvent((host, ev) => {
        this.syncIntents();
        if (!this.optedOut(host, ev.project, ev.containerId)) this.engine.containerEvent(host, ev);
        this.flush();
      }),
    );
    this.unsubs.push(
      hub.onAny((runId, ev) => {
        if (!this.seenRuns.has(runId)) {
          if (this.seenRuns.size > 1000) this.seenRuns.clear();
          this.seenRuns.add(runId);
          this.syncIntents();
        }
        if (ev.type === 'end') {
          const op = this.deps.operation?.(runId);
          if (op?.host && op.site) this.syncStopped(op.host, op.site);
          this.engine.intentEnded(runId, ev.at);
        }
      }),
    );
    this.timer = this.time.setInterval(() => this.tick(), this.deps.tickMs ?? 250);
    const expr = this.deps.reconcileCron ?? '*/30 * * * * *';
    this.task = cron.schedule(
      expr,
      async () => {
        try {
          await reconciler.refreshAll();
        } catch (e) {
          this.deps.logger.warn({ err: describeError(e) }, 'monitor reconcile failed');
        }
        this.tick();
      },
      { noOverlap: true, name: 'monitor-reconcile' },
    );
  }

  /**
   * Waits (up to `timeoutMs` each) for crash-context reads to be queued and for attempts under
   * way to end; call after stop() and before the database closes.
   */
  async settle(timeoutMs = 4000): Promise<void> {
    const ac = new AbortController();
    await Promise.race([Promise.all([...this.reading]), this.time.sleep(timeoutMs, ac.signal)]);
    ac.abort();
    this.closed = true;
    await this.queue.idle(timeoutMs);
  }

  /**
   * Resolves once everything received so far has had its effect: every container event was
   * inspected and applied to the live state, the rules judged it (one rule tick at the current
   * time included), the host probes they asked for answered, crash contexts were read, and
   * every resulting delivery was queued and attempted (delivered, or waiting for its backoff or
   * its channel). Rejects when that takes longer than `timeoutMs` on the clock. Tests await it
   * instead of sleeping; it promises nothing about events still on their way from an engine,
   * nor about decisions the rules make later on their own clock (reminders, grace ends).
   */
  async settled(timeoutMs = 30_000): Promise<void> {
    let gaveUp = false;
    const work = (async () => {
      const { reconciler } = this.deps;
      while (!gaveUp) {
        await reconciler.inspected?.();
        if (this.started) this.tick();
        await Promise.allSettled([...this.probing, ...this.reading]);
        await this.queue.idle(timeoutMs);
        const busy =
          (reconciler.inspecting?.() ?? false) ||
          this.probing.size > 0 ||
          this.reading.size > 0 ||
          this.queue.delivering();
        if (!busy) return;
      }
    })();
    await this.time.deadline(work, timeoutMs, () => {
      gaveUp = true;
      return new Error(`monitor not settled within ${timeoutMs} ms`);
    });
  }

  /** Stops following; queued deliveries stay in the database for the next start. */
  stop(): void {
    this.started = false;
    for (const u of this.unsubs.splice(0)) u();
    this.timer?.cancel();
    this.timer = null;
    void this.task?.destroy();
    this.task = null;
    for (const t of this.windowTasks.values()) void t.destroy();
    this.windowTasks.clear();
    this.queue.stop();
  }

  /** SiteFlow's data folder is full (or has room again): one disk alert, one recovery. */
  diskChanged(host: string, ok: boolean, note: string): void {
    this.engine.diskChanged(host, ok, note);
    this.flush();
  }

  /** See {@link BackupAlertSink}. */
  backupChanged(host: string, site: string, state: BackupState, note: string | null = null): void {
    this.engine.backupChanged(host, site, state, note);
    this.flush();
  }

  /** The latest checks of a site's URLs (from the URL checker). */
  urlChecks(host: string, site: string, results: readonly UrlCheckResult[]): void {
    this.syncIntents();
    this.engine.urlChecks(host, site, results);
    this.flush();
  }

  /** A host's health (from the host health checker): disk alerts. */
  hostHealth(h: HostHealth): void {
    this.engine.hostHealth(h);
    this.flush();
  }

  /** The certificate an https URL presented (from the URL checker). */
  certificateSeen(host: string, site: string, domain: string, cert: CertificateInfo | null): void {
    this.engine.certificateSeen(host, site, domain, cert);
    this.flush();
  }

  silence(
    target: string,
    durationMs: number,
    by: Actor,
    reason: string | null,
  ): Result<StoredSilence, string> {
    const t = this.resolveTarget(target);
    if (!t.ok) return t;
    const now = this.deps.clock.now();
    const s = this.deps.store.addSilence({
      id: `si_${now.toString(36)}${Math.random().toString(36).slice(2, 8)}`,
      host: t.value.host,
      site: t.value.site,
      until: now + durationMs,
      by: by.name,
      reason,
      createdAt: now,
    });
    this.reloadSilences();
    return ok(s);
  }

  unsilence(target: string): Result<number, string> {
    const t = this.resolveTarget(target);
    if (!t.ok) return t;
    const n = this.deps.store.endSilences(t.value.host, t.value.site, this.deps.clock.now());
    this.reloadSilences();
    return ok(n);
  }

  silences(): StoredSilence[] {
    return this.activeSilences();
  }

  addMaintenance(
    target: string,
    cronExpr: string,
    durationMs: number,
    by: Actor,
    reason: string | null,
  ): Result<MaintenanceWindow, string> {
    const store = this.deps.maintenance;
    if (!store) return err('Maintenance windows are not available.');
    const t = this.resolveTarget(target);
    if (!t.ok) return t;
    if (!cron.validate(cronExpr))
      return err(`"${cronExpr.slice(0, 60)}" is not a cron expression (5 fields, or 6 with seconds first).`);
    const now = this.deps.clock.now();
    const w: MaintenanceWindow = {
      id: `mw_${now.toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      host: t.value.host,
      site: t.value.site,
      cron: cronExpr,
      durationMs,
      reason,
      by: by.name,
      createdAt: now,
      openUntil: null,
    };
    store.add(w);
    this.scheduleWindow(w);
    return ok(w);
  }

  maintenance(): Array<MaintenanceWindow & { open: boolean }> {
    const now = this.deps.clock.now();
    return (this.deps.maintenance?.list() ?? []).map((w) => ({ ...w, open: (w.openUntil ?? 0) > now }));
  }

  removeMaintenance(id: string): Result<MaintenanceWindow, string> {
    const store = this.deps.maintenance;
    const w = store?.list().find((x) => x.id === id);
    if (!store || !w) return err(`No maintenance window ${id.slice(0, 40)}.`);
    store.remove(id, this.deps.clock.now());
    void this.windowTasks.get(id)?.destroy();
    this.windowTasks.delete(id);
    this.reloadSilences();
    return ok(w);
  }

  /** Opens a window at each firing of its cron, for its duration. */
  private scheduleWindow(w: MaintenanceWindow): void {
    if (!cron.validate(w.cron)) {
      this.deps.logger.warn({ window: w.id }, 'maintenance window has an invalid cron; skipped');
      return;
    }
    const task = cron.schedule(
      w.cron,
      () => {
        const until = this.deps.clock.now() + w.durationMs;
        this.deps.maintenance?.opened(w.id, until);
        this.deps.logger.info({ window: w.id, host: w.host, site: w.site, until }, 'maintenance window open');
        this.reloadSilences();
      },
      { name: `maintenance-${w.id}` },
    );
    this.windowTasks.set(w.id, task);
  }

  /** Silences in force: the stored ones and every open maintenance window. */
  private activeSilences(): StoredSilence[] {
    const now = this.deps.clock.now();
    const windows = (this.deps.maintenance?.list() ?? [])
      .filter((w) => (w.openUntil ?? 0) > now)
      .map((w) => ({
        id: w.id,
        host: w.host,
        site: w.site,
        until: w.openUntil!,
        by: w.by,
        reason: `maintenance ${w.id}${w.reason ? `: ${w.reason}` : ''}`,
        createdAt: w.createdAt,
        endedAt: null,
      }));
    return [...this.deps.store.activeSilences(now), ...windows].sort((a, b) => a.until - b.until);
  }

  ack(alertId: string, by: Actor): Result<AlertRecord, string> {
    const a = this.engine.ack(alertId, by.name);
    this.flush();
    if (a) return ok(a);
    const stored = this.deps.store.alert(alertId);
    return err(stored ? `${alertId} is already resolved.` : `No alert ${alertId}.`);
  }

  openAlerts(): AlertRecord[] {
    return this.engine.openAlerts();
  }

  notice(o: { key: string; host: string; site: string | null; title: string; lines: string[] }): AlertRecord {
    const a = this.engine.notice(o);
    this.flush();
    return a;
  }

  endNotice(key: string, text: string): void {
    this.engine.endNotice(key, text);
    this.flush();
  }

  actionFor(alertId: string, action: AlertAction): { command: string; args: Record<string, string> } | null {
    const a = this.engine.alert(alertId) ?? this.deps.store.alert(alertId);
    return a ? alertActionCommand(a, action) : null;
  }

  routing(): string[] {
    return describeRoutes(this.deps.routes ?? null, this.queue.channelNames());
  }

  /** Deliveries waiting (for /metrics). */
  queueLength(): number {
    return this.queue.length();
  }

  private tick(): void {
    try {
      const now = this.deps.clock.now();
      const ended = this.silenceList.filter((s) => s.until <= now);
      if (ended.length) {
        this.reloadSilences();
        // A maintenance window ended: look at its targets afresh (still broken: the alert posts now).
        if (ended.some((s) => s.id.startsWith('mw_')))
          void this.deps.reconciler
            .refreshAll()
            .then(() => this.tick())
            .catch((e) =>
              this.deps.logger.warn({ err: describeError(e) }, 'refresh after maintenance failed'),
            );
      }
      this.syncIntents();
      this.engine.tick();
      this.flush();
    } catch (e) {
      this.deps.logger.error({ err: describeError(e) }, 'monitor tick failed');
    }
  }

  private onState(c: StateChange): void {
    if (c.alerts || c.silences) {
      if (!c.sites.length && !c.hosts.length) return;
    }
    const { state } = this.deps;
    if (c.hosts.length) {
      const snap = state.snapshot();
      for (const name of c.hosts) {
        const h = snap.hosts.find((x) => x.name === name);
        if (h) this.observeHost(h.name, h.reachable, h.reason, h.sites);
      }
    }
    for (const key of c.sites) {
      const slash = key.indexOf('/');
      const host = key.slice(0, slash);
      const name = key.slice(slash + 1);
      const s = state.site(host, name);
      this.engine.observeSite(host, name, s ? this.observation(s) : null);
      this.engine.resourceSamples(host, name, s ? this.resourceSamples(s) : []);
    }
    this.flush();
  }

  private observeHost(
    name: string,
    reachable: boolean | null,
    reason: string | null,
    sites: readonly LiveSite[],
  ): void {
    if (reachable === null) return;
    this.engine.observeHost(name, reachable, reason);
    if (!reachable) return;
    for (const s of sites) {
      this.engine.observeSite(name, s.name, this.observation(s));
      this.engine.resourceSamples(name, s.name, this.resourceSamples(s));
    }
    // Site alerts restored from before a restart whose site is gone.
    const present = new Set(sites.map((s) => s.name));
    for (const a of this.engine.openAlerts()) {
      if (a.kind === 'site' && a.host === name && a.site && !present.has(a.site))
        this.engine.observeSite(name, a.site, null);
    }
  }

  /** Mutating operations running now are intents; those gone since are ended. */
  private syncIntents(): void {
    const now = this.deps.clock.now();
    const seen = new Set<string>();
    for (const r of this.deps.runner.active()) {
      const op = r.operation;
      if (!r.mutates || r.queuePosition !== null || !op.host || !op.site) continue;
      seen.add(op.id);
      this.engine.intentStarted({
        operationId: op.id,
        host: op.host,
        site: op.site,
        kind: op.kind,
        actor: op.requestedBy.name,
        startedAt: op.startedAt ?? now,
      });
    }
    for (const id of this.engine.runningIntents()) if (!seen.has(id)) this.engine.intentEnded(id, now);
  }

  /** Tells the rules whether a site is stopped on purpose. */
  private syncStopped(host: string, site: string): void {
    if (!this.deps.stoppedBy) return;
    try {
      this.engine.setStopped(host, site, this.deps.stoppedBy(host, site));
    } catch (e) {
      this.deps.logger.warn({ err: describeError(e) }, 'reading who stopped a site failed');
    }
  }

  private reloadSilences(): void {
    this.silenceList = this.activeSilences();
    this.engine.setSilences(this.silenceList);
    this.publishSilences();
    this.flush();
  }

  private publishSilences(): void {
    this.deps.state.setSilences(
      this.silenceList.map((s) => ({
        id: s.id,
        host: s.host,
        site: s.site,
        until: s.until,
        by: s.by,
        reason: s.reason,
      })),
    );
  }

  /** Persists, audits and queues what the rules decided. */
  private flush(): void {
    const effects = this.engine.drain();
    if (!effects.length) return;
    const { store, audit, runner, logger, clock } = this.deps;
    for (const e of effects) {
      try {
        if (e.type === 'note') {
          runner.note(e.operationId, e.text);
          continue;
        }
        if (e.type === 'probe') {
          const p: Promise<void> = this.probe(e.host).finally(() => this.probing.delete(p));
          this.probing.add(p);
          continue;
        }
        const m = this.deps.masker;
        const a = m
          ? { ...e.alert, title: m.mask(e.alert.title), lines: e.alert.lines.map((l) => m.mask(l)) }
          : e.alert;
        const reply = e.reply && m ? m.mask(e.reply) : e.reply;
        store.saveAlert(a);
        if (e.change === 'opened' || e.change === 'resolved') {
          audit.record({
            at: clock.now(),
            actor: SYSTEM,
            action: e.change === 'opened' ? 'alert-open' : 'alert-resolve',
            host: a.host,
            site: a.site,
            outcome: 'ok',
            details: {
              alertId: a.id,
              kind: a.kind,
              title: a.title,
              severity: a.severity,
              silenced: a.silenced,
            },
          });
          logger.info(
            { alertId: a.id, kind: a.kind, title: a.title, silenced: a.silenced },
            `alert ${e.change}`,
          );
        }
        const x = this.withContext(a);
        if (e.post) this.queue.post(x, e.takeOver);
        if (e.edit) this.queue.update(x);
        if (reply) this.queue.reply(x, reply);
        // Crash context follows the alert (the alert itself is not held back for it).
        if (
          e.change === 'opened' &&
          e.post &&
          a.kind === 'site' &&
          a.site &&
          !a.parentId &&
          this.deps.crashContext
        )
          this.track(this.addContext(a));
        if (e.change === 'resolved') this.contexts.delete(a.id);
      } catch (x) {
        logger.error({ err: describeError(x) }, 'alert bookkeeping failed');
      }
    }
    this.deps.state.setAlerts(this.engine.liveAlerts());
  }

  /** Keeps `p` until it settles (see settle()). */
  private track(p: Promise<void>): void {
    const done = p
      .catch((x) => this.deps.logger.error({ err: describeError(x) }, 'crash context delivery failed'))
      .finally(() => this.reading.delete(done));
    this.reading.add(done);
  }

  /**
   * Reads an alert's crash context and delivers it: into the alert's thread on chat channels,
   * and as an update of the alert on notification channels (its body carries the context).
   */
  private async addContext(a: AlertRecord): Promise<void> {
    let ctx: string[] = [];
    try {
      ctx = await this.deps.crashContext!(a.host, a.site!);
    } catch (x) {
      this.deps.logger.warn({ err: describeError(x), alertId: a.id }, 'crash context not readable');
    }
    if (!ctx.length || this.closed) return;
    this.engine.setContext(a.id, ctx);
    this.contexts.set(a.id, ctx);
    if (this.contexts.size > 500) this.contexts.delete(this.contexts.keys().next().value!);
    const current = this.engine.alert(a.id) ?? this.deps.store.alert(a.id) ?? a;
    const withCtx = { ...current, context: ctx };
    this.queue.reply(withCtx, ctx.join('\n'));
    this.queue.update(withCtx, { unthreadedOnly: true });
  }

  private withContext(a: AlertRecord): AlertRecord {
    const ctx = a.context ?? this.contexts.get(a.id);
    return ctx ? { ...a, context: ctx } : a;
  }

  /** A site as the rules see it: containers labelled `siteflow.alerts=off` left out. */
  private observation(s: LiveSite): SiteObservation {
    const kept = s.containers.filter((c) => !this.labelled(c.id, alertsOff(c.labels), false));
    if (kept.length === s.containers.length)
      return { state: s.state, containers: s.containers.map(observed) };
    // Only opted-out containers: nothing to judge, the site counts as up.
    return { state: kept.length ? siteState(kept, true) : 'up', containers: kept.map(observed) };
  }

  /**
   * The CPU/memory samples (from the reconciler's stats sampling) of a site's containers that
   * carry a valid `siteflow.alerts.cpu` or `siteflow.alerts.memory` rule and do not opt out.
   */
  private resourceSamples(s: LiveSite): ResourceSample[] {
    const out: ResourceSample[] = [];
    for (const c of s.containers) {
      if (!Object.values(RESOURCE_LABELS).some((l) => l in c.labels)) continue;
      if (this.labelled(c.id, alertsOff(c.labels), false)) continue;
      for (const metric of ['cpu', 'memory'] as ResourceMetric[]) {
        const rule = this.labelled(c.id, labelResourceRule(c.labels, metric), null);
        if (!rule) continue;
        const st = c.state === 'running' ? c.stats : null;
        out.push({
          container: c.name,
          metric,
          rule,
          percent: st ? (metric === 'cpu' ? st.cpuPercent : st.memoryPercent) : null,
          at: st?.at ?? null,
          ...(c.state === 'running' && !st ? { pending: true } : {}),
        });
      }
    }
    return out;
  }

  /** Whether a known container is labelled `siteflow.alerts=off`. */
  private optedOut(host: string, site: string | null, containerId: string): boolean {
    const c = site
      ? this.deps.state.site(host, site)?.containers.find((x) => x.id === containerId)
      : undefined;
    return c ? this.labelled(c.id, alertsOff(c.labels), false) : false;
  }

  /** The longest valid `siteflow.alerts.down_after` of a site's containers (null: none set). */
  private labelDownAfter(host: string, site: string): number | null {
    let best: number | null = null;
    for (const c of this.deps.state.site(host, site)?.containers ?? []) {
      const v = this.labelled(c.id, labelDownAfterMs(c.labels), null);
      if (v !== null) best = Math.max(best ?? 0, v);
    }
    return best;
  }

  /** A label's parsed value, or `fallback` for a bad one (reported once per container and value). */
  private labelled<T>(containerId: string, r: Result<T, string>, fallback: T): T {
    if (r.ok) return r.value;
    const key = `${containerId}:${r.error}`;
    if (!this.badLabels.has(key)) {
      if (this.badLabels.size > 1000) this.badLabels.clear();
      this.badLabels.add(key);
      this.deps.logger.warn(
        { containerId: containerId.slice(0, 12), problem: r.error },
        'ignored a bad alert label',
      );
    }
    return fallback;
  }

  /** Asks a host's engine whether it still answers and tells the rules. */
  private async probe(host: string): Promise<void> {
    try {
      await this.time.deadline(
        this.deps.probe ? this.deps.probe(host) : Promise.resolve(),
        3000,
        () => new Error('no answer within 3 s'),
      );
      this.engine.hostAnswered(host, true);
    } catch (e) {
      const reason = describeError(e);
      this.engine.hostAnswered(host, false, reason);
      // The live state learns it too; the reconciler's next listing says when it answers again.
      this.deps.state.setHostReachability(host, false, reason);
    }
    this.flush();
  }

  /** `host`, `site` or `host/site` -> what to silence. */
  private resolveTarget(target: string): Result<{ host: string; site: string | null }, string> {
    const hosts = this.deps.hostNames();
    if (hosts.includes(target)) return ok({ host: target, site: null });
    const m = SITE_RE.exec(target);
    if (!m) return err(`"${target.slice(0, 60)}" is neither a host nor a site.`);
    const host = m[1] ?? null;
    const name = m[2]!;
    if (host) {
      if (!hosts.includes(host)) return err(`Unknown host "${host}". Hosts: ${hosts.join(', ')}`);
      return ok({ host, site: name });
    }
    const on = this.deps.state
      .snapshot()
      .hosts.filter((h) => h.sites.some((s) => s.name === name))
      .map((h) => h.name);
    if (on.length === 1) return ok({ host: on[0]!, site: name });
    if (on.length > 1)
      return err(`"${name}" exists on several hosts; say which: ${on.map((h) => `${h}/${name}`).join(', ')}`);
    if (hosts.length === 1) return ok({ host: hosts[0]!, site: name });
    return err(`No site "${name}" on any host; use host/site.`);
  }
}

function observed(c: LiveSite['containers'][number]): ObservedContainer {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    exitCode: c.exitCode,
    restartPolicy: c.restartPolicy,
    createdNotStartedAt: c.state === 'created' && c.startedAt === null ? c.createdAt : null,
  };
}
