/**
 * The pull action: pulls a site's images with aggregated layer progress, recreates the
 * services whose image changed with `compose up -d`, and reports old -> new digests.
 * A slow pull is never failed while bytes still move (downloaded or extracted): only a
 * stall (no progress for `stallMs`) ends it.
 */
import type { Compose, Engine, PullProgress, SiteInfo } from '../core/engine.js';
import { SiteFlowError } from '../core/errors.js';
import type { ActionDef, ActionIO } from '../core/runs.js';
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

/** `-f` files for compose: the ones the site was started with (or its folder's), when known. */
function composeFilesOf(site: SiteInfo): { files?: readonly string[] } {
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
      if (containers.length === 0) {
        // A stopped site: let compose resolve its images and report its own progress.
        io.line('No containers yet: pulling through compose', 'info');
        const r = await o.compose.run(
          o.site.projectDir,
          o.site.name,
          ['pull', ...(o.service ? [o.service] : [])],
          {
            signal: io.signal,
            onLine: (l, s) => io.line(sanitizeLine(l), s),
            ...composeFilesOf(o.site),
            ...(o.composeEnv ? { env: o.composeEnv } : {}),
          },
        );
        return { exitCode: r.exitCode };
      }
      // service -> image ref and the digest it runs now
      const services = new Map<string, { ref: string; old: string | null }>();
      for (const c of containers) services.set(c.service!, { ref: c.image, old: c.digest });
      const refs = [...new Set([...services.values()].map((s) => s.ref))];
      io.line(`Pulling ${refs.length} image${refs.length === 1 ? '' : 's'}: ${refs.join(', ')}`, 'info');
      const pulled = new Map<string, string | null>();
      for (const ref of refs) {
        const r = await pullWithStallGuard(o.engine, ref, io, o.stallMs);
        const digest = r.digest ?? (await o.engine.imageDigest(ref));
        pulled.set(ref, digest);
        io.line(
          `${ref}: ${r.updated ? 'downloaded newer image' : 'image is up to date'} (${shortDigest(digest)})`,
        );
      }
      const changed = [...services].filter(([, s]) => pulled.get(s.ref) !== s.old);
      if (changed.length === 0) {
        io.line('Every service already runs the newest image; nothing to recreate.', 'info');
        return { exitCode: 0 };
      }
      const names = changed.map(([name]) => name);
      io.line(`Recreating ${names.join(', ')}`, 'info');
      await o.compose.run(o.site.projectDir, o.site.name, ['up', '-d', ...names], {
        signal: io.signal,
        onLine: (l, s) => io.line(sanitizeLine(l), s),
        ...composeFilesOf(o.site),
        ...(o.composeEnv ? { env: o.composeEnv } : {}),
        ...(o.recreateTimeoutMs ? { timeoutMs: o.recreateTimeoutMs } : {}),
      });
      for (const [name, s] of changed)
        io.line(`${name}: ${shortDigest(s.old)} -> ${shortDigest(pulled.get(s.ref) ?? null)}`);
      return { exitCode: 0 };
    },
  };
}
