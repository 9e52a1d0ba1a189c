import { pullSite } from '../src/actions/pull-site.js';
import {
  askConfirmation,
  defineCommand,
  failureNotice,
  findSiteService,
  siteAndService,
  siteLabel,
  startRun,
} from '../src/services.js';

export default defineCommand({
  name: 'pull',
  description: "Pull a site's images and recreate what changed",
  level: 'operator',
  mutates: true,
  options: siteAndService,
  run: async (ctx, { site, service }) => {
    const found = await findSiteService(ctx.services, site, service);
    if (!found.ok) return found.reply;
    const { limits, compose, hosts } = ctx.services;
    const label = siteLabel(ctx.services, found.site);
    const what = service ? `${service} of ${label}` : label;
    const go = () =>
      startRun(
        ctx,
        pullSite({
          engine: found.engine,
          compose,
          site: found.site,
          ...(service ? { service } : {}),
          // Progress decides a pull's fate; the cap only guards against a hung engine.
          timeoutMs: Math.max(limits.actionTimeoutMs, 6 * 3600_000),
          stallMs: limits.pullStallMs,
          recreateTimeoutMs: limits.actionTimeoutMs,
          composeEnv: hosts.composeEnv(found.site.host),
          healthTimeoutMs: limits.healthTimeoutMs,
          rollback: ctx.services.policy.rollbackOnFailure,
          prune: ctx.services.policy.pruneAfterPull,
          onFailure: failureNotice(ctx.services, found.site),
        }),
        `Pulling ${what}`,
      );
    if (!ctx.services.policy.confirmPull) return go();
    return askConfirmation(ctx, {
      summary: `Pull ${what} and recreate the services whose image changed`,
      confirmLabel: `Pull ${label}`,
      site: found.site.name,
      proceed: go,
    });
  },
});
