import { upSite } from '../src/actions/lifecycle-site.js';
import { opt, reply } from '../src/core/command.js';
import { describeError } from '../src/core/errors.js';
import { composePlan, describePlan } from '../src/docker/compose-plan.js';
import {
  askConfirmation,
  defineCommand,
  failureNotice,
  findSite,
  lifecycleOptions,
  siteLabel,
  startRun,
} from '../src/services.js';

export default defineCommand({
  name: 'up',
  description: "Apply edits of a site's compose file and .env (compose up -d), with health wait and rollback",
  level: 'operator',
  mutates: true,
  options: { site: opt.site({ description: 'The site (or host/site)', required: true }) },
  run: async (ctx, { site }) => {
    const found = await findSite(ctx.services, site);
    if (!found.ok) return found.reply;
    const { compose, hosts, policy } = ctx.services;
    const label = siteLabel(ctx.services, found.site);
    const composeEnv = hosts.composeEnv(found.site.host);
    let plan: Awaited<ReturnType<typeof composePlan>>;
    try {
      plan = await composePlan(compose, found.engine, found.site, { env: composeEnv });
    } catch (e) {
      return reply.error(`Cannot read the compose file of ${label}`, describeError(e));
    }
    const what = describePlan(plan);
    if (what === 'nothing to change')
      return reply.ok(`${label}: nothing to change`, {
        kind: 'text',
        text: 'Every service matches its compose file and .env.',
      });
    return askConfirmation(ctx, {
      summary: `Up ${label}: ${what}`,
      confirmLabel: `Up ${label}`,
      site: found.site.name,
      proceed: () =>
        startRun(
          ctx,
          upSite({
            ...lifecycleOptions(ctx.services, found),
            rollback: policy.rollbackOnFailure,
            prune: policy.pruneAfterPull,
            onFailure: failureNotice(ctx.services, found.site),
          }),
          `Applying the compose file of ${label}`,
        ),
    });
  },
});
