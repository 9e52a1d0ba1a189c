import { stopSite } from '../src/actions/lifecycle-site.js';
import {
  askConfirmation,
  defineCommand,
  findSiteService,
  lifecycleOptions,
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
    const label = siteLabel(ctx.services, found.site);
    const what = service ? `${service} of ${label}` : label;
    return askConfirmation(ctx, {
      summary: `Stop ${what}; it stays stopped (no alerts) until /start`,
      confirmLabel: `Stop ${label}`,
      site: found.site.name,
      proceed: () =>
        startRun(ctx, stopSite(lifecycleOptions(ctx.services, found, service)), `Stopping ${what}`),
    });
  },
});
