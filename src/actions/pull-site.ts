/**
 * The pull action: pulls a site's images with aggregated layer progress, recreates the
 * services whose image changed with `compose up -d`, waits for them to be healthy, and
 * reports old -> new digests. A slow pull is never failed while bytes still move
 * (downloaded or extracted): only a stall (no progress for `stallMs`) ends it.
 * The previous image of each changed service is kept under a `sf-prev-*` tag until the pull
 * succeeded; a service that does not come up is rolled back to it (see `recreateSafely`).
 */
import type { Compose, Engine, PullProgress, SiteInfo } from '../core/engine.js';
import { describeError, isSiteFlowError, SiteFlowError } from '../core/errors.js';
import type { ActionDef, ActionIO } from '../core/runs.js';
import { type ServiceImageConfig, serviceImageConfigs } from '../docker/compose-plan.js';
import { type RecreateTarget, recreateSafely } from './recreate-safely.js';
import { sanitizeLine } from './sanitize.js';

/** Options of the pull action. */
export interface PullOptions {
  engine: Engine;
  compose: Compose;
  site: SiteInfo;
  service?: string;
  /** Safety cap on the whole action; generous, since progress decides. */
  timeoutMs: number;
  /** Fail when no byte moved for this long. */
  stallMs: number;
  /** Time limit of the recreate (`compose up -d`) after the pull: the usual action limit. */
  recreateTimeoutMs?: number;
  /** Environment for compose on the site's host (DOCKER_HOST for remote engines). */
  composeEnv?: Record<string, string>;
  /** How long recreated containers get to be running (and healthy, with a healthcheck). */
  healthTimeoutMs: number;
  /** Roll failed services back to their previous image (ROLLBACK_ON_FAILURE). */
  rollback: boolean;
  /** Remove superseded images no container uses once the pull succeeded (PRUNE_AFTER_PULL). */
  prune: boolean;
  /** Reports a failed pull once (the command wires it to the alert channels). */
  onFailure?: (title: string, lines: string[]) => void;
}

const MB = 1024 * 1024;

/** `Downloading 12.3 / 40.0 MB, 3/5 layers` */
export function describePull(p: PullProgress): string {
  const parts = [p.status];
  if (p.bytesTotal > 0) parts.push(`${(p.bytesDone / MB).toFixed(1)} / ${(p.bytesTotal / MB).toFixed(1)} MB`);
  if (p.layers > 0) parts.push(`${p.layersDone}/${p.layers} layers`);
  return parts.join(', ');
}

/** First 12 hex digits of a digest, enough to tell two apart. */
export function shortDigest(d: string | null): string {
  return d ? `${d.replace(/^sha256:/, '').slice(0, 12)}` : 'none';
}

/** A value that changes whenever a pull moves: a new byte downloaded or extracted, or a finished layer. */
export function pullMovement(p: PullProgress): string {
  return `${p.bytesDone}/${p.bytesExtracted}/${p.layersDone}`;
}

/** Pulls `ref`, failing with DOCKER_PULL_STALLED when it does not move (see `pullMovement`) for `stallMs`. */
export async function pullWithStallGuard(engine: Engine, ref: string, io: ActionIO, stallMs: number) {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  io.signal.addEventListener('abort', onAbort, { once: true });
  let last = '';
  let stalled = false;
  let timer = setTimeout(function check() {
    stalled = true;
    ac.abort();
  }, stallMs);
  try {
    return await engine.pullImage(ref, {
      signal: ac.signal,
      onProgress: (p) => {
        io.progress(ref, describePull(p));
        const moved = pullMovement(p); // downloading, extracting or a finished layer all count
        if (moved !== last) {
          last = moved;
          clearTimeout(timer);
          timer = setTimeout(() => {
            stalled = true;
            ac.abort();
          }, stallMs);
        }
      },
    });
  } catch (e) {
    if (stalled) {
      throw new SiteFlowError(
        'DOCKER_PULL_STALLED',
        `pull of ${ref} stalled: no progress for ${Math.round(stallMs / 1000)} s`,
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
    io.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Makes sure `ref` is present: a local image (pulled before, built, or loaded) is used as is;
 * otherwise it is pulled. Throws DOCKER_IMAGE_UNAVAILABLE, saying why, when it is neither
 * local nor pullable.
 */
export async function ensureImage(
  engine: Engine,
  ref: string,
  opts: { signal?: AbortSignal; onProgress?: (p: PullProgress) => void } = {},
): Promise<{ pulled: boolean; digest: string | null }> {
  const local = await engine.localImage(ref);
  if (local) return { pulled: false, digest: local.digest };
  try {
    const p = await engine.pullImage(ref, opts);
    return { pulled: true, digest: p.digest };
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    throw unavailable(engine, ref, e);
  }
}

/** DOCKER_IMAGE_UNAVAILABLE: `ref` is not on the engine and its pull failed with `cause`. */
function unavailable(engine: Engine, ref: string, cause: unknown): SiteFlowError {
  return new SiteFlowError(
    'DOCKER_IMAGE_UNAVAILABLE',
    `image ${ref} is neither present on ${engine.name} nor pullable: ${describeError(cause)}`,
    { host: engine.name },
    { cause },
  );
}

/** `-f` files for compose: the ones the site was started with (or its folder's), when known. */
export function composeFilesOf(site: SiteInfo): { files?: readonly string[] } {
  return site.composeFiles.length ? { files: site.composeFiles } : {};
}

/** Builds the pull action. */
export function pullSite(o: PullOptions): ActionDef {
  return {
    kind: 'pull',
    host: o.site.host,
    site: o.site.name,
    mutates: true,
    timeoutMs: o.timeoutMs,
    args: o.service ? { service: o.service } : {},
    async run(io) {
      const containers = o.site.containers.filter(
        (c) => c.service && (!o.service || c.service === o.service),
      );
      if (!o.site.projectDir)
        throw new SiteFlowError('COMPOSE_NO_PROJECT_DIR', `no project folder known for ${o.site.name}`);
      const projectDir = o.site.projectDir;
      const compose = (args: string[], timeoutMs?: number) =>
        o.compose.run(projectDir, o.site.name, args, {
          signal: io.signal,
          onLine: (l, s) => io.line(sanitizeLine(l), s),
          ...composeFilesOf(o.site),
          ...(o.composeEnv ? { env: o.composeEnv } : {}),
          ...(timeoutMs ? { timeoutMs } : {}),
        });
      if (containers.length === 0) {
        // A stopped site: let compose resolve its images and report its own progress.
        io.line('No containers yet: pulling through compose', 'info');
        const r = await compose(['pull', ...(o.service ? [o.service] : [])]);
        return { exitCode: r.exitCode };
      }
      // service -> image ref and the image it runs now
      const services = new Map<string, { ref: string; old: string | null; oldId: string }>();
      for (const c of containers) services.set(c.service!, { ref: c.image, old: c.digest, oldId: c.imageId });
      const refs = [...new Set([...services.values()].map((s) => s.ref))];
      io.line(`Pulling ${refs.length} image${refs.length === 1 ? '' : 's'}: ${refs.join(', ')}`, 'info');
      // Compose decides how a service gets its image: `build:` and `pull_policy` are honoured.
      const configs = await serviceImageConfigs(o.compose, o.site, {
        signal: io.signal,
        ...(o.composeEnv ? { env: o.composeEnv } : {}),
      }).catch((e) => {
        io.line(`Could not read the compose file (${describeError(e)}): pulling every image`, 'info');
        return new Map<string, ServiceImageConfig>();
      });
      const builds = [...services.keys()].filter((svc) => {
        const c = configs.get(svc);
        return c?.build && c.pullPolicy !== 'always' && c.pullPolicy !== 'never';
      });
      const noPull = new Set(
        [...services]
          .filter(([svc]) => builds.includes(svc) || configs.get(svc)?.pullPolicy === 'never')
          .map(([, s]) => s.ref),
      );
      if (builds.length) {
        io.line(`Building ${builds.join(', ')}`, 'info');
        await compose(['build', ...builds], o.recreateTimeoutMs);
      }
      const pulled = new Map<string, { digest: string | null; id: string | null }>();
      for (const ref of refs) {
        if (noPull.has(ref)) {
          const local = await o.engine.localImage(ref);
          pulled.set(ref, { digest: local?.digest ?? null, id: local?.id ?? null });
          io.line(`${ref}: local image (built, or pull_policy: never), not pulled`);
          continue;
        }
        let r: Awaited<ReturnType<typeof pullWithStallGuard>>;
        try {
          r = await pullWithStallGuard(o.engine, ref, io, o.stallMs);
        } catch (e) {
          if (io.signal.aborted || isSiteFlowError(e, 'DOCKER_PULL_STALLED')) throw e;
          // Compose's default (pull_policy: missing) uses an image present locally.
          const local = await o.engine.localImage(ref);
          if (!local) throw unavailable(o.engine, ref, e);
          pulled.set(ref, { digest: local.digest, id: local.id });
          io.line(`${ref}: local image, not pulled (${describeError(e).split('\n')[0]})`);
          continue;
        }
        const local = await o.engine.localImage(ref);
        const digest = r.digest ?? local?.digest ?? null;
        pulled.set(ref, { digest, id: local?.id ?? null });
        io.line(
          `${ref}: ${r.updated ? 'downloaded newer image' : 'image is up to date'} (${shortDigest(digest)})`,
        );
      }
      const changed: RecreateTarget[] = [...services]
        .filter(([, s]) => {
          const p = pulled.get(s.ref);
          return p?.id ? p.id !== s.oldId : p?.digest !== s.old;
        })
        .map(([service, s]) => ({
          service,
          ref: s.ref,
          previous: { id: s.oldId, digest: s.old },
          next: { id: pulled.get(s.ref)?.id ?? null, digest: pulled.get(s.ref)?.digest ?? null },
        }));
      if (changed.length === 0) {
        io.line('Every service already runs the newest image; nothing to recreate.', 'info');
        return { exitCode: 0 };
      }
      const ok = await recreateSafely({
        engine: o.engine,
        site: o.site.name,
        io,
        targets: changed,
        healthTimeoutMs: o.healthTimeoutMs,
        rollback: o.rollback,
        prune: o.prune,
        what: 'pull',
        recreate: (names, force) =>
          compose(
            ['up', '-d', ...(force ? ['--force-recreate', '--no-deps'] : []), ...names],
            o.recreateTimeoutMs,
          ),
        ...(o.onFailure ? { onFailure: o.onFailure } : {}),
      });
      return { exitCode: ok ? 0 : 1 };
    },
  };
}
