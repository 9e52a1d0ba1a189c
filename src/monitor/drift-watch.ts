/**
 * Drift checks: on a node-cron schedule (DRIFT_CHECK_CRON) and after every operation that may
 * change a site, each site's containers are compared with what its compose file and `.env` give
 * now (`compose config --hash`, see docker/compose-plan.ts). The result fills the live state's
 * drift slot (status page badge, /api/status, /status); a new drift is announced once per change
 * as a notice with an Up button, and the notice resolves when the drift is gone.
 * Sites run one at a time per host; a site with an operation running is left for the next round.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Compose, ContainerInfo, HostRegistry } from '../core/engine.js';
import { describeError } from '../core/errors.js';
import type { OutputHub } from '../core/hub.js';
import { type LiveSite, type LiveState, siteKey } from '../core/live-state.js';
import type { Logger } from '../core/ports.js';
import type { ActionRunner } from '../core/runs.js';
import { composePlan, driftReason } from '../docker/compose-plan.js';
import type { MonitorControl } from './monitor.js';

/** The notice key of a site's drift. */
export function driftNoticeKey(host: string, site: string): string {
  return `notice:drift:${host}/${site}`;
}

/** What the drift check needs. */
export interface DriftWatchDeps {
  state: LiveState;
  hosts: Pick<HostRegistry, 'get' | 'composeEnv' | 'names'>;
  compose: Compose;
  runner: Pick<ActionRunner, 'active'>;
  hub: Pick<OutputHub, 'onAny'>;
  operation(id: string): { host: string | null; site: string | null } | null;
  /** Where drift notices go; null without a monitor (the state is filled anyway). */
  notices: Pick<MonitorControl, 'notice' | 'endNotice'> | null;
  logger: Logger;
  /** node-cron expression, or `off`. */
  cron: string;
}

/** The running drift check; see the module comment. */
export class DriftWatch {
  private task: ScheduledTask | null = null;
  private unsub: (() => void) | null = null;
  /** Site key -> the drift last announced (JSON), so each change is announced once. */
  private readonly announced = new Map<string, string>();
  private readonly running = new Set<string>();
  private readonly ac = new AbortController();

  constructor(private readonly deps: DriftWatchDeps) {}

  /** Schedules the checks and follows operation ends. */
  start(): void {
    if (this.unsub) return;
    if (this.deps.cron !== 'off')
      this.task = cron.schedule(this.deps.cron, () => this.checkAll(), {
        noOverlap: true,
        name: 'drift-check',
      });
    this.unsub = this.deps.hub.onAny((runId, ev) => {
      if (ev.type !== 'end') return;
      const op = this.deps.operation(runId);
      if (op?.host && op.site) void this.checkFresh(op.host, op.site, runId);
    });
  }

  /** Stops the schedule and kills a compose run still in flight. */
  stop(): void {
    this.ac.abort();
    void this.task?.destroy();
    this.task = null;
    this.unsub?.();
    this.unsub = null;
  }

  /** Checks every site of every reachable host (hosts in parallel, sites one by one). */
  async checkAll(): Promise<void> {
    const snap = this.deps.state.snapshot();
    await Promise.all(
      snap.hosts
        .filter((h) => h.reachable)
        .map(async (h) => {
          for (const s of h.sites) await this.checkSite(s);
        }),
    );
  }

  /** Checks a site with its containers listed now (after an operation the live state may lag). */
  private async checkFresh(host: string, name: string, endedRun: string): Promise<void> {
    try {
      const info = await this.deps.hosts.get(host)?.site(name);
      if (info) await this.checkSite({ ...info, key: siteKey(host, name) }, endedRun);
    } catch (e) {
      this.deps.logger.debug({ site: `${host}/${name}`, err: describeError(e) }, 'drift check failed');
    }
  }

  /** Checks one site now; never throws. */
  async checkSite(
    s: Pick<LiveSite, 'key' | 'host' | 'name' | 'projectDir' | 'composeFiles'> & {
      containers: readonly ContainerInfo[];
    },
    /** A run that just ended (it may still be listed as active). */
    endedRun?: string,
  ): Promise<void> {
    if (this.ac.signal.aborted || !s.projectDir || s.containers.length === 0 || this.running.has(s.key))
      return;
    const busy = this.deps.runner
      .active()
      .some(
        (r) =>
          r.mutates &&
          r.operation.id !== endedRun &&
          r.operation.host === s.host &&
          r.operation.site === s.name,
      );
    if (busy) return;
    const engine = this.deps.hosts.get(s.host);
    if (!engine) return;
    this.running.add(s.key);
    try {
      const plan = await composePlan(
        this.deps.compose,
        engine,
        {
          host: s.host,
          name: s.name,
          projectDir: s.projectDir,
          composeFiles: [...s.composeFiles],
          containers: [...s.containers],
          state: 'up',
        },
        { env: this.deps.hosts.composeEnv(s.host), timeoutMs: 30_000, signal: this.ac.signal },
      );
      const drift: Record<string, string> = {};
      for (const p of plan.services) if (p.action === 'recreate') drift[p.service] = driftReason(p.reason);
      this.deps.logger.debug({ site: s.key, drift }, 'drift checked');
      this.deps.state.setDrift(s.host, s.name, drift);
      this.announce(s, drift);
    } catch (e) {
      this.deps.logger.debug({ site: s.key, err: describeError(e) }, 'drift check failed');
    } finally {
      this.running.delete(s.key);
    }
  }

  private announce(s: Pick<LiveSite, 'key' | 'host' | 'name'>, drift: Record<string, string>): void {
    const sig = JSON.stringify(drift);
    const empty = Object.keys(drift).length === 0;
    const before = this.announced.get(s.key);
    if (empty) {
      if (before !== undefined) {
        this.announced.delete(s.key);
        this.deps.notices?.endNotice(
          driftNoticeKey(s.host, s.name),
          `${s.name} matches its compose file again.`,
        );
      }
      return;
    }
    if (before === sig) return;
    this.announced.set(s.key, sig);
    this.deps.notices?.notice({
      key: driftNoticeKey(s.host, s.name),
      host: s.host,
      site: s.name,
      title: `${s.name} has drifted from its compose file`,
      lines: [...Object.entries(drift).map(([svc, why]) => `${svc}: ${why}`), 'Up applies the compose file.'],
    });
  }
}
