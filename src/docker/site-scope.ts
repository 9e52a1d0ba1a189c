/**
 * Managed scope: which compose projects on an engine are SiteFlow's sites. A project is a site
 * when its working folder is under SITES_ROOT, or one of its containers carries
 * `siteflow.manage=true`, or SITES_SCOPE=all. Container labels are untrusted input: a project
 * whose labels would become a bad site name, service name or path is skipped (and logged once).
 *
 * `ScopedEngine` applies this at the one place where an engine's listing becomes sites, so
 * every reader (commands, autocomplete, live state, monitor, page, API, metrics, graph) follows.
 */
import { isAbsolute, normalize, relative, resolve } from 'node:path';
import { NAME_RE, SERVICE_RE } from '../core/command.js';
import type {
  ContainerEvent,
  ContainerInfo,
  ContainerStats,
  Engine,
  LocalImage,
  LogLine,
  LogOptions,
  PullProgress,
  PullResult,
  SiteFolder,
  SiteInfo,
} from '../core/engine.js';
import type { Logger } from '../core/ports.js';
import { LABEL } from './dockerode-engine.js';

/** The label that opts a compose project outside SITES_ROOT in. */
export const MANAGE_LABEL = 'siteflow.manage';

/** SITES_SCOPE: `managed` (the rule above) or `all` (every compose project, as before). */
export type ScopeMode = 'managed' | 'all';

/** Whether a project is a site; `invalid` means its labels failed validation. */
export type ScopeVerdict = { ok: true } | { ok: false; invalid: boolean; reason: string };

/** True when `child` is `parent` or lies below it. */
function within(parent: string, child: string): boolean {
  const r = relative(parent, child);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

const CONTROL_RE = /[\u0000-\u001f\u007f]/;

/** A working folder label that may become a compose cwd: absolute, normalized, printable. */
function badDir(dir: string): string | null {
  if (CONTROL_RE.test(dir)) return 'its working folder label holds control characters';
  if (!isAbsolute(dir)) return 'its working folder label is not an absolute path';
  if (normalize(dir).replace(/\/+$/, '') !== dir.replace(/\/+$/, ''))
    return 'its working folder label is not a normalized path';
  return null;
}

/** The scope rule of one SiteFlow, shared by every engine. */
export class SiteScope {
  private readonly root: string | null;
  private readonly logged = new Set<string>();
  /** Projects found managed per host, so events of their unlabelled containers still count. */
  private readonly managed = new Map<string, Set<string>>();

  constructor(private readonly opts: { mode: ScopeMode; sitesRoot: string | null; logger?: Logger }) {
    this.root = opts.sitesRoot ? resolve(opts.sitesRoot) : null;
  }

  get mode(): ScopeMode {
    return this.opts.mode;
  }

  /** Validates a project's labels, then applies the scope rule. */
  verdict(project: string, labelSets: ReadonlyArray<Record<string, string>>): ScopeVerdict {
    const bad = (reason: string): ScopeVerdict => ({ ok: false, invalid: true, reason });
    if (!NAME_RE.test(project)) return bad('its project name is not a valid site name');
    let dir: string | null = null;
    for (const labels of labelSets) {
      const svc = labels[LABEL.service];
      if (svc !== undefined && !SERVICE_RE.test(svc))
        return bad('a service label is not a valid service name');
      const wd = labels[LABEL.workingDir];
      if (wd !== undefined) {
        const why = badDir(wd);
        if (why) return bad(why);
        if (dir !== null && resolve(dir) !== resolve(wd))
          return bad('its containers disagree on the working folder');
        dir = wd;
      }
      const files = labels[LABEL.configFiles];
      if (files !== undefined) {
        if (CONTROL_RE.test(files)) return bad('its compose file label holds control characters');
        if (!dir) return bad('it names compose files but no working folder');
        for (const f of files
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean))
          if (!within(dir, resolve(dir, f))) return bad('a compose file label points outside its folder');
      }
    }
    if (this.opts.mode === 'all') return { ok: true };
    if (labelSets.some((l) => l[MANAGE_LABEL] === 'true')) return { ok: true };
    if (dir && this.root && within(this.root, resolve(dir)) && resolve(dir) !== this.root)
      return { ok: true };
    return {
      ok: false,
      invalid: false,
      reason: `its folder is not under SITES_ROOT and no container has ${MANAGE_LABEL}=true`,
    };
  }

  /** The site as SiteFlow may see it, or null when it is out of scope (logged once). */
  site(host: string, info: SiteInfo): SiteInfo | null {
    // A folder under SITES_ROOT without containers is a site by construction.
    if (info.containers.length === 0) return info;
    const v = this.verdict(
      info.name,
      info.containers.map((c) => c.labels),
    );
    const set = this.managed.get(host) ?? new Set<string>();
    this.managed.set(host, set);
    if (v.ok) {
      set.add(info.name);
      return info;
    }
    set.delete(info.name);
    this.skip(host, info.name, v);
    return null;
  }

  /** The sites of one listing that are in scope. */
  sites(host: string, infos: readonly SiteInfo[]): SiteInfo[] {
    this.managed.set(host, new Set());
    return infos.map((s) => this.site(host, s)).filter((s): s is SiteInfo => s !== null);
  }

  /** Whether an engine event may reach SiteFlow (events of containers outside compose pass). */
  event(host: string, ev: ContainerEvent): boolean {
    if (!ev.project) return true;
    const v = this.verdict(ev.project, [ev.labels ?? {}]);
    if (v.ok) return true;
    return !v.invalid && (this.managed.get(host)?.has(ev.project) ?? false);
  }

  private skip(host: string, project: string, v: Exclude<ScopeVerdict, { ok: true }>): void {
    const key = `${host}\u0000${project}\u0000${v.reason}`;
    if (this.logged.has(key)) return;
    if (this.logged.size > 10_000) this.logged.clear();
    this.logged.add(key);
    const log = { host, project: project.slice(0, 80), reason: v.reason };
    if (v.invalid) this.opts.logger?.warn(log, 'compose project skipped: its labels fail validation');
    else this.opts.logger?.debug(log, 'compose project is not managed by SiteFlow');
  }
}

/** An Engine that only shows the sites a SiteScope lets through; everything else delegates. */
export class ScopedEngine implements Engine {
  readonly name: string;

  constructor(
    /** The engine behind the scope (host-level work such as `system df` needs it unfiltered). */
    readonly inner: Engine,
    private readonly scope: SiteScope,
  ) {
    this.name = inner.name;
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async listSites(siteFolders?: readonly SiteFolder[]): Promise<SiteInfo[]> {
    return this.scope.sites(this.name, await this.inner.listSites(siteFolders));
  }

  async site(name: string): Promise<SiteInfo | null> {
    const s = await this.inner.site(name);
    return s ? this.scope.site(this.name, s) : null;
  }

  async containers(site: string): Promise<ContainerInfo[]> {
    return (await this.site(site))?.containers ?? [];
  }

  restartContainer(id: string, opts?: { signal?: AbortSignal; timeoutSec?: number }): Promise<void> {
    return this.inner.restartContainer(id, opts);
  }

  inspect(containerId: string): Promise<ContainerInfo> {
    return this.inner.inspect(containerId);
  }

  stats(containerId: string): Promise<ContainerStats> {
    return this.inner.stats(containerId);
  }

  logs(containerId: string, opts?: LogOptions): AsyncIterable<LogLine> {
    return this.inner.logs(containerId, opts);
  }

  pullImage(
    ref: string,
    opts?: { signal?: AbortSignal; onProgress?: (p: PullProgress) => void },
  ): Promise<PullResult> {
    return this.inner.pullImage(ref, opts);
  }

  imageDigest(ref: string): Promise<string | null> {
    return this.inner.imageDigest(ref);
  }

  localImage(ref: string): Promise<LocalImage | null> {
    return this.inner.localImage(ref);
  }

  tagImage(source: string, ref: string): Promise<void> {
    return this.inner.tagImage(source, ref);
  }

  removeImage(ref: string): Promise<'removed' | 'in-use' | 'absent'> {
    return this.inner.removeImage(ref);
  }

  async *events(opts?: { signal?: AbortSignal; since?: number }): AsyncGenerator<ContainerEvent> {
    for await (const ev of this.inner.events(opts)) if (this.scope.event(this.name, ev)) yield ev;
  }
}
