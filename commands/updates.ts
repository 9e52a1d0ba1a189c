import { shortDigest } from '../src/actions/pull-site.js';
import { type Block, opt, reply } from '../src/core/command.js';
import { describeError } from '../src/core/errors.js';
import type { ServiceUpdate } from '../src/monitor/update-checks.js';
import { defineCommand, findSite, siteLabel } from '../src/services.js';

export default defineCommand({
  name: 'updates',
  description: 'Check for newer images under the tags sites run (nothing is downloaded)',
  level: 'viewer',
  options: { site: opt.site({ description: 'Only this site (or host/site)' }) },
  run: async ({ services }, { site }) => {
    const checker = services.updates;
    if (!checker) return reply.error('Update checks are not available');
    const results: ServiceUpdate[] = [];
    const problems: string[] = [];
    if (site) {
      const found = await findSite(services, site);
      if (!found.ok) return found.reply;
      results.push(...(await checker.check(found.engine, [found.site])));
    } else {
      await Promise.all(
        services.hosts.names().map(async (h) => {
          const engine = services.hosts.get(h)!;
          try {
            results.push(...(await checker.check(engine, await engine.listSites())));
          } catch (e) {
            problems.push(`${h}: not reachable (${describeError(e)})`);
          }
        }),
      );
    }
    results.sort((a, b) => a.site.localeCompare(b.site) || a.service.localeCompare(b.service));
    const blocks: Block[] = [];
    if (results.length)
      blocks.push({
        kind: 'table',
        columns: ['site', 'service', 'image', 'running', 'registry', 'status'],
        rows: results.map((u) => [
          siteLabel(services, { host: u.host, name: u.site }),
          u.service,
          u.image,
          shortDigest(u.running),
          u.remote ? shortDigest(u.remote) : '-',
          u.status === 'not checked' ? `not checked: ${u.reason ?? 'unknown'}` : u.status,
        ]),
      });
    else blocks.push({ kind: 'text', text: 'No services found.' });
    for (const p of problems) blocks.push({ kind: 'text', text: `⚠ ${p}` });
    const n = results.filter((u) => u.status === 'update available').length;
    return reply.ok(n ? `${n} update${n === 1 ? '' : 's'} available` : 'No updates available', ...blocks);
  },
});
