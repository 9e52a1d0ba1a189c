/**
 * What `compose up -d` would do to a site, and drift: a service is drifted when the config hash
 * compose computes now from the compose file and `.env` (`config --hash=*`, v2 and v1 alike)
 * differs from the `com.docker.compose.config-hash` label its container was created with.
 * docker-compose v1 (1.29) hashes `Service.config_dict()`, which includes the local image id,
 * so a pulled but not applied image is drift there too; v2 hashes the service config only.
 */

import { parse as parseYaml } from 'yaml';
import type { Compose, ContainerInfo, Engine, SiteInfo } from '../core/engine.js';
import { SiteFlowError } from '../core/errors.js';

/** The label compose writes the config hash to. */
export const CONFIG_HASH_LABEL = 'com.docker.compose.config-hash';
const ONEOFF_LABEL = 'com.docker.compose.oneoff';

/** One service's place in the plan. */
export interface ServicePlan {
  service: string;
  action: 'create' | 'recreate' | 'start' | 'remove' | 'none';
  /** Why it is recreated: `image` (a newer local image) or `config` (compose file or .env). */
  reason: 'image' | 'config' | null;
  /** The service's current container (null for `create`). */
  container: ContainerInfo | null;
}

/** What `compose up -d --remove-orphans` would do, service by service. */
export interface ComposePlan {
  services: ServicePlan[];
  create: string[];
  recreate: string[];
  start: string[];
  remove: string[];
  /** Services whose container's config hash differs from the compose file's. */
  drifted: string[];
}

/** Options of {@link composePlan}. */
export interface ComposePlanOptions {
  env?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** The config hash of every service as compose computes it now. */
export async function configHashes(
  compose: Compose,
  site: Pick<SiteInfo, 'name' | 'projectDir' | 'composeFiles'>,
  o: ComposePlanOptions = {},
): Promise<Map<string, string>> {
  if (!site.projectDir)
    throw new SiteFlowError('COMPOSE_NO_PROJECT_DIR', `no project folder known for ${site.name}`);
  const hashes = new Map<string, string>();
  await compose.run(site.projectDir, site.name, ['config', '--hash=*'], {
    ...(site.composeFiles.length ? { files: site.composeFiles } : {}),
    ...(o.env ? { env: o.env } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    timeoutMs: o.timeoutMs ?? 30_000,
    onLine: (line, stream) => {
      const m = /^(\S+) ([0-9a-f]{64})$/.exec(line.trim());
      if (m && stream === 'stdout') hashes.set(m[1]!, m[2]!);
    },
  });
  return hashes;
}

/** How compose gets a service's image: its `image`, whether it has a `build:`, and `pull_policy`. */
export interface ServiceImageConfig {
  image: string | null;
  build: boolean;
  /** `always`, `missing` (the default), `never`, `build`, ... as written; null when unset. */
  pullPolicy: string | null;
}

/** Every service's image settings from `compose config` (the file as compose resolves it). */
export async function serviceImageConfigs(
  compose: Compose,
  site: Pick<SiteInfo, 'name' | 'projectDir' | 'composeFiles'>,
  o: ComposePlanOptions = {},
): Promise<Map<string, ServiceImageConfig>> {
  if (!site.projectDir)
    throw new SiteFlowError('COMPOSE_NO_PROJECT_DIR', `no project folder known for ${site.name}`);
  const lines: string[] = [];
  await compose.run(site.projectDir, site.name, ['config'], {
    ...(site.composeFiles.length ? { files: site.composeFiles } : {}),
    ...(o.env ? { env: o.env } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    timeoutMs: o.timeoutMs ?? 30_000,
    onLine: (line, stream) => {
      if (stream === 'stdout') lines.push(line);
    },
  });
  const doc = parseYaml(lines.join('\n')) as { services?: Record<string, Record<string, unknown>> } | null;
  const out = new Map<string, ServiceImageConfig>();
  for (const [name, svc] of Object.entries(doc?.services ?? {})) {
    out.set(name, {
      image: typeof svc.image === 'string' ? svc.image : null,
      build: svc.build !== undefined && svc.build !== null,
      pullPolicy: typeof svc.pull_policy === 'string' ? svc.pull_policy : null,
    });
  }
  return out;
}

/** The plan of `compose up -d --remove-orphans` for `site` (its containers as listed). */
export async function composePlan(
  compose: Compose,
  engine: Pick<Engine, 'localImage'>,
  site: SiteInfo,
  o: ComposePlanOptions = {},
): Promise<ComposePlan> {
  const hashes = await configHashes(compose, site, o);
  const mine = site.containers.filter((c) => c.service && c.labels[ONEOFF_LABEL] !== 'True');
  const services: ServicePlan[] = [];
  for (const [service, hash] of hashes) {
    const cs = mine.filter((c) => c.service === service);
    const c = cs[0] ?? null;
    if (!c) {
      services.push({ service, action: 'create', reason: null, container: null });
      continue;
    }
    if (cs.some((x) => x.labels[CONFIG_HASH_LABEL] !== hash)) {
      const local = await engine.localImage(c.image).catch(() => null);
      const reason = local && local.id !== c.imageId ? 'image' : 'config';
      services.push({ service, action: 'recreate', reason, container: c });
      continue;
    }
    const stopped = cs.some((x) => x.state !== 'running' && x.status !== 'completed');
    services.push({ service, action: stopped ? 'start' : 'none', reason: null, container: c });
  }
  for (const service of new Set(mine.map((c) => c.service!)))
    if (!hashes.has(service))
      services.push({
        service,
        action: 'remove',
        reason: null,
        container: mine.find((c) => c.service === service) ?? null,
      });
  const of = (a: ServicePlan['action']) => services.filter((s) => s.action === a).map((s) => s.service);
  return {
    services,
    create: of('create'),
    recreate: of('recreate'),
    start: of('start'),
    remove: of('remove'),
    drifted: of('recreate'),
  };
}

/** What a drift reason reads like to people. */
export function driftReason(reason: ServicePlan['reason']): string {
  return reason === 'image' ? 'a newer local image' : 'compose file or .env changed';
}

/** `create new; recreate web (config); remove old`, or `nothing to change`. */
export function describePlan(p: ComposePlan): string {
  const parts: string[] = [];
  if (p.create.length) parts.push(`create ${p.create.join(', ')}`);
  if (p.recreate.length)
    parts.push(
      `recreate ${p.services
        .filter((s) => s.action === 'recreate')
        .map((s) => `${s.service} (${driftReason(s.reason)})`)
        .join(', ')}`,
    );
  if (p.start.length) parts.push(`start ${p.start.join(', ')}`);
  if (p.remove.length) parts.push(`remove ${p.remove.join(', ')}`);
  return parts.length ? parts.join('; ') : 'nothing to change';
}
