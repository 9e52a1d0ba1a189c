/**
 * The alert rules, as a pure state machine over what the monitor observes: site states (from
 * the live state), container events (for flapping and intent notes), host reachability,
 * SiteFlow's own operations (intents), silences, backup freshness and the passing of time
 * (`tick`). It never does I/O: every decision comes out of `drain()` as effects (save, post,
 * edit, reply, note into an operation's output) that the runtime persists and delivers.
 *
 * Rules, in short:
 * - a site is healthy, degraded or down; it must be bad for `downAfterMs` before it alerts and
 *   good for `recoverAfterMs` before the alert resolves (hysteresis); one alert per site, its
 *   failing containers are listed in the alert's thread;
 * - a container that dies `flapChanges` times within `flapWindowMs` makes the site's alert a
 *   "flapping" alert (one alert, edited, not one per restart);
 * - while SiteFlow itself restarts, pulls, provisions or deprovisions a site (a mutating
 *   operation) and for `actionGraceMs` after it ended, the site's events are notes in that
 *   operation's output, never alerts; only still being bad after the grace alerts;
 * - a host whose engine does not answer for `hostDownAfterMs` opens one host incident and its
 *   sites are listed in the thread; `stormThreshold` sites of one host going bad within
 *   `stormWindowMs` open one storm incident with the sites as replies; recovery is one message;
 * - silenced alerts are recorded but not posted; reminders repeat every `reminderMs` until
 *   the alert is acknowledged or resolved; completed one-shot containers never alert.
 */
import type { ResourceMetric, ResourceRule } from './alert-labels.js';
import { type AlertKind, type AlertRecord, type BackupAlertSink, newAlertId } from './alerts.js';
import type { ContainerEvent, ContainerStatus, SiteState } from './engine.js';
import { formatBytes, type HostHealth } from './host-health.js';
import type { AlertSeverity, BackupState, LiveAlert, LiveSilence } from './live-state.js';
import type { Clock } from './ports.js';
import { type CertificateInfo, daysLeft, describeCheck, type UrlCheckResult } from './url-checks.js';

/** Thresholds of the alert rules (all in ms; see the module comment). */
export interface AlertSettings {
  downAfterMs: number;
  recoverAfterMs: number;
  flapChanges: number;
  flapWindowMs: number;
  /** 0 turns reminders off. */
  reminderMs: number;
  stormThreshold: number;
  stormWindowMs: number;
  hostDownAfterMs: number;
  actionGraceMs: number;
  /** How long a site that goes bad right after another one on its host waits to see whether a storm builds. */
  groupWaitMs: number;
  /** A certificate with this many days left (or fewer) alerts once as a warning. */
  tlsWarnDays: number;
  /** ... and again, as critical, at this many days. */
  tlsCriticalDays: number;
  /** A host disk (Docker data root, SITES_ROOT) this full or fuller alerts once. */
  diskAlertPercent: number;
}

/** Defaults of {@link AlertSettings}. */
export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  downAfterMs: 0,
  recoverAfterMs: 5_000,
  flapChanges: 4,
  flapWindowMs: 120_000,
  reminderMs: 60 * 60_000,
  stormThreshold: 4,
  stormWindowMs: 10_000,
  hostDownAfterMs: 5_000,
  actionGraceMs: 30_000,
  groupWaitMs: 1_500,
  tlsWarnDays: 14,
  tlsCriticalDays: 3,
  diskAlertPercent: 90,
};

/** One container of an observed site (what the rules need). */
export interface ObservedContainer {
  id: string;
  name: string;
  status: ContainerStatus;
  exitCode: number | null;
  restartPolicy: string;
  /** When it was created, for a container created but never started yet (else absent). */
  createdNotStartedAt?: number | null;
}

/**
 * A container compose (or anyone) has just created and not yet started is on its way up: it is
 * not judged for this long. `docker compose up` creates every container before it starts them,
 * and on a busy engine the start can come seconds later.
 */
export const CREATED_START_GRACE_MS = 10_000;

/** A site as last observed (null when it no longer exists). */
export interface SiteObservation {
  state: SiteState;
  containers: readonly ObservedContainer[];
}

/** A mutating operation SiteFlow runs on a site. */
export interface Intent {
  operationId: string;
  host: string;
  site: string;
  kind: string;
  /** Display name of who asked. */
  actor: string;
  startedAt: number;
}

/** What the runtime must do, in order. */
export type AlertEffect =
  | {
      type: 'alert';
      alert: AlertRecord;
      change: 'opened' | 'changed' | 'resolved' | 'reminder' | 'acked' | 'announced';
      /** Post it (a child is posted as a reply in its parent's thread). */
      post: boolean;
      /** Edit the posted message to the alert's current state. */
      edit: boolean;
      /** Answer in its thread. */
      reply: string | null;
      /**
       * Post it by editing this (already posted) alert's message instead of a new message: an
       * engine that stops answering right after a site alert turns that alert into the incident.
       */
      takeOver?: string;
    }
  | { type: 'note'; operationId: string; text: string }
  /** Ask the host's engine whether it still answers, then call `hostAnswered`. */
  | { type: 'probe'; host: string };

/**
 * Per-subject thresholds (from ALERT_ROUTES_FILE routes and container labels): the rules ask it
 * before opening, resolving and reminding; null or absent fields keep the global settings.
 */
export type AlertTune = (subject: {
  kind: AlertKind;
  host: string;
  site: string | null;
  severity: AlertSeverity;
}) => Partial<Pick<AlertSettings, 'downAfterMs' | 'recoverAfterMs' | 'reminderMs'>> | null;

/** A silence as the rules see it (`site` null: the whole host). */
export type SilenceRule = Pick<LiveSilence, 'id' | 'host' | 'site' | 'until' | 'by' | 'reason'>;

interface SiteTrack {
  host: string;
  name: string;
  obs: SiteObservation | null;
  badSince: number | null;
  goodSince: number | null;
  /** Container names already listed in the alert's thread. */
  listed: Set<string>;
  /** Container id -> die times within the flap window. */
  dies: Map<string, number[]>;
  /** Names of flapping containers. */
  flapping: Set<string>;
  /** No opening before this (after a host came back). */
  settleUntil: number;
  /** Restored after a restart: the containers failing now were already listed. */
  seedListed: boolean;
  /** False until the first observation (a restored alert waits for it). */
  observed: boolean;
  /** URL -> the latest check of each of the site's URLs (a failing one makes the site bad). */
  urls: Map<string, UrlCheckResult>;
}

interface HostTrack {
  reachable: boolean | null;
  reason: string | null;
  downSince: number | null;
  /** When the engine last answered a probe (a site alert needs an answer newer than its change). */
  confirmedAt: number;
  probing: boolean;
}

/** One CPU or memory sample of a container under its label's rule (see `AlertEngine.resourceSamples`). */
export interface ResourceSample {
  /** Container name (alerts and their keys name it). */
  container: string;
  metric: ResourceMetric;
  rule: ResourceRule;
  /** Usage in percent; null when the container is not running (it counts as below). */
  percent: number | null;
  /** When the engine took the sample (a sample already seen changes nothing); null: not running. */
  at: number | null;
  /** Running but not sampled yet: nothing measured, its alert stays as it is. */
  pending?: boolean;
}

interface ResourceTrack {
  /** First sample above the threshold of the current run of such samples. */
  overSince: number | null;
  /** First sample below it since the last one above. */
  underSince: number | null;
  peak: number;
  lastAt: number | null;
}

interface IntentTrack extends Intent {
  endedAt: number | null;
}

const VERB: Record<string, string> = {
  die: 'exited',
  start: 'started',
  stop: 'stopped',
  kill: 'killed',
  oom: 'ran out of memory',
  restart: 'restarted',
  health_status: 'health',
  create: 'created',
  destroy: 'removed',
};

const ONE_SHOT = new Set(['', 'no', 'on-failure']);

/** The alert rules; see the module comment. */
export class AlertEngine implements BackupAlertSink {
  private readonly s: AlertSettings;
  private readonly open = new Map<string, AlertRecord>();
  private readonly byKey = new Map<string, string>();
  private readonly sites = new Map<string, SiteTrack>();
  private readonly hosts = new Map<string, HostTrack>();
  private readonly intents = new Map<string, IntentTrack>();
  /** Resource alert key -> its samples so far. */
  private readonly resources = new Map<string, ResourceTrack>();
  /** Sites stopped on purpose (siteAlertKey -> who stopped them). */
  private readonly stopped = new Map<string, string>();
  private silences: SilenceRule[] = [];
  private effects: AlertEffect[] = [];
  private readonly newId: () => string;

  private readonly tune: AlertTune | null;

  constructor(
    private readonly clock: Clock,
    settings: Partial<AlertSettings> = {},
    opts: { newId?: () => string; tune?: AlertTune } = {},
  ) {
    this.s = { ...DEFAULT_ALERT_SETTINGS, ...settings };
    this.newId = opts.newId ?? newAlertId;
    this.tune = opts.tune ?? null;
  }

  /** The thresholds in force for one alert subject (routes and labels may tune them). */
  private tuned(kind: AlertKind, host: string, site: string | null, severity: AlertSeverity): AlertSettings {
    const t = this.tune?.({ kind, host, site, severity });
    return t ? { ...this.s, ...t } : this.s;
  }

  /** The settings in force. */
  get settings(): Readonly<AlertSettings> {
    return this.s;
  }

  /** Takes back the open alerts stored before a restart (they are not announced again). */
  restore(alerts: readonly AlertRecord[]): void {
    for (const a of alerts) {
      if (a.status !== 'open') continue;
      this.open.set(a.id, { ...a });
      this.byKey.set(a.key, a.id);
      if (a.kind === 'site' && a.site) {
        const t = this.site(a.host, a.site);
        t.badSince = a.openedAt;
        // Its containers were listed before the restart: do not list them again.
        t.seedListed = true;
      }
    }
  }

  /** Effects decided since the last drain, in order. */
  drain(): AlertEffect[] {
    const out = this.effects;
    this.effects = [];
    return out;
  }

  /** Open alerts, newest first. */
  openAlerts(): AlertRecord[] {
    return [...this.open.values()].sort((a, b) => b.openedAt - a.openedAt);
  }

  /** One open alert by id. */
  alert(id: string): AlertRecord | undefined {
    return this.open.get(id);
  }

  /** Open alerts in the live state's shape (for the status page). */
  liveAlerts(): LiveAlert[] {
    return this.openAlerts().map((a) => ({
      id: a.id,
      severity: a.severity,
      title: a.title,
      message: a.lines[0] ?? null,
      host: a.host,
      site: a.site,
      container: null,
      since: a.openedAt,
    }));
  }

  // ------------------------------------------------------------------ inputs

  /** A site's current state (null: it no longer exists). */
  observeSite(host: string, name: string, obs: SiteObservation | null): void {
    const t = this.site(host, name);
    t.obs = obs;
    t.observed = true;
    this.evalSite(t, this.clock.now());
    if (!obs && !this.byKey.has(siteAlertKey(host, name)) && t.dies.size === 0)
      this.sites.delete(`${host}/${name}`);
  }

  /** Whether a host's engine answers. */
  observeHost(host: string, reachable: boolean, reason: string | null = null): void {
    const h = this.host(host);
    const now = this.clock.now();
    if (reachable) {
      const wasDown = h.reachable === false;
      h.reachable = true;
      h.reason = null;
      h.downSince = null;
      const id = this.byKey.get(`host:${host}`);
      if (id) {
        const a = this.open.get(id)!;
        const states = [...this.sites.values()]
          .filter((t) => t.host === host && t.obs)
          .map((t) => `${t.name} ${t.obs!.state}`);
        this.resolve(
          a,
          now,
          `Host ${host} answers again after ${duration(now - a.openedAt)}.${states.length ? ` Sites: ${states.join(', ')}.` : ''}`,
        );
      }
      if (wasDown) {
        // Let the first listing after the outage settle before judging its sites.
        for (const t of this.sites.values()) {
          if (t.host !== host) continue;
          t.settleUntil = now + this.s.groupWaitMs;
          if (t.badSince !== null) t.badSince = Math.max(t.badSince, now);
        }
      }
      this.tick();
      return;
    }
    if (h.reachable !== false) h.downSince = now;
    h.reachable = false;
    h.reason = reason;
    this.evalHost(host, h, now);
  }

  /** The answer to a `probe` effect: whether the host's engine answered just now. */
  hostAnswered(host: string, answered: boolean, reason: string | null = null): void {
    const h = this.host(host);
    h.probing = false;
    if (!answered) {
      this.observeHost(host, false, reason);
      return;
    }
    h.confirmedAt = this.clock.now();
    const now = this.clock.now();
    for (const t of this.sites.values()) if (t.host === host) this.evalSite(t, now);
  }

  /** A container event of a host (call before the inspect it triggers updates the site). */
  containerEvent(host: string, ev: ContainerEvent): void {
    const site = ev.project;
    if (!site) return;
    const now = this.clock.now();
    const intent = this.activeIntent(host, site, now);
    const verb = VERB[ev.action];
    if (intent) {
      if (verb && intent.endedAt === null) {
        const what =
          ev.action === 'health_status'
            ? `${ev.name} is ${ev.health ?? 'unknown'}`
            : ev.action === 'die'
              ? `${ev.name} exited (code ${ev.exitCode ?? '?'})`
              : ev.action === 'kill' && ev.signal
                ? `${ev.name} ${verb} (${ev.signal})`
                : `${ev.name} ${verb}`;
        this.effects.push({
          type: 'note',
          operationId: intent.operationId,
          text: `expected: ${what}: ${intent.kind} by @${intent.actor}`,
        });
      }
      return;
    }
    if (ev.action !== 'die') return;
    const t = this.site(host, site);
    const known = t.obs?.containers.find((c) => c.id === ev.containerId);
    // A one-shot container finishing its job is not a failure.
    if (ev.exitCode === 0 && ONE_SHOT.has(known?.restartPolicy ?? 'no')) return;
    // Counted at the time Docker saw it (a replay after a reconnect arrives late): a die older
    // than the window, or one already counted, changes nothing.
    const at = Math.min(ev.at, now);
    if (now - at >= this.s.flapWindowMs) return;
    const seen = t.dies.get(ev.containerId) ?? [];
    if (seen.includes(at)) return;
    const times = [...seen.filter((x) => now - x < this.s.flapWindowMs), at].sort((a, b) => a - b);
    t.dies.set(ev.containerId, times);
    if (times.length >= this.s.flapChanges && !t.flapping.has(ev.name)) {
      t.flapping.add(ev.name);
      this.evalSite(t, now);
    }
  }

  /** SiteFlow started a mutating operation on a site. */
  intentStarted(intent: Intent): void {
    if (!this.intents.has(intent.operationId))
      this.intents.set(intent.operationId, { ...intent, endedAt: null });
  }

  /** The operation ended; its grace period starts now. */
  intentEnded(operationId: string, at: number = this.clock.now()): void {
    const i = this.intents.get(operationId);
    if (i && i.endedAt === null) i.endedAt = at;
  }

  /**
   * Marks a site as stopped on purpose by `by` (null: no longer): while marked it is never
   * alerted on, and an alert still open for it resolves.
   */
  setStopped(host: string, site: string, by: string | null): void {
    const key = siteAlertKey(host, site);
    if (by === null) this.stopped.delete(key);
    else this.stopped.set(key, by);
  }

  /** Ids of operations known as running intents. */
  runningIntents(): string[] {
    return [...this.intents.values()].filter((i) => i.endedAt === null).map((i) => i.operationId);
  }

  /** Replaces the active silences (expired ones are ignored). */
  setSilences(silences: readonly SilenceRule[]): void {
    this.silences = [...silences];
    this.tick();
  }

  /** Whether changes of a host or site are silenced now. */
  silenced(host: string, site: string | null, now: number = this.clock.now()): boolean {
    return this.silences.some(
      (s) => s.until > now && s.host === host && (s.site === null || s.site === site),
    );
  }

  /** See {@link BackupAlertSink}. */
  backupChanged(host: string, site: string, state: BackupState, note: string | null = null): void {
    const now = this.clock.now();
    const key = `backup:${host}/${site}`;
    const id = this.byKey.get(key);
    const a = id ? this.open.get(id) : undefined;
    if (state === 'fresh') {
      if (a) this.resolve(a, now, `Backup of ${site} is fresh again.`);
      return;
    }
    if (state === 'unknown') return;
    const title = `${site} backup is ${state}`;
    const lines = note ? [note] : [];
    if (!a) {
      this.openAlert({ kind: 'backup', key, host, site, severity: 'warning', title, lines }, now);
    } else if (a.title !== title) {
      a.title = title;
      a.lines = lines;
      this.change(a, now, 'changed', `Now: ${state}${note ? ` (${note})` : ''}.`);
    }
  }

  /** Attaches crash context to an open alert; later snapshots of it carry it. */
  setContext(alertId: string, context: readonly string[]): void {
    const a = this.open.get(alertId);
    if (a) a.context = [...context];
  }

  /**
   * SiteFlow's data folder: `ok` false opens one disk alert (repeats change nothing), true
   * resolves it. `host` names the machine it is on (the SITES_ROOT host).
   */
  diskChanged(host: string, ok: boolean, note: string): void {
    const now = this.clock.now();
    const key = 'disk:siteflow';
    const id = this.byKey.get(key);
    const a = id ? this.open.get(id) : undefined;
    if (ok) {
      if (a) this.resolve(a, now, `SiteFlow's data folder has room again: ${note}.`);
      return;
    }
    if (!a)
      this.openAlert(
        {
          kind: 'disk',
          key,
          host,
          site: null,
          severity: 'critical',
          title: "SiteFlow's data folder is full",
          lines: [note, 'Records are held in memory and written when space returns.'],
        },
        now,
      );
  }

  /**
   * A notice: posted once (no reminders) as an open alert of kind `notice` under `key`; the same
   * key while it is open adds `lines` as a reply instead of a second message.
   */
  notice(o: { key: string; host: string; site: string | null; title: string; lines: string[] }): AlertRecord {
    const now = this.clock.now();
    const id = this.byKey.get(o.key);
    const a = id ? this.open.get(id) : undefined;
    if (a) {
      // The same news again (a repeated check, a restart): nothing new to say.
      if (a.title === o.title && a.lines.join('\n') === o.lines.join('\n')) return a;
      a.title = o.title;
      a.lines = o.lines;
      this.change(a, now, 'changed', [o.title, ...o.lines].join('\n'));
      return a;
    }
    return this.openAlert({ kind: 'notice', severity: 'info', ...o }, now);
  }

  /** Resolves the open notice under `key` (its condition is gone), saying `text` in its thread. */
  endNotice(key: string, text: string): void {
    const id = this.byKey.get(key);
    const a = id ? this.open.get(id) : undefined;
    if (a?.kind === 'notice') this.resolve(a, this.clock.now(), text);
  }

  /**
   * The latest checks of a site's URLs (all of them: a URL not listed is no longer checked).
   * A failing URL makes the site bad exactly like a failing container: the same alert, the
   * same hysteresis, quiet during SiteFlow's own operations (a note in their output instead).
   */
  urlChecks(host: string, site: string, results: readonly UrlCheckResult[]): void {
    const t = this.site(host, site);
    const now = this.clock.now();
    const intent = this.activeIntent(host, site, now);
    const next = new Map(results.map((r) => [r.url, r]));
    if (intent && intent.endedAt === null) {
      for (const r of results) {
        const before = t.urls.get(r.url);
        if (!r.ok && (!before || before.ok || before.error !== r.error))
          this.effects.push({
            type: 'note',
            operationId: intent.operationId,
            text: `expected: ${describeCheck(r)}: ${intent.kind} by @${intent.actor}`,
          });
      }
    }
    t.urls = next;
    if (t.observed) this.evalSite(t, now);
  }

  /**
   * The certificate an https URL of a site presented (null: none, e.g. the site is gone).
   * Alerts once at `tlsWarnDays` days left and again (critical) at `tlsCriticalDays`;
   * resolves when a renewed certificate has more days left than `tlsWarnDays`.
   */
  certificateSeen(host: string, site: string, domain: string, cert: CertificateInfo | null): void {
    const now = this.clock.now();
    const key = `cert:${host}/${site}/${domain}`;
    const id = this.byKey.get(key);
    const a = id ? this.open.get(id) : undefined;
    if (!cert) {
      if (a) this.resolve(a, now, `${domain} is no longer checked.`);
      return;
    }
    const left = daysLeft(cert.validTo, now);
    const level: AlertSeverity | null =
      left <= this.s.tlsCriticalDays ? 'critical' : left <= this.s.tlsWarnDays ? 'warning' : null;
    if (level === null) {
      if (a) this.resolve(a, now, `The certificate of ${domain} was renewed: ${left} days left.`);
      return;
    }
    const title =
      left < 0
        ? `Certificate of ${domain} has expired`
        : `Certificate of ${domain} expires in ${left} day${left === 1 ? '' : 's'}`;
    const lines = [
      `Expires ${new Date(cert.validTo).toISOString()} (${duration(Math.max(0, cert.validTo - now))} left).`,
      `Issuer: ${cert.issuer}.`,
    ];
    if (!a) {
      this.openAlert({ kind: 'certificate', key, host, site, severity: level, title, lines }, now);
    } else if (level === 'critical' && a.severity !== 'critical') {
      a.severity = 'critical';
      a.title = title;
      a.lines = lines;
      this.change(a, now, 'changed', `${title}.`);
    }
  }

  /**
   * A host's health: a disk at or above `diskAlertPercent` alerts once; below it, it recovers.
   * Paths on one filesystem (the data root and the site folder on one disk) are one disk.
   */
  hostHealth(h: HostHealth): void {
    const now = this.clock.now();
    const seen = new Set<string>();
    for (const d of h.disks) {
      const key = `disk:${h.host}/${d.what}`;
      const id = this.byKey.get(key);
      const a = id ? this.open.get(id) : undefined;
      const pct = Math.round(d.percent);
      const same = d.fsId ? seen.has(d.fsId) : false;
      if (d.fsId) seen.add(d.fsId);
      if (same || d.percent < this.s.diskAlertPercent) {
        if (a)
          this.resolve(
            a,
            now,
            same
              ? `Disk of ${h.host} (${d.what}) is on the same disk as another path, which alerts for both.`
              : `Disk of ${h.host} (${d.what}) is down to ${pct}%.`,
          );
        continue;
      }
      if (a) continue;
      const what =
        d.what === 'docker' ? 'Docker data root' : h.source === 'ssh' ? 'SITES_ROOTS' : 'SITES_ROOT';
      const alsoOn = h.disks.filter((o) => o !== d && o.fsId && o.fsId === d.fsId);
      this.openAlert(
        {
          kind: 'disk',
          key,
          host: h.host,
          site: null,
          severity: 'warning',
          title: `Disk of ${h.host} (${what}) is ${pct}% full`,
          lines: [
            `${d.path}: ${formatBytes(d.usedBytes)} of ${formatBytes(d.totalBytes)} used.`,
            ...alsoOn.map(
              (o) =>
                `${o.path} (${o.what === 'docker' ? 'Docker data root' : 'site folders'}) is on the same disk.`,
            ),
            ...(h.df ? [`${formatBytes(h.df.prunableBytes)} can be freed with /prune ${h.host}.`] : []),
          ],
        },
        now,
      );
    }
  }

  /**
   * The latest CPU/memory samples of one site's containers that have a resource rule (all of
   * them: a container or rule no longer listed resolves its alert). Usage above the rule's
   * percent in every sample for its whole window opens one `resource` alert per container and
   * metric (not while SiteFlow's own operation on the site runs, nor in its grace); below it
   * for `recoverAfterMs` (at least one more sample) resolves it. A spike between samples below
   * the threshold never alerts.
   */
  resourceSamples(host: string, site: string, samples: readonly ResourceSample[]): void {
    const now = this.clock.now();
    const prefix = `resource:${host}/${site}/`;
    const seen = new Set<string>();
    for (const x of samples) {
      const key = `${prefix}${x.container}:${x.metric}`;
      seen.add(key);
      if (x.pending) continue;
      let t = this.resources.get(key);
      if (!t) {
        t = { overSince: null, underSince: null, peak: 0, lastAt: null };
        this.resources.set(key, t);
      }
      // The same sample again (another change of the site): nothing new was measured.
      if (x.at !== null && x.at === t.lastAt) continue;
      t.lastAt = x.at;
      const over = x.percent !== null && x.percent > x.rule.percent;
      if (over) {
        t.overSince ??= now;
        t.underSince = null;
        t.peak = Math.max(t.peak, x.percent!);
      } else {
        t.underSince ??= now;
        t.overSince = null;
        t.peak = 0;
      }
      const id = this.byKey.get(key);
      const a = id ? this.open.get(id) : undefined;
      const what = x.metric === 'cpu' ? 'CPU' : 'memory';
      if (a) {
        if (!over && now - t.underSince! >= this.tuned(a.kind, host, site, a.severity).recoverAfterMs)
          this.resolve(
            a,
            now,
            `${x.container} ${what} is back below ${x.rule.percent}%${x.percent === null ? ' (not running)' : ` (${Math.round(x.percent)}%)`} after ${duration(now - a.openedAt)}.`,
          );
        continue;
      }
      if (!over || now - t.overSince! < x.rule.windowMs) continue;
      if (this.quietEnd(host, site, now) > now) continue;
      this.openAlert(
        {
          kind: 'resource',
          key,
          host,
          site,
          severity: 'warning',
          title: `${x.container} ${what} above ${x.rule.percent}% for ${duration(now - t.overSince!)}`,
          lines: [
            `${what} ${Math.round(x.percent!)}% now, peak ${Math.round(t.peak)}%; rule ${x.rule.percent}% over ${duration(x.rule.windowMs)}${x.metric === 'memory' ? ' (of its memory limit, or the host memory without one)' : ' (100% is one core)'}.`,
          ],
        },
        t.overSince!,
      );
    }
    for (const key of [...this.resources.keys()])
      if (key.startsWith(prefix) && !seen.has(key)) this.resources.delete(key);
    for (const a of [...this.open.values()])
      if (a.kind === 'resource' && a.key.startsWith(prefix) && !seen.has(a.key))
        this.resolve(
          a,
          now,
          `${a.title.split(' ')[0]} is no longer measured (removed, or its rule is gone).`,
        );
  }

  /** Acknowledges an open alert: no more reminders. Null when no such open alert. */
  ack(alertId: string, by: string): AlertRecord | null {
    const a = this.open.get(alertId);
    if (!a) return null;
    if (a.ackedBy) return a;
    a.ackedBy = by;
    this.change(a, this.clock.now(), 'acked', `Acknowledged by ${by}.`);
    return a;
  }

  /** Re-evaluates everything whose outcome depends on time passing. */
  tick(): void {
    const now = this.clock.now();
    for (const [id, i] of this.intents) {
      if (i.endedAt !== null && now - i.endedAt > this.s.actionGraceMs + 60_000) this.intents.delete(id);
    }
    for (const [name, h] of this.hosts) this.evalHost(name, h, now);
    for (const [k, t] of this.sites) {
      for (const [cid, times] of t.dies) {
        const kept = times.filter((x) => now - x < this.s.flapWindowMs);
        if (kept.length) t.dies.set(cid, kept);
        else t.dies.delete(cid);
      }
      if (t.flapping.size) {
        const flappingIds = new Set([...t.dies.entries()].filter(([, v]) => v.length >= 2).map(([k]) => k));
        for (const n of [...t.flapping]) {
          const c = t.obs?.containers.find((x) => x.name === n);
          if (!c || !flappingIds.has(c.id)) t.flapping.delete(n);
        }
      }
      this.evalSite(t, now);
      // A removed site with nothing left to judge is forgotten.
      if (t.obs === null && t.dies.size === 0 && !this.byKey.has(siteAlertKey(t.host, t.name)))
        this.sites.delete(k);
    }
    for (const a of [...this.open.values()]) {
      if (a.status !== 'open') continue;
      const quiet = this.silenced(a.host, a.site, now);
      if (!a.announced && !quiet && !a.parentId) {
        a.announced = true;
        a.remindedAt = now;
        this.effects.push({
          type: 'alert',
          alert: snap(a),
          change: 'announced',
          post: true,
          edit: false,
          reply: null,
        });
        continue;
      }
      const reminderMs = this.tuned(a.kind, a.host, a.site, a.severity).reminderMs;
      if (
        reminderMs > 0 &&
        a.kind !== 'notice' &&
        a.announced &&
        !quiet &&
        !a.ackedBy &&
        !a.parentId &&
        now - a.remindedAt >= reminderMs
      ) {
        a.remindedAt = now;
        this.effects.push({
          type: 'alert',
          alert: snap(a),
          change: 'reminder',
          post: false,
          edit: false,
          reply: `Reminder: ${a.title} for ${duration(now - a.openedAt)}.`,
        });
      }
    }
  }

  // ------------------------------------------------------------------ rules

  private evalHost(name: string, h: HostTrack, now: number): void {
    if (h.reachable !== false || h.downSince === null) return;
    if (this.byKey.has(`host:${name}`)) return;
    if (now - h.downSince < this.s.hostDownAfterMs) return;
    const sites = [...this.sites.values()].filter((t) => t.host === name && t.obs).map((t) => t.name);
    // Site alerts of the last moments before the outage (a stopping engine stops its containers
    // first) become part of the incident; the first one's message is turned into it.
    const before = [...this.open.values()]
      .filter(
        (x) =>
          x.kind === 'site' &&
          x.host === name &&
          x.parentId === null &&
          x.openedAt >= h.downSince! - this.s.stormWindowMs,
      )
      .sort((x, y) => x.openedAt - y.openedAt);
    const carrier = before.find((x) => x.announced);
    const a = this.openAlert(
      {
        kind: 'host',
        key: `host:${name}`,
        host: name,
        site: null,
        severity: 'critical',
        title: `Host ${name} is unreachable`,
        lines: [h.reason ?? 'The Docker engine does not answer.', `${sites.length} site(s) on it.`],
      },
      h.downSince,
      null,
      carrier?.id,
    );
    for (const x of before) {
      x.parentId = a.id;
      x.updatedAt = now;
      this.effects.push({
        type: 'alert',
        alert: snap(x),
        change: 'changed',
        post: false,
        edit: false,
        reply: null,
      });
    }
    if (sites.length && a.announced)
      this.effects.push({
        type: 'alert',
        alert: snap(a),
        change: 'changed',
        post: false,
        edit: false,
        reply: `Sites on ${name} (state unknown until it answers): ${sites.join(', ')}`,
      });
  }

  private evalSite(t: SiteTrack, now: number): void {
    const h = this.hosts.get(t.host);
    // While the engine does not answer, the last known state is stale: judge nothing.
    if (h?.reachable === false || !t.observed) return;
    const obs = t.obs;
    const flapping = t.flapping.size > 0;
    const bad =
      flapping ||
      (obs !== null && (obs.state === 'down' || obs.state === 'degraded')) ||
      (obs !== null && failingUrls(t).length > 0);
    if (bad) {
      t.badSince ??= now;
      t.goodSince = null;
    } else {
      t.goodSince ??= now;
      t.badSince = null;
    }
    const key = siteAlertKey(t.host, t.name);
    const id = this.byKey.get(key);
    const a = id ? this.open.get(id) : undefined;
    const stoppedBy = this.stopped.get(key);
    if (stoppedBy !== undefined) {
      if (a) this.resolve(a, now, `${t.name} was stopped by ${stoppedBy}.`);
      return;
    }
    if (a) {
      if (!obs) {
        this.resolve(a, now, `${t.name} no longer exists.`);
        return;
      }
      if (!bad) {
        if (now - t.goodSince! >= this.tuned(a.kind, a.host, a.site, a.severity).recoverAfterMs)
          this.resolve(a, now, `${t.name} recovered after ${duration(now - a.openedAt)}.`);
        return;
      }
      this.refreshSiteAlert(a, t, now);
      return;
    }
    if (!bad || !obs) return;
    const quietEnd = this.quietEnd(t.host, t.name, now);
    if (quietEnd === Number.POSITIVE_INFINITY || quietEnd > now) return;
    if (now < t.settleUntil) return;
    // Containers just created and not started yet: wait for their start (the tick looks again).
    if (
      obs.containers.some(
        (c) => c.createdNotStartedAt && now - c.createdNotStartedAt < CREATED_START_GRACE_MS,
      )
    )
      return;
    const since = Math.max(t.badSince!, quietEnd);
    const downAfterMs = this.tuned('site', t.host, t.name, severityOf(obs.state, flapping)).downAfterMs;
    if (!flapping && now - since < downAfterMs) return;
    // An engine shutting down stops its containers first: only an engine that still answers
    // after the change makes it a site alert (otherwise it becomes the host incident).
    const host = this.host(t.host);
    if (host.confirmedAt < t.badSince!) {
      if (!host.probing) {
        host.probing = true;
        this.effects.push({ type: 'probe', host: t.host });
      }
      return;
    }
    // Storm control: several sites of one host going bad within the window.
    const storm = this.openStormFor(t.host);
    const peers = [...this.sites.values()].filter(
      (o) =>
        o.host === t.host &&
        o.badSince !== null &&
        now - o.badSince <= this.s.stormWindowMs &&
        o.obs !== null &&
        this.quietEnd(o.host, o.name, now) <= now,
    );
    let parent: AlertRecord | null = storm ?? null;
    if (!parent && this.s.stormThreshold > 1 && peers.length >= this.s.stormThreshold) {
      parent = this.openAlert(
        {
          kind: 'storm',
          key: `storm:${t.host}`,
          host: t.host,
          site: null,
          severity: 'critical',
          title: `${peers.length} sites on ${t.host} changed at once`,
          lines: ['Each site is listed in the thread; recovery is reported here once.'],
        },
        now,
      );
    } else if (
      !parent &&
      peers.length > 1 &&
      this.s.stormThreshold > 1 &&
      now - t.badSince! < this.s.groupWaitMs
    ) {
      return; // wait a moment: a storm may be building
    }
    const sev = severityOf(obs.state, flapping, t);
    const failing = failingOf(t);
    const na = this.openAlert(
      {
        kind: 'site',
        key,
        host: t.host,
        site: t.name,
        severity: sev,
        title: titleOf(t, obs.state, flapping),
        lines: siteLines(t, failing),
      },
      now,
      parent,
    );
    for (const f of failing) t.listed.add(f.name);
    for (const u of failingUrls(t)) t.listed.add(`url:${u.url}`);
    // A child is listed in its incident's thread by its own post; a lone alert lists its containers.
    if (!parent && na.announced && failing.length)
      this.effects.push({
        type: 'alert',
        alert: snap(na),
        change: 'changed',
        post: false,
        edit: false,
        reply: `down: ${failing.map(describeContainer).join(', ')}`,
      });
  }

  /** Keeps an open site alert in step: severity, title, newly failing containers. */
  private refreshSiteAlert(a: AlertRecord, t: SiteTrack, now: number): void {
    const obs = t.obs!;
    const flapping = t.flapping.size > 0;
    const title = titleOf(t, obs.state, flapping);
    const severity = severityOf(obs.state, flapping, t);
    const failing = failingOf(t);
    if (t.seedListed) {
      t.seedListed = false;
      for (const f of failing) t.listed.add(f.name);
    }
    const fresh = failing.filter((f) => !t.listed.has(f.name));
    for (const f of fresh) t.listed.add(f.name);
    const freshUrls = failingUrls(t).filter((u) => !t.listed.has(`url:${u.url}`));
    for (const u of freshUrls) t.listed.add(`url:${u.url}`);
    const titleChanged = title !== a.title || severity !== a.severity;
    if (!titleChanged && fresh.length === 0 && freshUrls.length === 0) return;
    a.title = title;
    a.severity = severity;
    a.lines = siteLines(t, failing);
    const parts: string[] = [];
    if (titleChanged) {
      parts.push(
        flapping
          ? `Now flapping: ${[...t.flapping].join(', ')} restarted ${this.s.flapChanges}+ times within ${duration(this.s.flapWindowMs)}.`
          : `Now ${obs.state}.`,
      );
    }
    if (fresh.length) parts.push(`down: ${fresh.map(describeContainer).join(', ')}`);
    for (const u of freshUrls) parts.push(`URL failing: ${describeCheck(u)}`);
    this.change(a, now, 'changed', parts.join('\n'), titleChanged);
  }

  /** End of the quiet period SiteFlow's own operations give a site (Infinity while one runs). */
  private quietEnd(host: string, site: string, _now: number): number {
    let end = 0;
    for (const i of this.intents.values()) {
      if (i.host !== host || i.site !== site) continue;
      if (i.endedAt === null) return Number.POSITIVE_INFINITY;
      end = Math.max(end, i.endedAt + this.s.actionGraceMs);
    }
    return end;
  }

  private activeIntent(host: string, site: string, now: number): IntentTrack | null {
    let best: IntentTrack | null = null;
    for (const i of this.intents.values()) {
      if (i.host !== host || i.site !== site) continue;
      if (i.endedAt === null) return i;
      if (now < i.endedAt + this.s.actionGraceMs) best = i;
    }
    return best;
  }

  private openStormFor(host: string): AlertRecord | undefined {
    const id = this.byKey.get(`storm:${host}`);
    return id ? this.open.get(id) : undefined;
  }

  private openAlert(
    o: {
      kind: AlertKind;
      key: string;
      host: string;
      site: string | null;
      severity: AlertSeverity;
      title: string;
      lines: string[];
    },
    at: number,
    parent: AlertRecord | null = null,
    takeOver?: string,
  ): AlertRecord {
    const now = this.clock.now();
    const silenced = this.silenced(o.host, o.site, now);
    const a: AlertRecord = {
      id: this.newId(),
      ...o,
      status: 'open',
      silenced,
      parentId: parent?.id ?? null,
      openedAt: at,
      updatedAt: now,
      resolvedAt: null,
      ackedBy: null,
      remindedAt: now,
      announced: !silenced && (parent === null || parent.announced),
    };
    this.open.set(a.id, a);
    this.byKey.set(a.key, a.id);
    this.effects.push({
      type: 'alert',
      alert: snap(a),
      change: 'opened',
      post: a.announced,
      edit: false,
      reply: null,
      ...(takeOver && a.announced ? { takeOver } : {}),
    });
    return a;
  }

  private change(a: AlertRecord, now: number, change: 'changed' | 'acked', reply: string, edit = true): void {
    a.updatedAt = now;
    const deliver = a.announced && !this.silenced(a.host, a.site, now);
    const child = a.parentId !== null;
    this.effects.push({
      type: 'alert',
      alert: snap(a),
      change,
      post: false,
      edit: deliver && edit && !child,
      reply: deliver && reply && !child ? reply : null,
    });
  }

  private resolve(a: AlertRecord, now: number, text: string): void {
    a.status = 'resolved';
    a.resolvedAt = now;
    a.updatedAt = now;
    this.open.delete(a.id);
    if (this.byKey.get(a.key) === a.id) this.byKey.delete(a.key);
    if (a.kind === 'site' && a.site) {
      const t = this.sites.get(`${a.host}/${a.site}`);
      t?.listed.clear();
    }
    const quiet = this.silenced(a.host, a.site, now);
    const child = a.parentId !== null;
    this.effects.push({
      type: 'alert',
      alert: snap(a),
      change: 'resolved',
      post: false,
      edit: a.announced && !child,
      reply: a.announced && !quiet && !child ? text : null,
    });
    // A host incident's children (site alerts taken into it) end with it, quietly: sites still
    // bad once the engine answers again are judged afresh.
    if (a.kind === 'host') {
      for (const x of [...this.open.values()]) if (x.parentId === a.id) this.resolve(x, now, '');
    }
    // An incident resolves, with one message, when its last child did.
    for (const p of [...this.open.values()]) {
      if (p.kind !== 'storm' || p.id !== a.parentId) continue;
      const left = [...this.open.values()].some((x) => x.parentId === p.id);
      if (!left)
        this.resolve(p, now, `All sites of this incident recovered after ${duration(now - p.openedAt)}.`);
    }
  }

  private site(host: string, name: string): SiteTrack {
    const k = `${host}/${name}`;
    let t = this.sites.get(k);
    if (!t) {
      t = {
        host,
        name,
        obs: null,
        badSince: null,
        goodSince: null,
        listed: new Set(),
        dies: new Map(),
        flapping: new Set(),
        settleUntil: 0,
        seedListed: false,
        observed: false,
        urls: new Map(),
      };
      this.sites.set(k, t);
    }
    return t;
  }

  private host(name: string): HostTrack {
    let h = this.hosts.get(name);
    if (!h) {
      h = { reachable: null, reason: null, downSince: null, confirmedAt: 0, probing: false };
      this.hosts.set(name, h);
    }
    return h;
  }
}

/** Dedupe key of a site's alert. */
export function siteAlertKey(host: string, site: string): string {
  return `site:${host}/${site}`;
}

function snap(a: AlertRecord): AlertRecord {
  return { ...a, lines: [...a.lines] };
}

function severityOf(state: SiteState, flapping: boolean, t?: SiteTrack): AlertSeverity {
  if (flapping || state === 'down' || (t && failingUrls(t).length)) return 'critical';
  return 'warning';
}

function titleOf(t: SiteTrack, state: SiteState, flapping: boolean): string {
  if (flapping) return `${t.name} is flapping`;
  // A failing URL makes the site down for its visitors, whatever its containers do.
  return `${t.name} is ${state === 'degraded' && !failingUrls(t).length ? 'degraded' : 'down'}`;
}

function failingUrls(t: SiteTrack): UrlCheckResult[] {
  return [...t.urls.values()].filter((u) => !u.ok);
}

function failingOf(t: SiteTrack): ObservedContainer[] {
  return (t.obs?.containers ?? []).filter(
    (c) => c.status !== 'up' && c.status !== 'completed' && c.status !== 'starting',
  );
}

function describeContainer(c: ObservedContainer): string {
  if (c.status === 'down' && c.exitCode !== null) return `${c.name} (exit ${c.exitCode})`;
  return c.status === 'down' ? c.name : `${c.name} (${c.status})`;
}

function siteLines(t: SiteTrack, failing: ObservedContainer[]): string[] {
  const total = t.obs?.containers.filter((c) => c.status !== 'completed').length ?? 0;
  const urls = failingUrls(t);
  const lines = failing.length || !urls.length ? [`${failing.length} of ${total} container(s) not up.`] : [];
  for (const u of urls) lines.push(`URL ${describeCheck(u)}`);
  if (t.flapping.size) lines.push(`Flapping: ${[...t.flapping].join(', ')}`);
  return lines;
}

/** `45s`, `3m 20s`, `2h 5m`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? ` ${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  return `${h}h${m % 60 ? ` ${m % 60}m` : ''}`;
}
