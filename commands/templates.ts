import { reply } from '../src/core/command.js';
import { defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'templates',
  description: 'List the site templates /provision can use',
  level: 'viewer',
  options: {},
  run: (ctx) => {
    const p = ctx.services.provisioning;
    if (!p) return reply.error('Provisioning is not available', 'SiteFlow was started without templates.');
    const rows = p.catalog
      .list()
      .map((t) => [
        t.name,
        t.meta.stack,
        t.meta.services.map((s) => `${s.name} (${s.role})`).join(', '),
        t.meta.adminPath,
        t.source,
      ]);
    const r = reply.ok(
      `${rows.length} site template${rows.length === 1 ? '' : 's'}`,
      { kind: 'table', columns: ['template', 'stack', 'services', 'admin', 'source'], rows },
      {
        kind: 'text',
        text: 'Provision one with /provision NAME TEMPLATE [domain]; the admin is at https://DOMAIN + the admin path.',
      },
    );
    for (const b of p.catalog.broken)
      r.blocks.push({
        kind: 'text',
        text: `Broken template "${b.name}" (${b.dir}): ${b.problems.join('; ')}`,
      });
    if (!p.caddy)
      r.blocks.push({ kind: 'text', text: 'Provisioning is off until CADDY_SITES_DIR is configured.' });
    return r;
  },
});
