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
  type AlertAction,
  type AlertChannel,
  type AlertRecord,
  alertActionCommand,
  type BackupAlertSink,
} from '../core/alerts.js';
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
  type SiteObservation,
} from '../core/monitor.js';
import type { Actor, AuditStore, Clock, Logger } from '../core/ports.js';
import { err, ok, type Result } from '../core/result.js';
import type { ActionRunner } from '../core/runs.js';
import type { CertificateInfo, UrlCheckResult } from '../core/url-checks.js';
import type { SqliteAlertStore, StoredSilence } from '../db/sqlite-alert-store.js';
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
  /** The command an alert's button runs (for chat surfaces), or null. */
  actionFor(alertId: string, action: AlertAction): { command: string; args: Record<string, string> } | null;
}

/** What the monitor needs. */
export interface MonitorDeps {
  state: LiveState;
  reconciler: {
    onContainerEvent(l: (host: string, ev: ContainerEvent) => void): () => void;
    refreshAll(): Promise<void>;
  };
  runner: Pick<ActionRunner, 'active' | 'note'>;
  hub: Pick<OutputHub, 'onAny'>;
  store: SqliteAlertStore;
  audit: AuditStore;
  clock: Clock;
  logger: Logger;
  hostNames(): string[];
  /** Resolves when the host's engine answers (a site alert waits for one answer after its change). */
  probe?: (host: string) => Promise<void>;
  settings?: Partial<AlertSettings>;
  /** node-cron expression of the reconcile (default every 30 s). */
  reconcileCron?: string;
  /** Period of the rule clock (default 250 ms). */
  tickMs?: number;
  /** Called with the delivery queue length when it may have changed. */
  onQueueLength?: (channel: string, length: number) => void;
  /**
   * Names of the alert channels configured (console, discord, slack): alerts are queued for
   * them from the start and delivered once their surface attaches the channel.
   */
  channels?: readonly string[];
}

/** The running monitor; see the module comment. */
export class Monitor implements MonitorControl, BackupAlertSink {
  readonly engine: AlertEngine;
  readonly queue: AlertDeliveryQueue;
  private readonly unsubs: Array<() => void> = [];
  private task: ScheduledTask | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private silenceList: StoredSilence[] = [];
  private readonly seenRuns = new Set<string>();
  private started = false;

  constructor(private readonly deps: MonitorDeps) {
    this.engine = new Engine(deps.clock, deps.settings ?? {});
    this.queue = new AlertDeliveryQueue({
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
    const { state, store, reconciler, hub, clock } = this.deps;
    this.engine.restore(store.openAlerts());
    this.silenceList = store.activeSilences(clock.now());
    this.engine.setSilences(this.silenceList);
    this.publishSilences();
    this.syncIntents();
    // What is known already (the reconciler lists before the monitor starts).
    const snap = state.snapshot();
    for (const h of snap.hosts) this.observeHost(h.name, h.reachable, h.reason, h.sites);
    this.flush();
    this.unsubs.push(state.subscribe((c) => this.onState(c)));
    this.unsubs.push(
      reconciler.onContainerEvent((host, ev) => {
        this.syncIntents();
        this.engine.containerEvent(host, ev);
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
        if (ev.type === 'end') this.engine.intentEnded(runId, ev.at);
      }),
    );
    this.timer = setInterval(() => this.tick(), this.deps.tickMs ?? 250);
    this.timer.unref();
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

  /** Stops following; queued deliveries stay in the database for the next start. */
  stop(): void {
    for (const u of this.unsubs.splice(0)) u();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    void this.task?.destroy();
    this.task = null;
    this.queue.stop();
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
    return this.deps.store.activeSilences(this.deps.clock.now());
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

  actionFor(alertId: string, action: AlertAction): { command: string; args: Record<string, string> } | null {
    const a = this.engine.alert(alertId) ?? this.deps.store.alert(alertId);
    return a ? alertActionCommand(a, action) : null;
  }

  /** Deliveries waiting (for /metrics). */
  queueLength(): number {
    return this.queue.length();
  }

  private tick(): void {
    try {
      const now = this.deps.clock.now();
      if (this.silenceList.some((s) => s.until <= now)) this.reloadSilences();
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
      this.engine.observeSite(host, name, s ? observation(s) : null);
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
    for (const s of sites) this.engine.observeSite(name, s.name, observation(s));
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

  private reloadSilences(): void {
    this.silenceList = this.deps.store.activeSilences(this.deps.clock.now());
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
          void this.probe(e.host);
          continue;
        }
        const a = e.alert;
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
        if (e.post) this.queue.post(a, e.takeOver);
        if (e.edit) this.queue.update(a);
        if (e.reply) this.queue.reply(a, e.reply);
      } catch (x) {
        logger.error({ err: describeError(x) }, 'alert bookkeeping failed');
      }
    }
    this.deps.state.setAlerts(this.engine.liveAlerts());
  }

  /** Asks a host's engine whether it still answers and tells the rules. */
  private async probe(host: string): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.deps.probe ? this.deps.probe(host) : Promise.resolve(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no answer within 3 s')), 3000);
        }),
      ]);
      this.engine.hostAnswered(host, true);
    } catch (e) {
      const reason = describeError(e);
      this.engine.hostAnswered(host, false, reason);
      // The live state learns it too; the reconciler's next listing says when it answers again.
      this.deps.state.setHostReachability(host, false, reason);
    } finally {
      clearTimeout(timer);
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

function observation(s: LiveSite): SiteObservation {
  return {
    state: s.state,
    containers: s.containers.map((c) => ({
      id: c.id,
      name: c.name,
      status: c.status,
      exitCode: c.exitCode,
      restartPolicy: c.restartPolicy,
    })),
  };
}
