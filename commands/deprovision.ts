import { opt, reply } from '../src/core/command.js';
import { HOST_ANSWER_MS, settleWithin } from '../src/core/deadline.js';
import { describeError } from '../src/core/errors.js';
import { deprovisionSite } from '../src/provision/deprovision-site.js';
import { askConfirmation, defineCommand, startRun } from '../src/services.js';

export default defineCommand({
  name: 'deprovision',
  description: 'Take a site down for good: stop it, remove its Caddy route, archive its folder',
  level: 'admin',
  mutates: true,
  options: {
    site: opt.site({ description: 'The site', required: true }),
    'remove-volumes': opt.boolean({ description: 'Also remove its named volumes (databases!)' }),
    'delete-files': opt.boolean({ description: 'Delete the site folder instead of archiving it' }),
  },
  run: async (ctx, args) => {
    const { services } = ctx;
    const p = services.provisioning;
    if (!p) return reply.error('Provisioning is not available', 'SiteFlow was started without templates.');
    const { site } = args;
    // The host named (edge/blog), else the one host with a folder of that name (every host asked
    // at once, each for at most HOST_ANSWER_MS), else SITES_ROOT's.
    const onHost = (h: string) => (h === services.hosts.sitesRootHost() ? '' : ` on ${h}`);
    const named = site.host ? p.targets.get(site.host) : undefined;
    if (site.host && !named)
      return reply.invalid(`Host "${site.host}" has no sites folder`, [
        `Deprovision works where SiteFlow keeps site folders: ${[...p.targets.keys()].join(', ')}.`,
      ]);
    const asked = named ? [named] : [...p.targets.values()];
    const read = await settleWithin(asked, HOST_ANSWER_MS, (t) => t.folder(site.name));
    const found = asked.flatMap((t, i) => {
      const r = read[i]!;
      return r.status === 'ok' && r.value ? [{ target: t, folder: r.value }] : [];
    });
    const unread = asked.flatMap((t, i) => {
      const r = read[i]!;
      return r.status === 'ok'
        ? []
        : [`${t.host} (${r.status === 'failed' ? describeError(r.error) : 'no answer'})`];
    });
    if (found.length > 1)
      return reply.invalid(`Site "${site.name}" has a folder on several hosts`, [
        `Say which, e.g. ${found[0]!.target.host}/${site.name}.`,
      ]);
    const hit = found[0];
    if (!hit) {
      const where = named ?? p.targets.get(services.hosts.sitesRootHost()) ?? asked[0]!;
      if (site.host && unread.length)
        return reply.error(`Cannot read ${site.host}'s site folders`, unread[0]!);
      return reply.invalid(`No site folder "${site.name}"`, [
        `Deprovision needs ${where.sitesRoot}/${site.name}${onHost(where.host)} with its compose file. Try /status.`,
        ...(unread.length ? [`Not readable right now: ${unread.join(', ')}`] : []),
      ]);
    }
    const { target, folder } = hit;
    const host = target.host;
    const removeVolumes = args['remove-volumes'] === true;
    const deleteFiles = args['delete-files'] === true;
    const def = deprovisionSite({
      target,
      compose: services.compose,
      composeEnv: services.hosts.composeEnv(host),
      site: site.name,
      removeVolumes,
      deleteFiles,
      timeoutMs: services.limits.actionTimeoutMs,
      ...(p.journal ? { journal: p.journal } : {}),
    });
    const summary =
      `Deprovision ${site.name}${onHost(host)}: stop and remove its containers and networks, remove its Caddy route, ` +
      (deleteFiles ? `and DELETE ${folder.dir} (no archive)` : `and archive ${folder.dir} to .archive/`) +
      (removeVolumes ? '; its named volumes (database data) are REMOVED' : '; its named volumes are kept');
    return askConfirmation(ctx, {
      summary,
      confirmLabel: `Deprovision ${site.name}`,
      site: site.name,
      proceed: async () => {
        // The folder may have gone while the prompt was open.
        if (!(await target.folder(site.name).catch(() => null)))
          return reply.invalid(`No site folder "${site.name}" any more`, ['Nothing was done.']);
        return startRun(ctx, def, `Deprovisioning ${site.name}`);
      },
    });
  },
});
