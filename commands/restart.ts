import { restartSite } from '../src/actions/restart-site.js';
import { opt } from '../src/core/command.js';
import { checkService, defineCommand, findSite, siteLabel, startRun } from '../src/services.js';

export default defineCommand({
  name: 'restart',
  description: 'Restart a site, or one of its services',
  level: 'operator',
  mutates: true,
  options: {
    site: opt.site({ description: 'The site (or host/site)', required: true }),
    service: opt.service({ description: 'Only this compose service' }),
  },
  run: async (ctx, { site, service }) => {
    const found = await findSite(ctx.services, site);
    if (!found.ok) return found.reply;
    const bad = checkService(found.site, service);
    if (bad) return bad;
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
