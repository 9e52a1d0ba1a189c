import { opt, reply } from '../src/core/command.js';
import { formatDuration, formatTime } from '../src/core/format.js';
import { formatPercent } from '../src/core/stats.js';
import { defineCommand } from '../src/services.js';

const DAY = 86_400_000;

export default defineCommand({
  name: 'stats',
  description: 'Uptime, incidents, URL latency, restarts and operations statistics',
  level: 'viewer',
  options: {
    site: opt.site({ description: 'Only this site' }),
    since: opt.since({
      description: 'Incidents, latency and operations since: 24h (default), 7d or 2026-01-31',
    }),
  },
  run: ({ services }, a) => {
    if (!services.history) return reply.error('Statistics are not available', 'The history store is off.');
    const now = services.clock.now();
    const since = a.since ?? now - DAY;
    if (since >= now) return reply.invalid('Invalid since', ['since must be in the past']);
    const r = services.history.stats({ since, now, host: a.site?.host ?? null, site: a.site?.name ?? null });
    const title = `Statistics${a.site ? ` of ${a.site.name}` : ''} since ${formatTime(since)}`;
    if (a.site && !r.sites.length && !r.operations.length)
      return reply.text(title, `Nothing recorded for ${a.site.name} yet.`);
    const out = reply.ok(title);
    if (r.sites.length)
      out.blocks.push({
        kind: 'table',
        columns: ['site', 'uptime 24h', '7d', '30d', 'incidents', 'latency p50/p95', 'exits', 'restarts'],
        rows: r.sites.map((s) => [
          `${s.host}/${s.site}`,
          formatPercent(s.uptime['24h']),
          formatPercent(s.uptime['7d']),
          formatPercent(s.uptime['30d']),
          String(s.incidents.length),
          s.urls.length
            ? s.urls.map((u) => `${formatDuration(u.p50Ms)}/${formatDuration(u.p95Ms)}`).join(', ')
            : '-',
          String(s.containerExits),
          String(s.restartOperations),
        ]),
      });
    const incidents = r.sites.flatMap((s) => s.incidents.map((i) => ({ s, i })));
    if (incidents.length)
      out.blocks.push({
        kind: 'table',
        columns: ['incident', 'site', 'started', 'duration'],
        rows: incidents
          .slice(-20)
          .map(({ s, i }) => [
            i.title,
            s.site,
            formatTime(i.openedAt),
            `${formatDuration(i.durationMs)}${i.resolvedAt === null ? ' (ongoing)' : ''}`,
          ]),
      });
    if (r.operations.length)
      out.blocks.push({
        kind: 'table',
        columns: ['operation', 'count', 'success', 'avg', 'p95'],
        rows: r.operations.map((o) => [
          o.kind,
          String(o.count),
          formatPercent(o.successRate),
          formatDuration(o.avgMs),
          formatDuration(o.p95Ms),
        ]),
      });
    if (out.blocks.length === 0) out.blocks.push({ kind: 'text', text: 'Nothing recorded yet.' });
    return out;
  },
});
