import { pullSite } from '../src/actions/pull-site.js';
import { opt } from '../src/core/command.js';
import { checkService, defineCommand, findSite, siteLabel, startRun } from '../src/services.js';

export default defineCommand({
  name: 'pull',
  description: "Pull a site's images and recreate what changed",
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
    const { limits, compose } = ctx.services;
    const def = pullSite({
      engine: found.engine,
      compose,
      site: found.site,
      ...(service ? { service } : {}),
      // Progress decides a pull's fate; the cap only guards against a hung engine.
      timeoutMs: Math.max(limits.actionTimeoutMs, 6 * 3600_000),
      stallMs: limits.pullStallMs,
    });
    const label = siteLabel(ctx.services, found.site);
    return startRun(ctx, def, `Pulling ${service ? `${service} of ${label}` : label}`);
  },
});
