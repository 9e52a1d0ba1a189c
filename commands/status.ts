import type { Block } from '../src/core/command.js';
import { opt, reply } from '../src/core/command.js';
import { HOST_ANSWER_MS, settleWithin } from '../src/core/deadline.js';
import type { ContainerInfo, ContainerStats, Engine, SiteInfo } from '../src/core/engine.js';
import { describeError } from '../src/core/errors.js';
import { formatAgo, formatDuration, stamp } from '../src/core/format.js';
import { hostHealthLine } from '../src/core/host-health.js';
import { stoppedBy } from '../src/core/stopped.js';
import { composePlan, driftReason } from '../src/docker/compose-plan.js';
import { defineCommand, findSite, type Services, type SiteSummary, siteLabel } from '../src/services.js';

const MB = 1024 * 1024;

function counts(site: Pick<SiteSummary, 'containers'>): string {
  const up = site.containers.filter((c) => c.status === 'up' || c.status === 'completed').length;
  return `${up}/${site.containers.length}`;
}

async function overview(services: Services) {
  const rows: string[][] = [];
  const problems: string[] = [];
  // Each host gets HOST_ANSWER_MS: a hung engine is named, never waited on.
  const hosts = services.hosts.names();
  const listed = await settleWithin(hosts, HOST_ANSWER_MS, (host) => services.hosts.get(host)!.listSites());
  listed.forEach((r, i) => {
    const host = hosts[i]!;
    let sites: readonly SiteSummary[];
    if (r.status === 'timeout') {
      // A slow host shows what the live state last saw of it, saying so; never nothing.
      const last = services.lastListing?.(host);
      const slow = `${host}: not answering (no answer within ${HOST_ANSWER_MS / 1000} s)`;
      if (!last?.reachable) {
        problems.push(slow);
        return;
      }
      problems.push(`${slow}; its sites as last seen ${formatAgo(last.at, services.clock.now())}`);
      sites = last.sites;
    } else if (r.status === 'failed') {
      problems.push(`${host}: not reachable (${describeError(r.error)})`);
      return;
    } else sites = r.value;
    for (const s of sites) {
      const last = services.operations.list({ site: s.name, host: s.host, limit: 1 })[0];
      const stopped = s.state === 'up' ? null : stoppedBy(services.operations, s.host, s.name);
      const drift = Object.keys(services.driftOf?.(s.host, s.name) ?? {}).length > 0;
      rows.push([
        siteLabel(services, s),
        `${stopped ? `stopped by ${stopped.by}` : s.state}${drift ? ' (drift)' : ''}`,
        counts(s),
        last ? `${last.kind} ${last.status} ${stamp(last.createdAt, true)}` : '-',
      ]);
    }
  });
  rows.sort((a, b) => a[0]!.localeCompare(b[0]!));
  const blocks: Block[] = [];
  const down = rows.filter((r) => r[1] === 'down' || r[1] === 'degraded').length;
  if (rows.length)
    blocks.push({
      kind: 'table',
      columns: ['site', 'state', 'up', 'last operation'],
      rows,
      cards: true,
      tone: down ? 'bad' : 'good',
    });
  else blocks.push({ kind: 'text', text: 'No sites found.' });
  for (const p of problems) blocks.push({ kind: 'text', text: `⚠ ${p}` });
  for (const host of services.hosts.names()) {
    const h = services.hostHealth?.latest(host);
    if (h) blocks.push({ kind: 'text', text: `Host ${hostHealthLine(h)}` });
  }
  return reply.ok(
    `${rows.length} site${rows.length === 1 ? '' : 's'}${down ? `, ${down} not healthy` : ''}`,
    ...blocks,
  );
}

function containerRow(c: ContainerInfo, s: ContainerStats | null, drifted: boolean): string[] {
  return [
    c.service ?? c.name,
    drifted ? `${c.status} (drift)` : c.status,
    c.health ?? '-',
    String(c.restartCount),
    s ? `${s.cpuPercent.toFixed(1)}%` : '-',
    s ? `${(s.memoryBytes / MB).toFixed(0)} MB` : '-',
    c.image,
  ];
}

/** The site's drifted services now (service -> what changed), compared through compose. */
async function siteDrift(
  services: Services,
  engine: Engine,
  info: SiteInfo,
): Promise<{ services: Record<string, string>; error: string | null }> {
  if (!info.projectDir || info.containers.length === 0) return { services: {}, error: null };
  try {
    const plan = await composePlan(services.compose, engine, info, {
      env: services.hosts.composeEnv(info.host),
      timeoutMs: 20_000,
    });
    const out: Record<string, string> = {};
    for (const p of plan.services) if (p.action === 'recreate') out[p.service] = driftReason(p.reason);
    return { services: out, error: null };
  } catch (e) {
    return { services: {}, error: describeError(e) };
  }
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
    // The live state's recent sample where there is one (a new one takes the engine a second),
    // and the drift check through compose, at the same time.
    const [stats, drift] = await Promise.all([
      Promise.all(
        info.containers.map((c) =>
          c.state === 'running'
            ? (services.recentStats?.(info.host, info.name, c.id) ?? engine.stats(c.id).catch(() => null))
            : null,
        ),
      ),
      siteDrift(services, engine, info),
    ]);
    const ops = services.operations.list({ site: info.name, host: info.host, limit: 5 });
    const stopped = info.state === 'up' ? null : stoppedBy(services.operations, info.host, info.name);
    const r = reply.ok(
      `${siteLabel(services, info)}: ${stopped ? `stopped by ${stopped.by}` : info.state} (${counts(info)} up) on ${info.host}`,
    );
    if (stopped)
      r.blocks.push({
        kind: 'text',
        text: `Stopped${stopped.service ? ` (${stopped.service})` : ''} by ${stopped.by} ${stamp(stopped.at, true)}; no alerts until /start.`,
      });
    if (info.containers.length) {
      r.blocks.push({
        kind: 'table',
        columns: ['service', 'status', 'health', 'restarts', 'cpu', 'memory', 'image'],
        rows: info.containers.map((c, i) =>
          containerRow(c, stats[i] ?? null, !!c.service && drift.services[c.service] !== undefined),
        ),
      });
      const drifted = Object.entries(drift.services);
      if (drifted.length)
        r.blocks.push({
          kind: 'text',
          text: `⚠ Drift: ${drifted.map(([svc, why]) => `${svc} (${why})`).join(', ')}. /up ${siteLabel(services, info)} applies the compose file.`,
        });
      else if (drift.error) r.blocks.push({ kind: 'text', text: `Drift not checked: ${drift.error}` });
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
          stamp(o.createdAt, true),
          formatDuration(o.finishedAt && o.startedAt ? o.finishedAt - o.startedAt : null),
        ]),
      });
    }
    return r;
  },
});
