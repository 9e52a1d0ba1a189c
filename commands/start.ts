import { startSite } from '../src/actions/lifecycle-site.js';
import {
  defineCommand,
  findSiteService,
  lifecycleOptions,
  siteAndService,
  siteLabel,
  startRun,
} from '../src/services.js';

export default defineCommand({
  name: 'start',
  description: 'Start a stopped site (or one service) and wait for it to be healthy',
  level: 'operator',
  mutates: true,
  options: siteAndService,
  run: async (ctx, { site, service }) => {
    const found = await findSiteService(ctx.services, site, service);
    if (!found.ok) return found.reply;
    const label = siteLabel(ctx.services, found.site);
    return startRun(
      ctx,
      startSite(lifecycleOptions(ctx.services, found, service)),
      `Starting ${service ? `${service} of ${label}` : label}`,
    );
  },
});
