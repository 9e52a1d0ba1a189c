/**
 * Checks the NAS backup folder of every known site: the sites of every host (plus the ones
 * named in NAS_BACKUP_MAP), probed over one connection, classified, kept in SQLite and put
 * into the live state's backup slot. Checks never overlap: a check asked for while a full
 * check runs joins it, others wait their turn. State changes are announced through `onChange`.
 */

import type { BackupAlertSink } from '../core/alerts.js';
import {
  type BackupChange,
  type BackupProbe,
  type BackupReport,
  type BackupResult,
  type BackupService,
  type BackupTarget,
  backupPathFor,
  classifyBackup,
  failedResult,
  toBackupStatus,
} from '../core/backup.js';
import { HOST_ANSWER_MS, settleWithin } from '../core/deadline.js';
import type { HostRegistry } from '../core/engine.js';
import { describeError } from '../core/errors.js';
import type { BackupStatus } from '../core/live-state.js';
import type { Clock, Logger } from '../core/ports.js';
import type { BackupStore } from '../db/sqlite-backup-store.js';

/** Where results go besides the store: the live state's per-site backup slot. */
export interface BackupSink {
  setBackup(host: string, site: string, status: BackupStatus | null): void;
}

/** Options of {@link BackupChecker}. */
export interface BackupCheckerOptions {
  probe: BackupProbe;
  hosts: HostRegistry;
  /** NAS_BACKUP_ROOT; empty when only mapped sites are checked. */
  root: string;
  /** NAS_BACKUP_MAP: site -> folder. */
  map: ReadonlyMap<string, string>;
  /** A newest backup older than this is stale. */
  staleAfterMs: number;
  store: BackupStore;
  state?: BackupSink;
  clock: Clock;
  logger: Logger;
  /** Called for every site whose state differs from the last known one (first results too). */
  onChange?: (change: BackupChange) => void;
  /**
   * The monitor: told every result (it ignores repeats), so an alert opens again after a
   * restart. A site known only from NAS_BACKUP_MAP is reported under host {@link NAS_PSEUDO_HOST}.
   */
  alerts?: BackupAlertSink;
}

/** Host name under which sites that run on no host (mapped only) are reported to the monitor. */
export const NAS_PSEUDO_HOST = 'nas';

/** The NAS backup checker (the BackupService commands use). */
export class BackupChecker implements BackupService {
  readonly disabled = null;
  private readonly known = new Map<string, BackupResult>();
  private queue: Promise<unknown> = Promise.resolve();
  private fullCheck: Promise<BackupReport> | null = null;
  private readonly listeners = new Set<(c: BackupChange) => void>();

  constructor(private readonly opts: BackupCheckerOptions) {
    if (opts.onChange) this.listeners.add(opts.onChange);
  }

  /** Adds a state-change listener (e.g. the monitor); returns the unsubscribe. */
  onChange(listener: (c: BackupChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Loads the last known results from the store into memory and the live state. */
  restore(): BackupResult[] {
    const stored = this.opts.store.all();
    for (const r of stored) {
      this.known.set(r.site, r);
      for (const h of r.hosts) this.opts.state?.setBackup(h, r.site, toBackupStatus(r));
    }
    return stored;
  }

  /** Resolves when no check is running or queued. */
  async idle(): Promise<void> {
    let q: Promise<unknown>;
    do {
      q = this.queue;
      await q;
    } while (q !== this.queue);
  }

  last(): BackupResult[] {
    return [...this.known.values()].sort((a, b) => a.site.localeCompare(b.site));
  }

  check(site?: string): Promise<BackupReport | null> {
    if (site === undefined) {
      if (this.fullCheck) return this.fullCheck;
      const run = this.enqueue(async () => (await this.run(undefined)) as BackupReport);
      this.fullCheck = run;
      void run.finally(() => {
        if (this.fullCheck === run) this.fullCheck = null;
      });
      return run;
    }
    return this.enqueue(() => this.run(site));
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  /** The sites to check: every site of every host, plus mapped ones. */
  private async targets(): Promise<{ targets: BackupTarget[]; unlistedHosts: string[] }> {
    const hostsOf = new Map<string, Set<string>>();
    const add = (site: string, host: string | null) => {
      let set = hostsOf.get(site);
      if (!set) {
        set = new Set();
        hostsOf.set(site, set);
      }
      if (host) set.add(host);
    };
    const unlistedHosts: string[] = [];
    const names = this.opts.hosts.names();
    // A hung host is not waited on: it counts as unlisted after HOST_ANSWER_MS.
    const listed = await settleWithin(names, HOST_ANSWER_MS, (host) =>
      this.opts.hosts.get(host)!.listSites(),
    );
    listed.forEach((r, i) => {
      const host = names[i]!;
      if (r.status === 'ok') {
        for (const s of r.value) add(s.name, host);
        return;
      }
      unlistedHosts.push(host);
      this.opts.logger.debug(
        { host, err: r.status === 'failed' ? describeError(r.error) : 'not answering' },
        'backup check: host not listed',
      );
      // Its sites as of the last check, so a Docker outage does not hide backup problems.
      for (const k of this.known.values()) if (k.hosts.includes(host)) add(k.site, host);
    });
    for (const site of this.opts.map.keys()) add(site, null);
    const targets: BackupTarget[] = [];
    for (const [site, hosts] of [...hostsOf].sort((a, b) => a[0].localeCompare(b[0]))) {
      if (!this.opts.root && !this.opts.map.has(site)) continue;
      targets.push({
        site,
        path: backupPathFor(site, this.opts.root, this.opts.map),
        hosts: [...hosts].sort(),
      });
    }
    return { targets, unlistedHosts: unlistedHosts.sort() };
  }

  private async run(site: string | undefined): Promise<BackupReport | null> {
    const { targets: all, unlistedHosts } = await this.targets();
    const targets = site === undefined ? all : all.filter((t) => t.site === site);
    if (site !== undefined && targets.length === 0) return null;
    if (targets.length === 0) return { results: [], failure: null, unlistedHosts };

    const outcome = await this.opts.probe.probe(targets);
    const now = this.opts.clock.now();
    const results = targets.map((t) => {
      if (!outcome.ok) return failedResult(t, outcome.failure, this.known.get(t.site) ?? null, now);
      const scan = outcome.folders.get(t.site) ?? { kind: 'failed' as const, message: 'not checked' };
      return classifyBackup(t, scan, { now, staleAfterMs: this.opts.staleAfterMs });
    });
    this.record(results);

    const failure = outcome.ok ? null : outcome.failure;
    const counts: Record<string, number> = {};
    for (const r of results) counts[r.state] = (counts[r.state] ?? 0) + 1;
    if (failure)
      this.opts.logger.warn(
        { sites: results.length, state: failure.state, reason: failure.message },
        'backup check: NAS not checked',
      );
    else this.opts.logger.info({ sites: results.length, states: counts }, 'backup check done');
    return { results, failure, unlistedHosts };
  }

  /** Stores results, updates the live state and announces changes. */
  private record(results: readonly BackupResult[]): void {
    try {
      this.opts.store.put(results);
    } catch (e) {
      this.opts.logger.error({ err: describeError(e) }, 'backup check: results not stored');
    }
    for (const r of results) {
      const previous = this.known.get(r.site) ?? null;
      this.known.set(r.site, r);
      for (const h of previous?.hosts ?? [])
        if (!r.hosts.includes(h)) this.opts.state?.setBackup(h, r.site, null);
      const status = toBackupStatus(r);
      for (const h of r.hosts) this.opts.state?.setBackup(h, r.site, status);
      if (this.opts.alerts) {
        for (const h of r.hosts.length ? r.hosts : [NAS_PSEUDO_HOST]) {
          try {
            this.opts.alerts.backupChanged(h, r.site, status.state, status.message);
          } catch (e) {
            this.opts.logger.warn({ err: describeError(e) }, 'backup alert sink failed');
          }
        }
      }
      if (previous?.state === r.state) continue;
      for (const l of this.listeners) {
        try {
          l({ previous, current: r });
        } catch (e) {
          this.opts.logger.warn({ err: describeError(e) }, 'backup change listener failed');
        }
      }
    }
  }
}
