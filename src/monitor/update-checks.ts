/**
 * Update checks: for every service of a site, the digest its container runs against the digest
 * its tag has now in its registry (RegistryClient: manifest HEAD/GET, nothing downloaded).
 * Registries are asked in parallel, each check with its own deadline, so a slow or dead registry
 * never delays the others. The label `siteflow.update` (notify, off, auto) sets a service's policy.
 * On UPDATE_CHECK_CRON a new digest is announced once as a notice whose key carries the digest
 * (so a repeat check, and a restart, post nothing new); acking it ("Skip this version") keeps it
 * quiet, and the next digest is a new notice.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { shortDigest } from '../actions/pull-site.js';
import type { ContainerInfo, Engine, SiteInfo } from '../core/engine.js';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import { parseImageName, type RegistryClient } from '../docker/registry-client.js';
import type { MonitorControl } from './monitor.js';

/** The per-service policy label. */
export const UPDATE_LABEL = 'siteflow.update';

/** What a check found for one service. */
export interface ServiceUpdate {
  host: string;
  site: string;
  service: string;
  image: string;
  running: string | null;
  remote: string | null;
  status: 'update available' | 'up to date' | 'not checked';
  /** Why it was not checked (off, local-only image, pinned digest, registry failure). */
  reason: string | null;
  policy: 'notify' | 'off' | 'auto';
}

/** `notify` unless the label says `off` or `auto`. */
export function updatePolicy(c: Pick<ContainerInfo, 'labels'>): ServiceUpdate['policy'] {
  const v = c.labels[UPDATE_LABEL]?.trim().toLowerCase();
  return v === 'off' || v === 'auto' ? v : 'notify';
}

/** The notice key of one new digest of one service. */
export function updateNoticeKey(u: Pick<ServiceUpdate, 'host' | 'site' | 'service' | 'remote'>): string {
  return `notice:update:${u.host}/${u.site}/${u.service}@${u.remote ?? ''}`;
}

/** Checks sites for newer images; see the module comment. */
export class UpdateChecker {
  constructor(private readonly registry: RegistryClient) {}

  /** One result per service of each site (the first container of a scaled service speaks for it). */
  async check(engine: Pick<Engine, 'localImage'>, sites: readonly SiteInfo[]): Promise<ServiceUpdate[]> {
    const rows: Array<{ u: ServiceUpdate; c: ContainerInfo }> = [];
    for (const s of sites) {
      const seen = new Set<string>();
      for (const c of s.containers) {
        if (!c.service || seen.has(c.service)) continue;
        seen.add(c.service);
        rows.push({
          c,
          u: {
            host: s.host,
            site: s.name,
            service: c.service,
            image: c.image,
            running: c.digest,
            remote: null,
            status: 'not checked',
            reason: null,
            policy: updatePolicy(c),
          },
        });
      }
    }
    // One lookup per image reference and platform, grouped by registry: registries in parallel.
    const byRegistry = new Map<string, Array<{ u: ServiceUpdate; c: ContainerInfo }>>();
    for (const r of rows) {
      if (r.u.policy === 'off') {
        r.u.reason = 'updates off (siteflow.update=off)';
        continue;
      }
      const name = parseImageName(r.c.image);
      if (name.digest) {
        r.u.reason = 'pinned to a digest';
        continue;
      }
      if (!r.u.running) {
        r.u.reason = 'local-only image (never pulled from a registry)';
        continue;
      }
      const list = byRegistry.get(name.registry) ?? [];
      list.push(r);
      byRegistry.set(name.registry, list);
    }
    await Promise.all(
      [...byRegistry.values()].map(async (list) => {
        const cache = new Map<string, Promise<{ digest: string; platformDigest: string | null }>>();
        for (const { u, c } of list) {
          try {
            const img = await engine.localImage(c.imageId).catch(() => null);
            const platform = img
              ? { os: img.os, architecture: img.architecture, variant: img.variant }
              : null;
            const key = `${c.image}|${platform?.os}/${platform?.architecture}/${platform?.variant}`;
            let p = cache.get(key);
            if (!p) {
              p = this.registry.remoteDigest(c.image, platform);
              cache.set(key, p);
            }
            const r = await p;
            const current = r.digest === u.running || r.platformDigest === u.running;
            u.remote = current ? u.running : r.digest;
            u.status = current ? 'up to date' : 'update available';
          } catch (e) {
            u.reason = describeError(e);
          }
        }
      }),
    );
    return rows.map((r) => r.u);
  }
}

/** What the scheduled update check needs. */
export interface UpdateScheduleDeps {
  checker: UpdateChecker;
  hosts: { names(): string[]; get(host: string): Engine | undefined };
  notices: Pick<MonitorControl, 'notice' | 'endNotice'> | null;
  logger: Logger;
  /** node-cron expression, or `off`. */
  cron: string;
  /** When `siteflow.update=auto` services are pulled (node-cron); empty: never automatically. */
  windowCron?: string;
  /**
   * Pulls one service (with health wait and rollback) and resolves with how it ended:
   * `succeeded`, or why not (a failed pull reports its own notice).
   */
  autoPull?: (u: ServiceUpdate) => Promise<string>;
}

/** Runs the update check on its schedule and announces new digests; see the module comment. */
export class UpdateSchedule {
  private task: ScheduledTask | null = null;
  private window: ScheduledTask | null = null;

  constructor(private readonly deps: UpdateScheduleDeps) {}

  /** Whether `auto` services are pulled in a window (else they are announced like `notify`). */
  private get hasWindow(): boolean {
    return Boolean(this.deps.windowCron && this.deps.autoPull);
  }

  start(): void {
    if (this.deps.cron !== 'off' && !this.task)
      this.task = cron.schedule(this.deps.cron, () => this.runOnce(), {
        noOverlap: true,
        name: 'update-check',
      });
    if (this.hasWindow && !this.window)
      this.window = cron.schedule(this.deps.windowCron!, () => this.runWindow(), {
        noOverlap: true,
        name: 'update-window',
      });
  }

  stop(): void {
    void this.task?.destroy();
    void this.window?.destroy();
    this.task = null;
    this.window = null;
  }

  /** The update window: checks, then pulls every `auto` service with a new digest and reports it. */
  async runWindow(): Promise<ServiceUpdate[]> {
    const all = await this.checkAll();
    for (const u of all) {
      if (u.policy !== 'auto' || u.status !== 'update available' || !this.deps.autoPull) continue;
      const how = await this.deps.autoPull(u).catch((e) => describeError(e));
      if (how !== 'succeeded') continue; // a failed pull posted its own notice (rolled back or not)
      this.deps.notices?.notice({
        key: `notice:auto:${u.host}/${u.site}/${u.service}@${u.remote ?? ''}`,
        host: u.host,
        site: u.site,
        title: `Updated ${u.site}: ${u.service} (siteflow.update=auto)`,
        lines: [`${u.image}: ${shortDigest(u.running)} -> ${shortDigest(u.remote)}`],
      });
    }
    return all;
  }

  /** One round over every host; announces each new digest once. Never throws. */
  async runOnce(): Promise<ServiceUpdate[]> {
    const all = await this.checkAll();
    for (const u of all) {
      if (u.status !== 'update available' || u.policy === 'off') continue;
      if (u.policy === 'auto' && this.hasWindow) continue; // the window pulls it
      this.deps.notices?.notice({
        key: updateNoticeKey(u),
        host: u.host,
        site: u.site,
        title: `Update available for ${u.site}: ${u.service}`,
        lines: [`${u.image}: ${shortDigest(u.running)} -> ${shortDigest(u.remote)}`],
      });
    }
    return all;
  }

  private async checkAll(): Promise<ServiceUpdate[]> {
    const all: ServiceUpdate[] = [];
    await Promise.all(
      this.deps.hosts.names().map(async (h) => {
        const engine = this.deps.hosts.get(h);
        if (!engine) return;
        try {
          all.push(...(await this.deps.checker.check(engine, await engine.listSites())));
        } catch (e) {
          this.deps.logger.warn({ host: h, err: describeError(e) }, 'update check failed');
        }
      }),
    );
    return all;
  }
}
