import { opt, reply } from '../src/core/command.js';
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
    // The host named (edge/blog), else the one host with a folder of that name, else SITES_ROOT's.
    let host = site.host;
    if (!host) {
      const found: string[] = [];
      for (const t of p.targets.values()) if (await t.folder(site.name).catch(() => null)) found.push(t.host);
      if (found.length > 1)
        return reply.invalid(`Site "${site.name}" has a folder on several hosts`, [
          `Say which, e.g. ${found[0]}/${site.name}.`,
        ]);
      host = found[0] ?? services.hosts.sitesRootHost();
    }
    const target = p.targets.get(host);
    if (!target)
      return reply.invalid(`Host "${host}" has no sites folder`, [
        `Deprovision works where SiteFlow keeps site folders: ${[...p.targets.keys()].join(', ')}.`,
      ]);
    let folder: Awaited<ReturnType<typeof target.folder>>;
    try {
      folder = await target.folder(site.name);
    } catch (e) {
      return reply.error(`Cannot read ${host}'s site folders`, describeError(e));
    }
    if (!folder)
      return reply.invalid(`No site folder "${site.name}"`, [
        `Deprovision needs ${target.sitesRoot}/${site.name}${host === services.hosts.sitesRootHost() ? '' : ` on ${host}`} with its compose file. Try /status.`,
      ]);
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
      `Deprovision ${site.name}${host === services.hosts.sitesRootHost() ? '' : ` on ${host}`}: stop and remove its containers and networks, remove its Caddy route, ` +
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
