import type { Block } from '../src/core/command.js';
import { opt, reply } from '../src/core/command.js';
import type { ContainerInfo, ContainerStats, SiteInfo } from '../src/core/engine.js';
import { describeError } from '../src/core/errors.js';
import { formatAgo, formatDuration } from '../src/core/format.js';
import { hostHealthLine } from '../src/core/host-health.js';
import { defineCommand, findSite, type Services, siteLabel } from '../src/services.js';

const MB = 1024 * 1024;

function counts(site: SiteInfo): string {
  const up = site.containers.filter((c) => c.status === 'up' || c.status === 'completed').length;
  return `${up}/${site.containers.length}`;
}

async function overview(services: Services) {
  const rows: string[][] = [];
  const problems: string[] = [];
  await Promise.all(
    services.hosts.names().map(async (host) => {
      try {
        for (const s of await services.hosts.get(host)!.listSites()) {
          const last = services.operations.list({ site: s.name, host: s.host, limit: 1 })[0];
          rows.push([
            siteLabel(services, s),
            s.state,
            counts(s),
            last ? `${last.kind} ${last.status} ${formatAgo(last.createdAt, services.clock.now())}` : '-',
          ]);
        }
      } catch (e) {
        problems.push(`${host}: not reachable (${describeError(e)})`);
      }
    }),
  );
  rows.sort((a, b) => a[0]!.localeCompare(b[0]!));
  const blocks: Block[] = [];
  if (rows.length) blocks.push({ kind: 'table', columns: ['site', 'state', 'up', 'last operation'], rows });
  else blocks.push({ kind: 'text', text: 'No sites found.' });
  for (const p of problems) blocks.push({ kind: 'text', text: `⚠ ${p}` });
  for (const host of services.hosts.names()) {
    const h = services.hostHealth?.latest(host);
    if (h) blocks.push({ kind: 'text', text: `Host ${hostHealthLine(h)}` });
  }
  const down = rows.filter((r) => r[1] === 'down' || r[1] === 'degraded').length;
  return reply.ok(
    `${rows.length} site${rows.length === 1 ? '' : 's'}${down ? `, ${down} not healthy` : ''}`,
    ...blocks,
  );
}

function containerRow(c: ContainerInfo, s: ContainerStats | null): string[] {
  return [
    c.service ?? c.name,
    c.status,
    c.health ?? '-',
    String(c.restartCount),
    s ? `${s.cpuPercent.toFixed(1)}%` : '-',
    s ? `${(s.memoryBytes / MB).toFixed(0)} MB` : '-',
    c.image,
  ];
}

export default defineCommand({
  name: 'status',
  description: 'Sites and their state; one site in detail',
  level: 'viewer',
  options: { site: opt.site({ description: 'Show this site in detail' }) },
  run: async ({ services }, { site }) => {
    if (!site) return overview(services);
    const found = await findSite(services, site);
    if (!found.ok) return found.reply;
    const { engine, site: info } = found;
    const stats = await Promise.all(
      info.containers.map((c) => (c.state === 'running' ? engine.stats(c.id).catch(() => null) : null)),
    );
    const ops = services.operations.list({ site: info.name, host: info.host, limit: 5 });
    const now = services.clock.now();
    const r = reply.ok(`${siteLabel(services, info)}: ${info.state} (${counts(info)} up) on ${info.host}`);
    if (info.containers.length) {
      r.blocks.push({
        kind: 'table',
        columns: ['service', 'status', 'health', 'restarts', 'cpu', 'memory', 'image'],
        rows: info.containers.map((c, i) => containerRow(c, stats[i] ?? null)),
      });
    } else r.blocks.push({ kind: 'text', text: 'No containers: the site is stopped.' });
    if (ops.length) {
      r.blocks.push({
        kind: 'table',
        columns: ['operation', 'kind', 'status', 'by', 'when', 'took'],
        rows: ops.map((o) => [
          o.id,
          o.kind,
          o.status,
          o.requestedBy.name,
          formatAgo(o.createdAt, now),
          formatDuration(o.finishedAt && o.startedAt ? o.finishedAt - o.startedAt : null),
        ]),
      });
    }
    return r;
  },
});
