/**
 * Measures a host's health: disk use of its Docker data root and of its site folder, memory and
 * load from the host's OS (this machine's for an engine on a unix socket here; the remote
 * machine's, read by one exec over its SSH connection, for an ssh:// host), and for every engine
 * its `system df`. Also the prune of dangling images and build cache (never volumes, never
 * containers).
 */
import { stat, statfs } from 'node:fs/promises';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import type Dockerode from 'dockerode';
import { timersOf } from '../core/clock.js';
import { describeError, SiteFlowError } from '../core/errors.js';
import type { DiskUse, HostHealth, PruneOutcome, SystemDf } from '../core/host-health.js';
import { DockerodeEngine } from './dockerode-engine.js';
import type { Hosts } from './hosts.js';
import { shQuote } from './shell-quote.js';
import { ScopedEngine } from './site-scope.js';
import type { SshConnection } from './ssh-connection.js';

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

/** One filesystem as a host's OS reports it: sizes, and what identifies it (device or mount). */
export interface FsFigures {
  totalBytes: number;
  usedBytes: number;
  fsId: string | null;
}

/** What a host's OS tells about some paths, its memory and its load; a part it cannot tell is an Error. */
export interface OsFigures {
  disks: Array<FsFigures | Error>;
  memory: { totalBytes: number; usedBytes: number } | Error;
  load: [number, number, number] | Error;
}

/** Reads a host's OS figures (this machine, or a remote one over SSH). */
export interface HostOs {
  /** `source` of the HostHealth it feeds. */
  readonly source: HostHealth['source'];
  read(paths: readonly string[], timeoutMs: number): Promise<OsFigures>;
}

/** One host to measure. */
export interface HealthTarget {
  host: string;
  docker: Dockerode;
  /** The host's site folder on that host (SITES_ROOT here, SITES_ROOTS for an ssh:// host), or null. */
  sitesRoot: string | null;
  /** How its disks, memory and load are read; null: only the engine's API (a tcp:// host). */
  os: HostOs | null;
}

/** The filesystem of `path`; a folder not made yet lives on its nearest existing parent's. */
async function localFs(path: string): Promise<FsFigures> {
  let at = resolve(path);
  for (;;) {
    try {
      const [s, st] = await Promise.all([statfs(at), stat(at)]);
      return {
        totalBytes: s.blocks * s.bsize,
        usedBytes: (s.blocks - s.bfree) * s.bsize,
        fsId: `dev:${st.dev}`,
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(at) === at) throw e;
      at = dirname(at);
    }
  }
}

const asError = (e: unknown) => (e instanceof Error ? e : new Error(describeError(e)));

/** This machine's OS. */
export const localHostOs: HostOs = {
  source: 'os',
  async read(paths) {
    const total = os.totalmem();
    return {
      disks: await Promise.all(paths.map((p) => localFs(p).catch(asError))),
      memory: { totalBytes: total, usedBytes: total - os.freemem() },
      load: os.loadavg() as [number, number, number],
    };
  },
};

/** Section markers of the remote reading (never part of df, meminfo or loadavg output). */
const MARK = '@@siteflow:';

/**
 * The one shell line that reads a remote host's figures: per path, `df -P -k` of it (or of its
 * nearest existing parent), then /proc/meminfo and /proc/loadavg, each after a marker line.
 * Paths are quoted with shQuote; `$q` is only ever expanded inside double quotes.
 */
export function remoteHealthCommand(paths: readonly string[]): string {
  const parts = paths.map(
    (p, i) =>
      `echo ${MARK}df:${i}; q=${shQuote(p)}; while [ ! -e "$q" ] && [ "$q" != / ]; do q=$(dirname -- "$q"); done; df -P -k -- "$q" 2>&1`,
  );
  parts.push(`echo ${MARK}meminfo; cat /proc/meminfo 2>&1`, `echo ${MARK}loadavg; cat /proc/loadavg 2>&1`);
  return parts.join('; ');
}

/** A `df -P -k` data line: filesystem, 1024-blocks, used, available, capacity, mount point. */
const DF_LINE_RE = /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(\/.*)$/;

/** The first line of a section, for a problem message (at most 160 characters). */
function firstLineOf(text: string): string {
  const line = text.split('\n').find((l) => l.trim()) ?? 'no output';
  return line
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .trim()
    .slice(0, 160);
}

/** Parses the output of {@link remoteHealthCommand} for `count` paths; never throws. */
export function parseRemoteHealth(out: string, count: number): OsFigures {
  const sections = new Map<string, string>();
  let key: string | null = null;
  let body: string[] = [];
  const flush = () => {
    if (key !== null) sections.set(key, body.join('\n'));
  };
  for (const line of out.split('\n')) {
    if (line.startsWith(MARK)) {
      flush();
      key = line.slice(MARK.length).trim();
      body = [];
    } else body.push(line);
  }
  flush();
  const missing = (what: string) => new Error(`${what}: no answer`);
  const disks = Array.from({ length: count }, (_, i): FsFigures | Error => {
    const text = sections.get(`df:${i}`);
    if (text === undefined) return missing('df');
    for (const line of text.split('\n')) {
      const m = DF_LINE_RE.exec(line.trim());
      if (!m) continue;
      const total = Number(m[2]) * 1024;
      const used = Number(m[3]) * 1024;
      if (!Number.isSafeInteger(total) || !Number.isSafeInteger(used) || total <= 0) continue;
      return { totalBytes: total, usedBytes: Math.min(used, total), fsId: `mount:${m[6]}` };
    }
    return new Error(`df: ${firstLineOf(text)}`);
  });
  let memory: OsFigures['memory'] = missing('/proc/meminfo');
  const meminfo = sections.get('meminfo');
  if (meminfo !== undefined) {
    const kb = (name: string) => {
      const m = new RegExp(`^${name}:\\s+(\\d+)\\s*kB`, 'm').exec(meminfo);
      return m ? Number(m[1]) * 1024 : null;
    };
    const total = kb('MemTotal');
    // As os.freemem() reads it here: MemAvailable, or MemFree on kernels without it.
    const free = kb('MemAvailable') ?? kb('MemFree');
    memory =
      total && free !== null && total > 0
        ? { totalBytes: total, usedBytes: Math.max(0, total - Math.min(free, total)) }
        : new Error(`/proc/meminfo: ${firstLineOf(meminfo)}`);
  }
  let load: OsFigures['load'] = missing('/proc/loadavg');
  const loadavg = sections.get('loadavg');
  if (loadavg !== undefined) {
    const m = /^\s*(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)(?:\s|$)/.exec(loadavg);
    load = m
      ? [Number(m[1]), Number(m[2]), Number(m[3])]
      : new Error(`/proc/loadavg: ${firstLineOf(loadavg)}`);
  }
  return { disks, memory, load };
}

/** A remote host's OS, read by one exec over its SSH connection (killed at the deadline). */
export function sshHostOs(conn: SshConnection): HostOs {
  return {
    source: 'ssh',
    async read(paths, timeoutMs) {
      let out = '';
      const exit = await conn.exec(remoteHealthCommand(paths), {
        onStdout: (c) => {
          // The figures are a few KB; a host that prints more is cut off, not buffered without end.
          if (out.length < 256 * 1024) out += c.toString('utf8');
        },
        timeoutMs,
        killGraceMs: 1000,
      });
      if (exit.killed === 'timeout') {
        const e = new Error(`no answer over SSH within ${Math.round(timeoutMs / 1000)} s`);
        return { disks: paths.map(() => e), memory: e, load: e };
      }
      return parseRemoteHealth(out, paths.length);
    },
  };
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

/**
 * What to measure on each dockerode host: an ssh:// host's OS over its SSH connection with its
 * SITES_ROOTS folder; an engine on this machine from this OS with SITES_ROOT (if it is the
 * SITES_ROOT host); a tcp:// engine only through its API.
 */
export function healthTargets(hosts: Hosts, o: { sitesRoot: string | null }): HealthTarget[] {
  return hosts
    .all()
    .map((e) => (e instanceof ScopedEngine ? e.inner : e))
    .filter((e): e is DockerodeEngine => e instanceof DockerodeEngine)
    .map((e) => {
      const conn = hosts.ssh.get(e.name);
      if (conn)
        return {
          host: e.name,
          docker: e.docker,
          sitesRoot: hosts.sitesRoots.get(e.name) ?? null,
          os: sshHostOs(conn),
        };
      return {
        host: e.name,
        docker: e.docker,
        sitesRoot: e.name === hosts.sitesRootHost() ? o.sitesRoot : null,
        os: isLocalEngine(e.docker) ? localHostOs : null,
      };
    });
}

/**
 * One measurement of a host; parts that fail are listed in `problems`. The OS figures come from
 * `os` (this machine's or a remote one's; none for an engine known only by its API), the same way
 * for both. Every part has `timeoutMs` (default 30 s).
 */
export async function measureHost(
  host: string,
  docker: Dockerode,
  o: { sitesRoot: string | null; now: number; os: HostOs | null; timeoutMs?: number },
): Promise<HostHealth> {
  // Parts that failed, by reason: an unreachable host is one problem naming every part, not five.
  // An SSH connection's failure is grouped by its state, whatever the wording (a request cut by
  // the lost connection, the reconnect refused); the latest wording is kept.
  const failed = new Map<string, { why: string; parts: string[] }>();
  const fail = (part: string, err: unknown) => {
    const why = describeError(err);
    const state = err instanceof SiteFlowError ? err.details.sshState : undefined;
    const key = typeof state === 'string' ? `ssh:${state}` : why;
    failed.set(key, { why, parts: [...(failed.get(key)?.parts ?? []), part] });
  };
  const problems: string[] = [];
  const timeoutMs = o.timeoutMs ?? 30_000;
  const hostOs = o.os;
  const h: HostHealth = {
    host,
    at: o.now,
    source: hostOs?.source ?? 'engine',
    disks: [],
    memory: null,
    load: null,
    cpus: null,
    df: null,
    problems,
  };
  // dockerode passes `abortSignal` on to the request; its types only know the callback form.
  const withDeadline = <T>(fn: (o: object) => Promise<T>, ms = timeoutMs) =>
    fn.call(docker, { abortSignal: AbortSignal.timeout(ms) });
  type Info = { DockerRootDir?: string; NCPU?: number };
  let infoError: unknown = null;
  const [info, df] = await Promise.all([
    withDeadline(docker.info as (o: object) => Promise<Info>).catch((e: unknown): Info => {
      infoError = e;
      fail('engine info', e);
      return {};
    }),
    // `system df` walks every image and volume: it gets four deadlines' time.
    withDeadline(docker.df as (o: object) => Promise<Parameters<typeof systemDfOf>[0]>, timeoutMs * 4).then(
      systemDfOf,
      (e: unknown) => {
        fail('system df', e);
        return null;
      },
    ),
  ]);
  h.df = df;
  h.cpus = hostOs === localHostOs ? os.cpus().length : (info.NCPU ?? null);
  const done = () => {
    for (const { why, parts } of failed.values()) problems.push(`${parts.join(', ')}: ${why}`);
    return h;
  };
  if (!hostOs) return done(); // A tcp:// engine tells its CPUs, not its disks, memory use or load.
  if (!info.DockerRootDir) fail('docker disk', infoError ?? 'the engine names no data root');
  const wanted = (
    [
      ['docker', info.DockerRootDir ?? null],
      ['sites', o.sitesRoot],
    ] as const
  ).filter((w): w is readonly [DiskUse['what'], string] => w[1] !== null);
  let figures: OsFigures;
  try {
    figures = await timersOf().deadline(
      hostOs.read(
        wanted.map(([, path]) => path),
        timeoutMs,
      ),
      timeoutMs + 2000,
      () => new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`),
    );
  } catch (e) {
    const err = asError(e);
    figures = { disks: wanted.map(() => err), memory: err, load: err };
  }
  wanted.forEach(([what, path], i) => {
    const f = figures.disks[i] ?? new Error('not read');
    if (f instanceof Error) fail(`${what} disk`, f);
    else
      h.disks.push({
        what,
        path,
        totalBytes: f.totalBytes,
        usedBytes: f.usedBytes,
        percent: f.totalBytes ? (f.usedBytes / f.totalBytes) * 100 : 0,
        fsId: f.fsId,
      });
  });
  if (figures.memory instanceof Error) fail('memory', figures.memory);
  else
    h.memory = {
      ...figures.memory,
      percent: figures.memory.totalBytes ? (figures.memory.usedBytes / figures.memory.totalBytes) * 100 : 0,
    };
  if (figures.load instanceof Error) fail('load', figures.load);
  else h.load = figures.load;
  return done();
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
