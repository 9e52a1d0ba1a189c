import { type OptionSpec, opt, reply } from '../src/core/command.js';
import { describeError } from '../src/core/errors.js';
import { checkDomain, checkSiteName } from '../src/provision/names.js';
import { nameTaken, provisionSite } from '../src/provision/provision-site.js';
import { defineCommand, hostOption, startRun } from '../src/services.js';

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
    host: hostOption('The host to create it on (default: the SITES_ROOT host)'),
  },
  run: async (ctx, { site, template, domain, host: hostArg }) => {
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
    // The SITES_ROOT host by default; an ssh:// host with a SITES_ROOTS folder when named.
    const host = hostArg ?? services.hosts.sitesRootHost();
    const engine = services.hosts.get(host);
    if (!engine)
      return reply.invalid(`Unknown host "${host}"`, [
        `Configured hosts: ${services.hosts.names().join(', ')}`,
      ]);
    const target = p.targets.get(host);
    if (!target)
      return reply.invalid(`Host "${host}" has no sites folder`, [
        `Give it one in SITES_ROOTS (${host}=/srv/sites) to provision there. Hosts that have one: ${[...p.targets.keys()].join(', ')}.`,
      ]);
    const { caddy } = target;
    if (!caddy)
      return reply.error(
        'Provisioning is off',
        host === services.hosts.sitesRootHost()
          ? 'Set CADDY_SITES_DIR (and CADDYFILE + CADDY_ADMIN_URL, or CADDY_RELOAD_COMMAND) so SiteFlow can add Caddy routes.'
          : `Give ${host} its Caddy in CADDY_SITES_DIRS, CADDYFILES and CADDY_ADMIN_URLS so SiteFlow can add routes there.`,
      );
    let taken: string | null;
    try {
      taken = await nameTaken(site, { engine, target: { ...target, caddy } });
    } catch (e) {
      return reply.error(`Cannot check ${host} for "${site}"`, describeError(e));
    }
    if (taken) return reply.invalid(`"${site}" already exists`, [`${taken}. Pick another name.`]);
    const def = provisionSite({
      target: { ...target, caddy },
      engine,
      compose: services.compose,
      composeEnv: services.hosts.composeEnv(host),
      template: t,
      site,
      domain: d.value,
      settings: p.settings,
      timeoutMs: services.limits.actionTimeoutMs + p.settings.healthTimeoutMs,
      ...(p.journal ? { journal: p.journal } : {}),
    });
    const on = services.hosts.names().length > 1 ? ` on ${host}` : '';
    return startRun(ctx, def, `Provisioning ${site} (${t.name}) at ${d.value}${on}`);
  },
});
