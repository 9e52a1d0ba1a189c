import { logsSite } from '../src/actions/logs-site.js';
import { opt } from '../src/core/command.js';
import { checkService, defineCommand, findSite, siteLabel, startRun } from '../src/services.js';

export default defineCommand({
  name: 'logs',
  description: "Show a site's recent log lines, or follow them for a while",
  level: 'viewer',
  options: {
    site: opt.site({ description: 'The site (or host/site)', required: true }),
    service: opt.service({ description: 'Only this compose service' }),
    lines: opt.integer({ description: 'Lines per container (1-2000, default 100)', min: 1, max: 2000 }),
    follow: opt.duration({ description: 'Keep following for this long, e.g. 30s or 5m (at most 15m)' }),
  },
  run: async (ctx, { site, service, lines, follow }) => {
    const found = await findSite(ctx.services, site);
    if (!found.ok) return found.reply;
    const bad = checkService(found.site, service);
    if (bad) return bad;
    const followMs = Math.min(follow ?? 0, ctx.services.limits.logsMaxFollowMs);
    const def = logsSite({
      engine: found.engine,
      site: found.site,
      ...(service ? { service } : {}),
      lines: lines ?? 100,
      followMs,
    });
    const label = siteLabel(ctx.services, found.site);
    return startRun(
      ctx,
      def,
      `Logs of ${service ? `${service} of ${label}` : label}${followMs ? ', following' : ''}`,
    );
  },
});
