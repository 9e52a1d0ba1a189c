import { restartSite } from '../src/actions/restart-site.js';
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
