import { stopSite } from '../src/actions/lifecycle-site.js';
import {
  askConfirmation,
  defineCommand,
  findSiteService,
  siteAndService,
  siteLabel,
  startRun,
} from '../src/services.js';

export default defineCommand({
  name: 'stop',
  description: 'Stop a site (or one service); no alerts for it until it is started',
  level: 'operator',
  mutates: true,
  options: siteAndService,
  run: async (ctx, { site, service }) => {
    const found = await findSiteService(ctx.services, site, service);
    if (!found.ok) return found.reply;
    const { limits, compose, hosts } = ctx.services;
    const label = siteLabel(ctx.services, found.site);
    const what = service ? `${service} of ${label}` : label;
    return askConfirmation(ctx, {
      summary: `Stop ${what}; it stays stopped (no alerts) until /start`,
      confirmLabel: `Stop ${label}`,
      site: found.site.name,
      proceed: () =>
        startRun(
          ctx,
          stopSite({
            engine: found.engine,
            compose,
            site: found.site,
            ...(service ? { service } : {}),
            timeoutMs: limits.actionTimeoutMs,
            healthTimeoutMs: limits.healthTimeoutMs,
            composeEnv: hosts.composeEnv(found.site.host),
          }),
          `Stopping ${what}`,
        ),
    });
  },
});
