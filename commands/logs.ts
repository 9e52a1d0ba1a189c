import { logsSite } from '../src/actions/logs-site.js';
import { opt } from '../src/core/command.js';
import { defineCommand, findSiteService, siteAndService, siteLabel, startRun } from '../src/services.js';

export default defineCommand({
  name: 'logs',
  description: "Show a site's recent log lines, or follow them for a while",
  // Container output may hold secrets the masking cannot know: operators by default (LOGS_LEVEL).
  level: 'operator',
  options: {
    ...siteAndService,
    lines: opt.integer({ description: 'Lines per container (1-20000, default 100)', min: 1, max: 20_000 }),
    follow: opt.duration({ description: 'Keep following for this long, e.g. 30s or 5m (at most 15m)' }),
  },
  run: async (ctx, { site, service, lines, follow }) => {
    const found = await findSiteService(ctx.services, site, service);
    if (!found.ok) return found.reply;
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
