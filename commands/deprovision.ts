import { opt, reply } from '../src/core/command.js';
import { siteFolder } from '../src/docker/site-folders.js';
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
    const host = services.hosts.sitesRootHost();
    const { site } = args;
    if (site.host && site.host !== host)
      return reply.invalid('Deprovision works on the provisioning host only', [`That host is "${host}".`]);
    const folder = await siteFolder(p.settings.sitesRoot, site.name);
    if (!folder)
      return reply.invalid(`No site folder "${site.name}"`, [
        `Deprovision needs ${p.settings.sitesRoot}/${site.name} with its compose file. Try /status.`,
      ]);
    const removeVolumes = args['remove-volumes'] === true;
    const deleteFiles = args['delete-files'] === true;
    const def = deprovisionSite({
      host,
      compose: services.compose,
      composeEnv: services.hosts.composeEnv(host),
      caddy: p.caddy,
      site: site.name,
      sitesRoot: p.settings.sitesRoot,
      removeVolumes,
      deleteFiles,
      timeoutMs: services.limits.actionTimeoutMs,
      ...(p.journal ? { journal: p.journal } : {}),
    });
    const summary =
      `Deprovision ${site.name}: stop and remove its containers and networks, remove its Caddy route, ` +
      (deleteFiles ? `and DELETE ${folder.dir} (no archive)` : `and archive ${folder.dir} to .archive/`) +
      (removeVolumes ? '; its named volumes (database data) are REMOVED' : '; its named volumes are kept');
    return askConfirmation(ctx, {
      summary,
      confirmLabel: `Deprovision ${site.name}`,
      site: site.name,
      proceed: async () => {
        // The folder may have gone while the prompt was open.
        if (!(await siteFolder(p.settings.sitesRoot, site.name)))
          return reply.invalid(`No site folder "${site.name}" any more`, ['Nothing was done.']);
        return startRun(ctx, def, `Deprovisioning ${site.name}`);
      },
    });
  },
});
