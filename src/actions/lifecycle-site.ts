/**
 * Lifecycle actions: stop (`compose stop`), start (`compose start`, or `compose up -d` when the
 * site has no containers) and up (`compose up -d --remove-orphans`: applies edits of the compose
 * file and `.env`, with the health wait and rollback of `recreateSafely` where images changed).
 */
import type { Compose, Engine, SiteInfo } from '../core/engine.js';
import { SiteFlowError } from '../core/errors.js';
import type { ActionDef, ActionIO } from '../core/runs.js';
import { composePlan, describePlan } from '../docker/compose-plan.js';
import { composeFilesOf } from './pull-site.js';
import { type RecreateTarget, recreateSafely } from './recreate-safely.js';
import { sanitizeLine } from './sanitize.js';
import { finishWhenHealthy } from './wait-healthy.js';

/** What every lifecycle action needs. */
export interface LifecycleOptions {
  engine: Engine;
  compose: Compose;
  site: SiteInfo;
  service?: string;
  timeoutMs: number;
  healthTimeoutMs: number;
  /** Environment for compose on the site's host (DOCKER_HOST for remote engines). */
  composeEnv?: Record<string, string>;
}

/** Options of the up action. */
export interface UpOptions extends LifecycleOptions {
  rollback: boolean;
  prune: boolean;
  onFailure?: (title: string, lines: string[]) => void;
}

/** `compose ARGS` for the site, streamed into the run's output. */
function composeIn(o: LifecycleOptions, io: ActionIO) {
  const dir = o.site.projectDir;
  if (!dir) throw new SiteFlowError('COMPOSE_NO_PROJECT_DIR', `no project folder known for ${o.site.name}`);
  return (args: string[]) =>
    o.compose.run(dir, o.site.name, args, {
      signal: io.signal,
      onLine: (l, s) => io.line(sanitizeLine(l), s),
      timeoutMs: o.timeoutMs,
      ...composeFilesOf(o.site),
      ...(o.composeEnv ? { env: o.composeEnv } : {}),
    });
}

function base(kind: string, o: LifecycleOptions) {
  return {
    kind,
    host: o.site.host,
    site: o.site.name,
    mutates: true,
    // compose's own time limit plus the health wait
    timeoutMs: o.timeoutMs + o.healthTimeoutMs + 30_000,
    args: o.service ? { service: o.service } : {},
  };
}

/** Builds the stop action: `compose stop [service]`. */
export function stopSite(o: LifecycleOptions): ActionDef {
  return {
    ...base('stop', o),
    async run(io) {
      const compose = composeIn(o, io);
      io.line(`Stopping ${o.service ?? 'every service'} of ${o.site.name}`, 'info');
      await compose(['stop', ...(o.service ? [o.service] : [])]);
      io.line(`Stopped. ${o.site.name} is not alerted on until it is started again (/start).`, 'info');
      return { exitCode: 0 };
    },
  };
}

/** Builds the start action: `compose start [service]` (or `up -d` without containers), then the health wait. */
export function startSite(o: LifecycleOptions): ActionDef {
  return {
    ...base('start', o),
    async run(io) {
      const compose = composeIn(o, io);
      const svc = o.service ? [o.service] : [];
      const has = o.site.containers.some((c) => !o.service || c.service === o.service);
      io.line(`Starting ${o.service ?? 'every service'} of ${o.site.name}`, 'info');
      await compose(has ? ['start', ...svc] : ['up', '-d', ...svc]);
      const started = (await o.engine.containers(o.site.name)).filter(
        (c) => c.service && (!o.service || c.service === o.service),
      );
      return finishWhenHealthy(
        o.engine,
        started.map((c) => c.id),
        io,
        { timeoutMs: o.healthTimeoutMs, after: 'start', success: 'Started; every container is up.' },
      );
    },
  };
}

/** Builds the up action: applies the compose file and `.env` as `compose up -d --remove-orphans` would. */
export function upSite(o: UpOptions): ActionDef {
  return {
    ...base('up', o),
    async run(io) {
      const compose = composeIn(o, io);
      const plan = await composePlan(o.compose, o.engine, o.site, {
        signal: io.signal,
        ...(o.composeEnv ? { env: o.composeEnv } : {}),
      });
      io.line(`Plan: ${describePlan(plan)}`, 'info');
      const targets: RecreateTarget[] = [];
      for (const s of plan.services) {
        if (s.action === 'none' || s.action === 'remove') continue;
        const c = s.container;
        const image = c ? await o.engine.localImage(c.image).catch(() => null) : null;
        const imageChanged = c !== null && s.reason === 'image' && image !== null;
        targets.push({
          service: s.service,
          ref: c?.image ?? '',
          previous: imageChanged ? { id: c.imageId, digest: c.digest } : null,
          next: { id: image?.id ?? null, digest: image?.digest ?? null },
          note: s.action === 'create' ? 'created' : s.action === 'start' ? 'started' : 'recreated',
        });
      }
      if (targets.length === 0 && plan.remove.length === 0) {
        io.line('Nothing to change: every service matches its compose file.', 'info');
        return { exitCode: 0 };
      }
      if (targets.length === 0) {
        await compose(['up', '-d', '--remove-orphans']);
        io.line(`Removed ${plan.remove.join(', ')}.`, 'info');
        return { exitCode: 0 };
      }
      const ok = await recreateSafely({
        engine: o.engine,
        site: o.site.name,
        io,
        targets,
        healthTimeoutMs: o.healthTimeoutMs,
        rollback: o.rollback,
        prune: o.prune,
        what: 'up',
        recreate: (names, force) =>
          compose(
            force
              ? ['up', '-d', '--force-recreate', '--no-deps', ...names]
              : ['up', '-d', '--remove-orphans'],
          ),
        ...(o.onFailure ? { onFailure: o.onFailure } : {}),
      });
      return { exitCode: ok ? 0 : 1 };
    },
  };
}
