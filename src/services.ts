/**
 * The services bag handed to command handlers, and the few helpers every command shares.
 * Built once in main.ts (and by tests with real or fake parts); commands depend on this
 * shape, never on adapters.
 */
import type { LifecycleOptions } from './actions/lifecycle-site.js';
import type { BackupService } from './core/backup.js';
import {
  type Command,
  type CommandContext,
  type OptionSpec,
  opt,
  type Reply,
  reply,
  type SiteRef,
} from './core/command.js';
import type { Confirmations } from './core/confirmations.js';
import { HOST_ANSWER_MS, settleWithin } from './core/deadline.js';
import type { CommandRegistry } from './core/dispatch.js';
import type {
  Compose,
  ContainerInfo,
  ContainerStats,
  Engine,
  HostRegistry,
  SiteInfo,
} from './core/engine.js';
import { isSiteFlowError } from './core/errors.js';
import { formatAgo } from './core/format.js';
import type { HostHealthService } from './core/host-health.js';
import type { AuditStore, Clock, OperationStore } from './core/ports.js';
import type { ActionDef, ActionRunner } from './core/runs.js';
import type { StatsSource } from './core/stats.js';
import type { MonitorControl } from './monitor/monitor.js';
import type { UpdateChecker } from './monitor/update-checks.js';
import type { Provisioning } from './provision/provisioning.js';
import type { ScheduleControl } from './schedule/scheduler.js';

/** Time limits and sizes commands apply. */
export interface Limits {
  actionTimeoutMs: number;
  healthTimeoutMs: number;
  pullStallMs: number;
  logsMaxFollowMs: number;
}

/** A site as a listing names it, read-only: what /status shows of a host's sites. */
export type SiteSummary = Readonly<Pick<SiteInfo, 'host' | 'name' | 'state'>> & {
  readonly containers: readonly ContainerInfo[];
};

/** What command handlers may use. */
export interface Services {
  audit: AuditStore;
  operations: OperationStore;
  registry: CommandRegistry<Services>;
  clock: Clock;
  hosts: HostRegistry;
  compose: Compose;
  runner: ActionRunner;
  limits: Limits;
  /** Site policies from the configuration. */
  policy: { confirmPull: boolean; rollbackOnFailure: boolean; pruneAfterPull: boolean };
  confirmations: Confirmations;
  /** Shown by /help and denials: how an admin grants more. */
  grantHint: string;
  /** Site templates, Caddy and provisioning settings (/provision, /deprovision, /templates). */
  provisioning?: Provisioning;
  /** NAS backup checks (/backup); says why when they are off. */
  backups?: BackupService;
  /** The monitor (/silence, /unsilence, /silences, /ack); absent when MONITOR_ENABLED=false. */
  monitor?: MonitorControl;
  /** Scheduled commands (/schedule). */
  schedules?: ScheduleControl;
  /** Registry update checks (/updates). */
  updates?: UpdateChecker;
  /** Drifted services of a site as the last drift check found them (service -> what changed). */
  driftOf?: (host: string, site: string) => Readonly<Record<string, string>> | null;
  /** History statistics (/stats). */
  history?: StatsSource;
  /** Host health (/status host lines, /prune). */
  hostHealth?: HostHealthService;
  /**
   * `host` as the live state last saw it (null before a first attempt): whether its last listing
   * succeeded, its sites then and when. /status shows them for a host slower than HOST_ANSWER_MS,
   * marked as such; the site lookup need not wait for a slow host that did not have the site.
   */
  lastListing?: (host: string) => { reachable: boolean; sites: readonly SiteSummary[]; at: number } | null;
  /**
   * The live state's last CPU/memory sample of a container while it is recent (two sampling
   * periods), else null: /status of a site shows it instead of waiting a second for a new one.
   */
  recentStats?: (host: string, site: string, containerId: string) => ContainerStats | null;
}

/** Declares a command whose handler receives the SiteFlow services. */
export function defineCommand<O extends Record<string, OptionSpec>>(
  c: Command<Services, O>,
): Command<Services, O> {
  return c;
}

/**
 * Resolves a site reference to the one engine and site it names, or returns the reply saying
 * why not: an unknown host, a name on several hosts, or no such site (naming the hosts that did
 * not answer). `host/site` asks that host only; a bare name asks every host at once, each for at
 * most HOST_ANSWER_MS, so a hung host is reported, never waited on; once the site is found, a
 * host still answering is not waited for at all when the live state last saw it unreachable or
 * without that site. A bad name fails the same way on every host, so that error is thrown as the
 * caller's, not blamed on a host.
 */
export async function findSite(
  services: Pick<Services, 'hosts' | 'lastListing'>,
  ref: SiteRef,
): Promise<{ ok: true; engine: Engine; site: SiteInfo } | { ok: false; reply: Reply }> {
  const { hosts } = services;
  const notFound = (where: string, unreachable: string[]) =>
    reply.invalid(`No site "${where}${ref.name}"`, [
      'Try /status to list the sites.',
      ...(unreachable.length ? [`Not reachable right now: ${unreachable.join(', ')}`] : []),
    ]);
  const named = ref.host !== null ? hosts.get(ref.host) : null;
  if (ref.host !== null && !named)
    return {
      ok: false,
      reply: reply.invalid(`Unknown host "${ref.host}"`, [`Configured hosts: ${hosts.names().join(', ')}`]),
    };
  const engines = named ? [named] : hosts.names().map((h) => hosts.get(h)!);
  if (engines.length === 1) {
    const engine = engines[0]!;
    const site = await engine.site(ref.name);
    return site
      ? { ok: true, engine, site }
      : { ok: false, reply: notFound(ref.host ? `${ref.host}/` : '', []) };
  }
  // A host still answering cannot matter once the site is found and that host, as last seen,
  // was unreachable or did not have it.
  const cannotHaveIt = engines.map((engine) => {
    const last = services.lastListing?.(engine.name);
    return !!last && (!last.reachable || !last.sites.some((s) => s.name === ref.name));
  });
  const settled = await settleWithin(
    engines,
    HOST_ANSWER_MS,
    (engine) => engine.site(ref.name),
    (sofar) =>
      sofar.some((r) => r?.status === 'ok' && r.value) &&
      sofar.every((r, i) => r !== undefined || cannotHaveIt[i]),
  );
  const found: Array<{ engine: Engine; site: SiteInfo }> = [];
  const unreachable: string[] = [];
  settled.forEach((r, i) => {
    const engine = engines[i]!;
    if (r.status === 'failed' && isSiteFlowError(r.error, 'INPUT_')) throw r.error;
    if (r.status !== 'ok') unreachable.push(engine.name);
    else if (r.value) found.push({ engine, site: r.value });
  });
  if (found.length > 1)
    return {
      ok: false,
      reply: reply.invalid(`"${ref.name}" exists on several hosts`, [
        `Say which one: ${found.map((f) => `${f.engine.name}/${ref.name}`).join(', ')}`,
      ]),
    };
  return found[0] ? { ok: true, ...found[0] } : { ok: false, reply: notFound('', unreachable) };
}

/** The `<site> [service]` options most site commands start with. */
export const siteAndService = {
  site: opt.site({ description: 'The site (or host/site)', required: true }),
  service: opt.service({ description: 'Only this compose service' }),
};

/** A `[host]` option: a host name as in DOCKER_HOSTS, completed from the configured hosts. */
export function hostOption(description: string) {
  return opt.string({
    description,
    max: 63,
    pattern: /^[a-z0-9][a-z0-9_-]{0,62}$/,
    patternHint: 'a host name as in DOCKER_HOSTS',
    completion: 'host',
  });
}

/** The `<target>` of /silence and /unsilence: a site, host/site, or a host name. */
export const alertTarget = opt.string({
  description: 'A site, host/site, or a host name',
  required: true,
  max: 129,
  pattern: /^[a-z0-9][a-z0-9_/-]{0,128}$/,
  patternHint: 'expected a site, host/site or host name',
  completion: 'target',
});

/** Resolves a site and checks the optional service belongs to it, or returns the reply saying why not. */
export async function findSiteService(
  services: Services,
  site: SiteRef,
  service: string | undefined,
): Promise<{ ok: true; engine: Engine; site: SiteInfo } | { ok: false; reply: Reply }> {
  const found = await findSite(services, site);
  if (!found.ok) return found;
  const bad = checkService(found.site, service);
  return bad ? { ok: false, reply: bad } : found;
}

/** Checks that `service` belongs to the site. */
export function checkService(site: SiteInfo, service: string | undefined): Reply | null {
  if (!service) return null;
  const known = [...new Set(site.containers.map((c) => c.service).filter((s): s is string => !!s))];
  return known.includes(service)
    ? null
    : reply.invalid(`No service "${service}" in ${site.name}`, [
        `Services: ${known.join(', ') || 'none running'}`,
      ]);
}

/** `blog` or `edge/blog`, as the user should type it. */
export function siteLabel(services: Services, site: Pick<SiteInfo, 'host' | 'name'>): string {
  return services.hosts.names().length > 1 ? `${site.host}/${site.name}` : site.name;
}

/** Starts an action as an operation; the reply tells the surface to stream it. */
export function startRun(ctx: CommandContext<Services>, def: ActionDef, title: string): Reply {
  const { services, actor } = ctx;
  const r = services.runner.start(def, { actor });
  if (r.ok) {
    return {
      status: 'ok',
      title: `${title} (${r.value.id}), started by ${actor.name}`,
      blocks: [],
      operationId: r.value.id,
      actions: [{ label: 'Cancel', command: 'cancel', args: { operation: r.value.id }, danger: true }],
    };
  }
  if (r.error.code === 'busy') {
    const b = r.error;
    return {
      status: 'busy',
      title: `${def.site} is busy`,
      blocks: [
        {
          kind: 'text',
          text: `${b.kind} by ${b.actor.name} (${b.actor.platform}) is ${b.status} since ${formatAgo(b.since, services.clock.now())} (${b.operationId}). Try again when it ends, or /cancel ${b.operationId}.`,
        },
      ],
      ephemeral: true,
    };
  }
  return reply.error('Not started', r.error.message);
}

/**
 * Asks the user to confirm before `proceed` runs. The reply carries the prompt the surface
 * renders as buttons; nothing happens until the owner (or an admin) confirms in time.
 */
export function askConfirmation(
  ctx: CommandContext<Services>,
  o: { summary: string; confirmLabel: string; site: string | null; proceed: () => Promise<Reply> | Reply },
): Reply {
  const c = ctx.services.confirmations.request({
    command: ctx.invocation.command,
    site: o.site,
    actor: ctx.actor,
    summary: o.summary,
    proceed: o.proceed,
  });
  const secs = Math.round((c.expiresAt - c.createdAt) / 1000);
  return {
    status: 'ok',
    title: `Confirm: ${o.summary}`,
    blocks: [{ kind: 'text', text: `Only ${ctx.actor.name} or an admin can confirm, within ${secs} s.` }],
    confirm: { id: c.id, confirmLabel: o.confirmLabel, expiresAt: c.expiresAt },
  };
}

/** Reports a failed change of a site once, as a notice through the alert channels (when the monitor runs). */
export function failureNotice(
  services: Services,
  site: Pick<SiteInfo, 'host' | 'name'>,
): (title: string, lines: string[]) => void {
  return (title, lines) =>
    services.monitor?.notice({
      key: `notice:failed:${site.host}/${site.name}`,
      host: site.host,
      site: site.name,
      title,
      lines,
    });
}

/** The options every lifecycle action (/start, /stop, /up) takes for a found site. */
export function lifecycleOptions(
  services: Services,
  found: { engine: Engine; site: SiteInfo },
  service?: string,
): LifecycleOptions {
  return {
    engine: found.engine,
    compose: services.compose,
    site: found.site,
    ...(service ? { service } : {}),
    timeoutMs: services.limits.actionTimeoutMs,
    healthTimeoutMs: services.limits.healthTimeoutMs,
    composeEnv: services.hosts.composeEnv(found.site.host),
  };
}
