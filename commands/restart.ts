/**
 * /restart: finds the site, then runs the restart action below as an operation. The action
 * lives here because /restart is its only user: the command and what it does read in one file.
 */

import { finishWhenHealthy } from '../src/actions/wait-healthy.js';
import type { ContainerInfo, Engine, SiteInfo } from '../src/core/engine.js';
import type { ActionDef } from '../src/core/runs.js';
import { defineCommand, findSiteService, siteAndService, siteLabel, startRun } from '../src/services.js';

export default defineCommand({
  name: 'restart',
  description: 'Restart a site, or one of its services',
  level: 'operator',
  mutates: true,
  options: siteAndService,
  run: async (ctx, { site, service }) => {
    const found = await findSiteService(ctx.services, site, service);
    if (!found.ok) return found.reply;
    const { limits } = ctx.services;
    const def = restartSite({
      engine: found.engine,
      site: found.site,
      ...(service ? { service } : {}),
      timeoutMs: limits.actionTimeoutMs,
      healthTimeoutMs: limits.healthTimeoutMs,
    });
    const label = siteLabel(ctx.services, found.site);
    return startRun(ctx, def, `Restarting ${service ? `${service} of ${label}` : label}`);
  },
});

/** Options of the restart action. */
export interface RestartOptions {
  engine: Engine;
  site: SiteInfo;
  /** Only this compose service. */
  service?: string;
  timeoutMs: number;
  /** How long containers get to become healthy afterwards. */
  healthTimeoutMs: number;
  /** Seconds a container gets to stop before it is killed. */
  stopTimeoutSec?: number;
}

/** Containers a restart touches: those of the service (or all), skipping finished one-shots. */
export function restartTargets(site: SiteInfo, service?: string): ContainerInfo[] {
  return site.containers.filter((c) => (service ? c.service === service : c.status !== 'completed'));
}

/** The restart action: restarts a site's containers through the engine and reports health. */
export function restartSite(o: RestartOptions): ActionDef {
  return {
    kind: 'restart',
    host: o.site.host,
    site: o.site.name,
    mutates: true,
    timeoutMs: o.timeoutMs,
    args: o.service ? { service: o.service } : {},
    async run(io) {
      const targets = restartTargets(o.site, o.service);
      if (targets.length === 0) {
        io.line('Nothing to restart: the site has no containers (start it with compose first).', 'info');
        return { exitCode: 1 };
      }
      io.line(
        `Restarting ${targets.length} container${targets.length === 1 ? '' : 's'} on ${o.site.host}`,
        'info',
      );
      // All at once, like `docker compose restart`: one slow container does not hold up the rest.
      await Promise.all(
        targets.map(async (c) => {
          io.line(`${c.service ?? c.name}: stopping`);
          await o.engine.restartContainer(c.id, {
            signal: io.signal,
            ...(o.stopTimeoutSec !== undefined ? { timeoutSec: o.stopTimeoutSec } : {}),
          });
          io.line(`${c.service ?? c.name}: started`);
        }),
      );
      return finishWhenHealthy(
        o.engine,
        targets.map((c) => c.id),
        io,
        { timeoutMs: o.healthTimeoutMs, after: 'restart', success: 'All restarted containers are up.' },
      );
    },
  };
}
