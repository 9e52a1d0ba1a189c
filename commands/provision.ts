import { type OptionSpec, opt, reply } from '../src/core/command.js';
import { checkDomain, checkSiteName } from '../src/provision/names.js';
import { nameTaken, provisionSite } from '../src/provision/provision-site.js';
import { defineCommand, startRun } from '../src/services.js';

const siteName: OptionSpec<string> & { required: true } = {
  type: 'string',
  description: 'Name of the new site (a DNS label: lowercase letters, digits, hyphens)',
  required: true,
  max: 63,
  parse: checkSiteName,
};

export default defineCommand({
  name: 'provision',
  description: 'Create a new site from a template, behind Caddy',
  level: 'admin',
  mutates: true,
  options: {
    site: siteName,
    template: opt.string({
      description: 'Template (see /templates)',
      required: true,
      max: 40,
      completion: 'template',
    }),
    domain: opt.string({
      description: 'Domain of the site (default NAME.<PROVISION_BASE_DOMAIN>)',
      max: 253,
    }),
  },
  run: async (ctx, { site, template, domain }) => {
    const { services } = ctx;
    const p = services.provisioning;
    if (!p) return reply.error('Provisioning is not available', 'SiteFlow was started without templates.');
    const t = p.catalog.get(template);
    if (!t)
      return reply.invalid(`Unknown template "${template.slice(0, 40)}"`, [
        `Templates: ${p.catalog.names().join(', ') || 'none'}. See /templates.`,
      ]);
    const d = checkDomain(domain ?? `${site}.${p.settings.baseDomain}`);
    if (!d.ok) return reply.invalid('Invalid domain', [d.error]);
    if (!p.caddy)
      return reply.error(
        'Provisioning is off',
        'Set CADDY_SITES_DIR (and CADDYFILE + CADDY_ADMIN_URL, or CADDY_RELOAD_COMMAND) so SiteFlow can add Caddy routes.',
      );
    // SITES_ROOT belongs to one host: check and drive that engine, with its compose environment.
    const host = services.hosts.sitesRootHost();
    const engine = services.hosts.get(host)!;
    const taken = await nameTaken(site, { engine, caddy: p.caddy, sitesRoot: p.settings.sitesRoot });
    if (taken) return reply.invalid(`"${site}" already exists`, [`${taken}. Pick another name.`]);
    const def = provisionSite({
      host,
      engine,
      compose: services.compose,
      composeEnv: services.hosts.composeEnv(host),
      caddy: p.caddy,
      template: t,
      site,
      domain: d.value,
      settings: p.settings,
      timeoutMs: services.limits.actionTimeoutMs + p.settings.healthTimeoutMs,
      ...(p.journal ? { journal: p.journal } : {}),
    });
    return startRun(ctx, def, `Provisioning ${site} (${t.name}) at ${d.value}`);
  },
});
