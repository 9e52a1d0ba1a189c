/**
 * Live state: an in-memory model of every host -> site -> container, with the last CPU and
 * memory sample, each site's backup status, open alerts and silences, and host reachability.
 * The StateReconciler fills it from the engines; the status page, /metrics and (later) the
 * monitor read it. Reads are cheap: `snapshot()` returns an immutable view that is rebuilt at
 * most once per change. Every change bumps `version` and is announced to subscribers with
 * what changed, so a reader can patch instead of re-reading everything.
 */
import type { ContainerInfo, ContainerStats, SiteInfo, SiteState } from './engine.js';

/** Freshness of a site's newest backup, as the NAS backup checker judges it. */
export type BackupState = 'fresh' | 'stale' | 'missing' | 'error' | 'unknown';

/** A site's backup status slot (filled by the backup checker; null until it has looked). */
export interface BackupStatus {
  state: BackupState;
  /** Epoch ms of the newest backup found; null when none. */
  newestAt: number | null;
  sizeBytes: number | null;
  /** Epoch ms of the check. */
  checkedAt: number;
  /** A short human note (e.g. why it is an error); never a secret. */
  message: string | null;
}

/** Severity of an alert. */
export type AlertSeverity = 'critical' | 'warning' | 'info';

/** An open alert (filled by the monitor). */
export interface LiveAlert {
  id: string;
  severity: AlertSeverity;
  title: string;
  message: string | null;
  host: string | null;
  site: string | null;
  container: string | null;
  /** Epoch ms the condition started. */
  since: number;
}

/** An active silence (filled by the monitor). */
export interface LiveSilence {
  id: string;
  host: string | null;
  site: string | null;
  /** Epoch ms it ends. */
  until: number;
  by: string;
  reason: string | null;
}

/** A container with its latest resource sample (null until sampled, or when not running). */
export interface LiveContainer extends ContainerInfo {
  stats: ContainerStats | null;
}

/** One site (compose project) on one host. */
export interface LiveSite {
  /** `host/name`: unique across hosts. */
  key: string;
  host: string;
  name: string;
  state: SiteState;
  projectDir: string | null;
  composeFiles: readonly string[];
  containers: readonly LiveContainer[];
  backup: BackupStatus | null;
  /**
   * Drifted services (service -> what changed), filled by the drift check: the container runs
   * another config than its compose file and `.env` now give. Absent until checked.
   */
  drift?: Readonly<Record<string, string>>;
}

/** One Docker host; `reachable` is null before the first attempt. */
export interface LiveHost {
  name: string;
  reachable: boolean | null;
  /** Why not reachable. */
  reason: string | null;
  /** Epoch ms of the last successful listing or failure. */
  checkedAt: number | null;
  sites: readonly LiveSite[];
}

/** An immutable view of the whole state at one version. */
export interface LiveSnapshot {
  version: number;
  /** Epoch ms of the change that made this version. */
  changedAt: number;
  hosts: readonly LiveHost[];
  alerts: readonly LiveAlert[];
  silences: readonly LiveSilence[];
}

/** What one update changed. Site keys include removed sites (look them up in the snapshot). */
export interface StateChange {
  version: number;
  at: number;
  /** Keys (`host/name`) of sites added, changed or removed. */
  sites: readonly string[];
  /** Hosts whose reachability or list of sites changed. */
  hosts: readonly string[];
  /** True when sites were added or removed (a graph needs a new layout). */
  structural: boolean;
  alerts: boolean;
  silences: boolean;
}

/** Called synchronously after each change; must be quick and must not throw. */
export type StateListener = (change: StateChange) => void;

/** How a site's state follows from its containers (src/docker/status.ts `siteState`). */
export type SiteStateRule = (
  containers: readonly Pick<ContainerInfo, 'status'>[],
  hasComposeFile: boolean,
) => SiteState;

/** Options of {@link LiveState}. */
export interface LiveStateOptions {
  /** Hosts known up front (configuration order), shown even before their first listing. */
  hosts?: readonly string[];
  /** The site-state rule; injected so core does not depend on the Docker adapter. */
  siteState: SiteStateRule;
  clock?: { now(): number };
}

interface HostRec {
  name: string;
  reachable: boolean | null;
  reason: string | null;
  checkedAt: number | null;
  /** Site name -> immutable site (backup merged at snapshot time). */
  sites: Map<string, LiveSite>;
}

/** Site key of a host and site name. */
export function siteKey(host: string, site: string): string {
  return `${host}/${site}`;
}

/**
 * The in-memory live state. Update methods compare before they replace, so an unchanged
 * listing costs no version bump and no event.
 */
export class LiveState {
  private readonly hosts = new Map<string, HostRec>();
  private readonly backups = new Map<string, BackupStatus>();
  private readonly drifts = new Map<string, Readonly<Record<string, string>>>();
  /** `host/containerId` -> site name, for event-driven updates by id. */
  private readonly containerSite = new Map<string, string>();
  private readonly stats = new Map<string, ContainerStats>();
  private alerts: readonly LiveAlert[] = Object.freeze([]);
  private silences: readonly LiveSilence[] = Object.freeze([]);
  private readonly listeners = new Set<StateListener>();
  private readonly rule: SiteStateRule;
  private readonly clock: { now(): number };
  private ver = 0;
  private changedAt = 0;
  private cached: LiveSnapshot | null = null;

  constructor(opts: LiveStateOptions) {
    this.rule = opts.siteState;
    this.clock = opts.clock ?? { now: () => Date.now() };
    for (const h of opts.hosts ?? []) this.host(h);
    this.changedAt = this.clock.now();
  }

  /** The current version; it grows by one per change. */
  get version(): number {
    return this.ver;
  }

  /** An immutable view of everything; the same object until the next change. */
  snapshot(): LiveSnapshot {
    if (this.cached) return this.cached;
    const hosts = [...this.hosts.values()].map((h) =>
      Object.freeze({
        name: h.name,
        reachable: h.reachable,
        reason: h.reason,
        checkedAt: h.checkedAt,
        sites: Object.freeze(
          [...h.sites.values()].sort((a, b) => a.name.localeCompare(b.name)).map((s) => this.withBackup(s)),
        ),
      }),
    );
    this.cached = Object.freeze({
      version: this.ver,
      changedAt: this.changedAt,
      hosts: Object.freeze(hosts),
      alerts: this.alerts,
      silences: this.silences,
    });
    return this.cached;
  }

  /** One site by host and name from the current snapshot. */
  site(host: string, name: string): LiveSite | undefined {
    const s = this.hosts.get(host)?.sites.get(name);
    return s ? this.withBackup(s) : undefined;
  }

  /** Listens to changes; returns the unsubscribe. */
  subscribe(listener: StateListener): () => void {
    const l: StateListener = (c) => listener(c);
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  }

  /** Records whether a host answered (and why not). */
  setHostReachability(host: string, reachable: boolean, reason: string | null = null): void {
    const h = this.host(host);
    h.checkedAt = this.clock.now();
    const why = reachable ? null : reason;
    if (h.reachable === reachable && h.reason === why) return;
    h.reachable = reachable;
    h.reason = why;
    this.emit({ hosts: [host] });
  }

  /**
   * Replaces the sites of a host with a full listing (which also proves the host reachable).
   * Sites missing from the listing are removed; container stats are kept by container id.
   */
  replaceHostSites(host: string, sites: readonly SiteInfo[]): void {
    const h = this.host(host);
    const changed: string[] = [];
    let structural = false;
    const seen = new Set<string>();
    for (const info of sites) {
      seen.add(info.name);
      const before = h.sites.get(info.name);
      const next = this.buildSite(host, info);
      if (!before) structural = true;
      else if (sameSite(before, next)) continue;
      else if (containerIds(before) !== containerIds(next)) structural = true;
      this.indexSite(host, before ?? null, next);
      h.sites.set(info.name, next);
      changed.push(next.key);
    }
    for (const [name, s] of h.sites) {
      if (seen.has(name)) continue;
      this.indexSite(host, s, null);
      h.sites.delete(name);
      changed.push(s.key);
      structural = true;
    }
    const reachChanged = h.reachable !== true;
    h.reachable = true;
    h.reason = null;
    h.checkedAt = this.clock.now();
    if (changed.length || reachChanged)
      this.emit({ sites: changed, hosts: structural || reachChanged ? [host] : [], structural });
  }

  /**
   * Puts one container (from an inspect after an engine event) into its site, creating the
   * site when new. Containers outside compose (no project label) are not sites and ignored.
   */
  putContainer(host: string, info: ContainerInfo): void {
    if (!info.project) return;
    const h = this.host(host);
    const idKey = `${host}/${info.id}`;
    const formerSite = this.containerSite.get(idKey);
    let structural = false;
    const changed: string[] = [];
    if (formerSite !== undefined && formerSite !== info.project) {
      const k = this.dropContainer(h, formerSite, info.id);
      if (k) {
        changed.push(k.key);
        structural ||= k.structural;
      }
    }
    const before = h.sites.get(info.project);
    const others = (before?.containers ?? []).filter((c) => c.id !== info.id);
    const replaced = before?.containers.some((c) => c.id === info.id) ?? false;
    const containers = [...others, info].sort(byName);
    const next = this.buildSite(host, {
      host,
      name: info.project,
      projectDir: before?.projectDir ?? null,
      composeFiles: [...(before?.composeFiles ?? [])],
      containers,
      state: 'empty',
    });
    if (before && sameSite(before, next)) {
      if (changed.length) this.emit({ sites: changed, hosts: [host], structural });
      return;
    }
    if (!before || !replaced) structural = true;
    this.indexSite(host, before ?? null, next);
    h.sites.set(info.project, next);
    changed.push(next.key);
    this.emit({ sites: changed, hosts: structural ? [host] : [], structural });
  }

  /** Removes a container that no longer exists (a site left with nothing is removed too). */
  removeContainer(host: string, containerId: string): void {
    const h = this.hosts.get(host);
    if (!h) return;
    const site = this.containerSite.get(`${host}/${containerId}`);
    if (site === undefined) return;
    const r = this.dropContainer(h, site, containerId);
    if (r) this.emit({ sites: [r.key], hosts: [host], structural: true });
  }

  /** Which site holds a container (by full id), if known. */
  siteOfContainer(host: string, containerId: string): string | undefined {
    return this.containerSite.get(`${host}/${containerId}`);
  }

  /** Stores resource samples of one host's containers (one change for the whole batch). */
  setStats(
    host: string,
    samples: ReadonlyArray<{ containerId: string; stats: ContainerStats | null }>,
  ): void {
    const h = this.hosts.get(host);
    if (!h) return;
    const touched = new Set<string>();
    for (const { containerId, stats } of samples) {
      const k = `${host}/${containerId}`;
      const site = this.containerSite.get(k);
      // A container removed while it was being sampled is not kept (nothing would delete it).
      if (stats && site !== undefined) this.stats.set(k, stats);
      else this.stats.delete(k);
      if (site !== undefined) touched.add(site);
    }
    const changed: string[] = [];
    for (const name of touched) {
      const s = h.sites.get(name);
      if (!s) continue;
      const next = Object.freeze({
        ...s,
        containers: Object.freeze(
          s.containers.map((c) => Object.freeze({ ...c, stats: this.stats.get(`${host}/${c.id}`) ?? null })),
        ),
      });
      h.sites.set(name, next);
      changed.push(s.key);
    }
    if (changed.length) this.emit({ sites: changed });
  }

  /** Fills a site's backup slot (the NAS backup checker calls this). */
  setBackup(host: string, site: string, status: BackupStatus | null): void {
    const k = siteKey(host, site);
    const before = this.backups.get(k) ?? null;
    if (JSON.stringify(before) === JSON.stringify(status)) return;
    if (status) this.backups.set(k, Object.freeze({ ...status }));
    else this.backups.delete(k);
    this.emit({ sites: [k] });
  }

  /** Fills a site's drift slot (the drift check calls this); empty or null: no drift. */
  setDrift(host: string, site: string, drift: Record<string, string> | null): void {
    const k = siteKey(host, site);
    const next = drift && Object.keys(drift).length ? drift : null;
    if (JSON.stringify(this.drifts.get(k) ?? null) === JSON.stringify(next)) return;
    if (next) this.drifts.set(k, Object.freeze({ ...next }));
    else this.drifts.delete(k);
    this.emit({ sites: [k] });
  }

  /** Replaces the open alerts (the monitor calls this). */
  setAlerts(alerts: readonly LiveAlert[]): void {
    if (JSON.stringify(alerts) === JSON.stringify(this.alerts)) return;
    this.alerts = Object.freeze(alerts.map((a) => Object.freeze({ ...a })));
    this.emit({ alerts: true });
  }

  /** Replaces the active silences (the monitor calls this). */
  setSilences(silences: readonly LiveSilence[]): void {
    if (JSON.stringify(silences) === JSON.stringify(this.silences)) return;
    this.silences = Object.freeze(silences.map((s) => Object.freeze({ ...s })));
    this.emit({ silences: true });
  }

  private host(name: string): HostRec {
    let h = this.hosts.get(name);
    if (!h) {
      h = { name, reachable: null, reason: null, checkedAt: null, sites: new Map() };
      this.hosts.set(name, h);
    }
    return h;
  }

  private buildSite(host: string, info: SiteInfo): LiveSite {
    const containers = [...info.containers]
      .sort(byName)
      .map((c) => Object.freeze({ ...c, stats: this.stats.get(`${host}/${c.id}`) ?? null }));
    return Object.freeze({
      key: siteKey(host, info.name),
      host,
      name: info.name,
      state: this.rule(containers, info.composeFiles.length > 0),
      projectDir: info.projectDir,
      composeFiles: Object.freeze([...info.composeFiles]),
      containers: Object.freeze(containers),
      backup: null,
    });
  }

  private withBackup(s: LiveSite): LiveSite {
    const b = this.backups.get(s.key);
    const d = this.drifts.get(s.key);
    if (!b && !d) return s;
    return Object.freeze({ ...s, ...(b ? { backup: b } : {}), ...(d ? { drift: d } : {}) });
  }

  /** Keeps the container-id index in step with a site replacement (next null: removed). */
  private indexSite(host: string, before: LiveSite | null, next: LiveSite | null): void {
    for (const c of before?.containers ?? []) {
      this.containerSite.delete(`${host}/${c.id}`);
      if (!next?.containers.some((n) => n.id === c.id)) this.stats.delete(`${host}/${c.id}`);
    }
    for (const c of next?.containers ?? []) this.containerSite.set(`${host}/${c.id}`, next!.name);
  }

  private dropContainer(
    h: HostRec,
    siteName: string,
    containerId: string,
  ): { key: string; structural: boolean } | null {
    const before = h.sites.get(siteName);
    if (!before) return null;
    const containers = before.containers.filter((c) => c.id !== containerId);
    if (containers.length === before.containers.length) return null;
    if (containers.length === 0 && before.composeFiles.length === 0) {
      this.indexSite(h.name, before, null);
      h.sites.delete(siteName);
      return { key: before.key, structural: true };
    }
    const next = this.buildSite(h.name, {
      host: h.name,
      name: siteName,
      projectDir: before.projectDir,
      composeFiles: [...before.composeFiles],
      containers,
      state: 'empty',
    });
    this.indexSite(h.name, before, next);
    h.sites.set(siteName, next);
    return { key: before.key, structural: true };
  }

  private emit(partial: Partial<Omit<StateChange, 'version' | 'at'>>): void {
    this.ver++;
    this.changedAt = this.clock.now();
    this.cached = null;
    const change: StateChange = {
      version: this.ver,
      at: this.changedAt,
      sites: partial.sites ?? [],
      hosts: partial.hosts ?? [],
      structural: partial.structural ?? false,
      alerts: partial.alerts ?? false,
      silences: partial.silences ?? false,
    };
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // A reader's failure must never break the writer.
      }
    }
  }
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name.localeCompare(b.name);
}

function containerIds(s: LiveSite): string {
  return s.containers.map((c) => c.id).join(',');
}

/** Equal in everything a reader sees (stats are compared by sample time). */
function sameSite(a: LiveSite, b: LiveSite): boolean {
  if (a.state !== b.state || a.projectDir !== b.projectDir) return false;
  if (a.composeFiles.join('\n') !== b.composeFiles.join('\n')) return false;
  if (a.containers.length !== b.containers.length) return false;
  for (let i = 0; i < a.containers.length; i++) {
    const x = a.containers[i]!;
    const y = b.containers[i]!;
    if (x.stats?.at !== y.stats?.at) return false;
    const { stats: _xs, ...xr } = x;
    const { stats: _ys, ...yr } = y;
    if (JSON.stringify(xr) !== JSON.stringify(yr)) return false;
  }
  return true;
}
