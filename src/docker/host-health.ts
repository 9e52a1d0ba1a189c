/**
 * Measures a host's health: for an engine on this machine (a unix socket) disk use of its
 * data root and of SITES_ROOT, memory and load from the OS; for every engine its `system df`.
 * Also the prune of dangling images and build cache (never volumes, never containers).
 */
import { statfs } from 'node:fs/promises';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import type Dockerode from 'dockerode';
import { describeError } from '../core/errors.js';
import type { DiskUse, HostHealth, PruneOutcome, SystemDf } from '../core/host-health.js';

interface DfImage {
  Containers?: number;
  Size?: number;
  RepoTags?: string[] | null;
}
interface DfCache {
  InUse?: boolean;
  Size?: number;
}

/** Whether a dockerode client talks to an engine on this machine. */
export function isLocalEngine(docker: Dockerode): boolean {
  const m = (docker as unknown as { modem?: { socketPath?: string } }).modem;
  return typeof m?.socketPath === 'string' && m.socketPath.length > 0;
}

async function disk(what: DiskUse['what'], path: string): Promise<DiskUse> {
  // A folder not made yet (SITES_ROOT before the first /provision) lives on its parent's filesystem.
  let at = resolve(path);
  let s: Awaited<ReturnType<typeof statfs>>;
  for (;;) {
    try {
      s = await statfs(at);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(at) === at) throw e;
      at = dirname(at);
    }
  }
  const total = s.blocks * s.bsize;
  const used = (s.blocks - s.bfree) * s.bsize;
  return { what, path, totalBytes: total, usedBytes: used, percent: total ? (used / total) * 100 : 0 };
}

/** Whether an image from `system df` is dangling (untagged). */
function dangling(i: DfImage): boolean {
  return !i.RepoTags?.length || i.RepoTags.every((t) => t === '<none>:<none>');
}

/** Counts and reclaimable space from `GET /system/df`. */
export function systemDfOf(raw: {
  Images?: DfImage[] | null;
  Containers?: unknown[] | null;
  Volumes?: unknown[] | null;
  BuildCache?: DfCache[] | null;
}): SystemDf {
  const images = raw.Images ?? [];
  const cacheFree = (raw.BuildCache ?? []).filter((c) => !c.InUse).reduce((s, c) => s + (c.Size ?? 0), 0);
  const unused = images.filter((i) => (i.Containers ?? 0) === 0);
  return {
    images: images.length,
    containers: (raw.Containers ?? []).length,
    volumes: (raw.Volumes ?? []).length,
    imagesBytes: images.reduce((s, i) => s + (i.Size ?? 0), 0),
    prunableBytes: unused.filter(dangling).reduce((s, i) => s + (i.Size ?? 0), 0) + cacheFree,
    reclaimableBytes: unused.reduce((s, i) => s + (i.Size ?? 0), 0) + cacheFree,
  };
}

/** One measurement of a host; parts that fail are listed in `problems`. */
export async function measureHost(
  host: string,
  docker: Dockerode,
  o: { sitesRoot: string | null; now: number },
): Promise<HostHealth> {
  const problems: string[] = [];
  const local = isLocalEngine(docker);
  const h: HostHealth = {
    host,
    at: o.now,
    source: local ? 'os' : 'engine',
    disks: [],
    memory: null,
    load: null,
    cpus: null,
    df: null,
    problems,
  };
  let info: { DockerRootDir?: string; NCPU?: number } = {};
  try {
    info = await docker.info();
  } catch (e) {
    problems.push(`engine info: ${describeError(e)}`);
  }
  try {
    h.df = systemDfOf(await docker.df());
  } catch (e) {
    problems.push(`system df: ${describeError(e)}`);
  }
  if (local) {
    const total = os.totalmem();
    const used = total - os.freemem();
    h.memory = { totalBytes: total, usedBytes: used, percent: (used / total) * 100 };
    h.load = os.loadavg() as [number, number, number];
    h.cpus = os.cpus().length;
    for (const [what, path] of [
      ['docker', info.DockerRootDir ?? null],
      ['sites', o.sitesRoot],
    ] as const) {
      if (!path) continue;
      try {
        h.disks.push(await disk(what, path));
      } catch (e) {
        problems.push(`${what} disk: ${describeError(e)}`);
      }
    }
  } else {
    // A remote engine tells its CPUs, not its disks, memory use or load.
    h.cpus = info.NCPU ?? null;
  }
  return h;
}

/**
 * Removes dangling images (only those carrying `label` when given, e.g. `siteflow.test=<id>`)
 * and, without a label, unused build cache. Never volumes, never containers.
 */
export async function pruneHost(docker: Dockerode, label: string | null): Promise<PruneOutcome> {
  const filters: Record<string, string[]> = { dangling: ['true'] };
  if (label) filters.label = [label];
  // docker-modem sends `filters` as JSON (GET /images/prune?filters={...}).
  const images = await docker.pruneImages({ filters });
  let cacheBytes = 0;
  if (!label) {
    const cache = await docker.pruneBuilder();
    cacheBytes = cache.SpaceReclaimed ?? 0;
  }
  return {
    imagesDeleted: (images.ImagesDeleted ?? []).filter((d) => d.Deleted).length,
    imageBytes: images.SpaceReclaimed ?? 0,
    cacheBytes,
    cacheSkipped: label !== null,
  };
}
