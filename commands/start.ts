import { startSite } from '../src/actions/lifecycle-site.js';
import { defineCommand, findSiteService, siteAndService, siteLabel, startRun } from '../src/services.js';

export default defineCommand({
  name: 'start',
  description: 'Start a stopped site (or one service) and wait for it to be healthy',
  level: 'operator',
  mutates: true,
  options: siteAndService,
  run: async (ctx, { site, service }) => {
    const found = await findSiteService(ctx.services, site, service);
    if (!found.ok) return found.reply;
    const { limits, compose, hosts } = ctx.services;
    const label = siteLabel(ctx.services, found.site);
    return startRun(
      ctx,
      startSite({
        engine: found.engine,
        compose,
        site: found.site,
        ...(service ? { service } : {}),
        timeoutMs: limits.actionTimeoutMs,
        healthTimeoutMs: limits.healthTimeoutMs,
        composeEnv: hosts.composeEnv(found.site.host),
      }),
      `Starting ${service ? `${service} of ${label}` : label}`,
    );
  },
});
