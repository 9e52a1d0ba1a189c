import { reply } from '../src/core/command.js';
import { formatBytes } from '../src/core/host-health.js';
import { askConfirmation, defineCommand, hostOption, startRun } from '../src/services.js';

export default defineCommand({
  name: 'prune',
  description: 'Free disk space on a host: remove dangling images and unused build cache (never volumes)',
  level: 'admin',
  mutates: true,
  options: {
    host: hostOption('The Docker host (default: the only one, or the SITES_ROOT host)'),
  },
  run: async (ctx, a) => {
    const { services } = ctx;
    const health = services.hostHealth;
    if (!health) return reply.error('Prune is not available', 'Host health is off.');
    const hosts = services.hosts.names();
    const host = a.host ?? (hosts.length === 1 ? hosts[0]! : services.hosts.sitesRootHost());
    if (!hosts.includes(host))
      return reply.invalid(`Unknown host "${host}"`, [`Configured hosts: ${hosts.join(', ')}`]);
    const h = await health.refresh(host);
    if (!h?.df)
      return reply.error(
        `Cannot read ${host}'s disk use`,
        h?.problems.join('; ') || 'The engine did not answer.',
      );
    const label = health.pruneLabel;
    const summary =
      `Prune ${host}: remove ${label ? `dangling images labelled ${label}` : 'every dangling image and the unused build cache'}` +
      ` (about ${formatBytes(h.df.prunableBytes)} reclaimable now; volumes and containers are never touched)`;
    return askConfirmation(ctx, {
      summary,
      confirmLabel: `Prune ${host}`,
      site: null,
      proceed: () =>
        startRun(
          ctx,
          {
            kind: 'prune',
            host,
            site: '',
            mutates: true,
            timeoutMs: services.limits.actionTimeoutMs,
            args: { host, ...(label ? { label } : {}) },
            async run(io) {
              io.line(
                `Removing dangling images${label ? ` labelled ${label}` : ' and unused build cache'} on ${host}…`,
                'info',
              );
              const r = await health.prune(host);
              if (!r) throw new Error(`host ${host} is not a Docker engine SiteFlow can prune`);
              io.line(`Removed ${r.imagesDeleted} image layer(s): ${formatBytes(r.imageBytes)}.`);
              if (r.cacheSkipped) io.line('Build cache left alone (the prune is restricted to a label).');
              else io.line(`Build cache: ${formatBytes(r.cacheBytes)}.`);
              io.line(`Freed ${formatBytes(r.imageBytes + r.cacheBytes)} in total.`, 'info');
            },
          },
          `Pruning ${host}`,
        ),
    });
  },
});
