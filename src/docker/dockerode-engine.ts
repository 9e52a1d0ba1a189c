/**
 * Engine over dockerode: one Docker host. Sites are compose projects (label
 * `com.docker.compose.project`) plus site folders under SITES_ROOT. Every failure is a
 * SiteFlowError (see docker-errors.ts); names are validated before they reach a filter or path.
 */
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Dockerode from 'dockerode';
import { NAME_RE } from '../core/command.js';
import type {
  ContainerEvent,
  ContainerInfo,
  ContainerStats,
  Engine,
  LocalImage,
  LogLine,
  LogOptions,
  PullProgress,
  PullResult,
  SiteFolder,
  SiteInfo,
} from '../core/engine.js';
import { SiteFlowError } from '../core/errors.js';
import { type InspectData, pickDigest, toContainerInfo } from './container-info.js';
import { type RawStats, statsFrom } from './container-stats.js';
import { dockerError } from './docker-errors.js';
import { LogDemuxer } from './log-demuxer.js';
import { type PullMessage, PullTracker } from './pull-tracker.js';
import { scanSitesRoot, siteFolder } from './site-folders.js';
import { siteState } from './status.js';

/** Compose labels SiteFlow reads. */
export const LABEL = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
} as const;

/** A container id or name as the engine accepts it in a URL path. */
const CONTAINER_REF_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
/** An image reference: registry/repo:tag or @digest, no URL metacharacters. */
const IMAGE_REF_RE = /^[a-z0-9][a-z0-9._\-/:]{0,254}(?:@sha256:[a-f0-9]{64})?$/i;

/** Options of a DockerodeEngine. */
export interface DockerodeEngineOptions {
  /** Host name (`local`, `nas`, ...). */
  name: string;
  /** How to reach the engine (socketPath, or host/port/protocol/TLS/ssh), or a ready client. */
  docker?: Dockerode.DockerOptions | Dockerode;
  /** Folder whose sub-folders with a compose file are sites on this host; null for none. */
  sitesRoot?: string | null;
  /** Inspect calls in flight at once when listing containers. */
  concurrency?: number;
}

/** Throws INPUT_INVALID unless `name` is a valid site name. */
function checkSiteName(name: string): void {
  if (!NAME_RE.test(name))
    throw new SiteFlowError('INPUT_INVALID', `not a valid site name: ${JSON.stringify(name.slice(0, 70))}`);
}

function checkContainerRef(id: string): void {
  if (!CONTAINER_REF_RE.test(id))
    throw new SiteFlowError(
      'INPUT_INVALID',
      `not a valid container id or name: ${JSON.stringify(id.slice(0, 70))}`,
    );
}

function checkImageRef(ref: string): void {
  if (!IMAGE_REF_RE.test(ref) || ref.includes('..') || ref.includes('//'))
    throw new SiteFlowError(
      'INPUT_INVALID',
      `not a valid image reference: ${JSON.stringify(ref.slice(0, 70))}`,
    );
}

/** Runs `fn` over `items` with at most `limit` calls in flight, keeping order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** One Docker host through dockerode. */
export class DockerodeEngine implements Engine {
  readonly name: string;
  /** The dockerode client (for adapters that need more than the port offers). */
  readonly docker: Dockerode;
  private readonly sitesRoot: string | null;
  private readonly concurrency: number;

  constructor(opts: DockerodeEngineOptions) {
    if (!NAME_RE.test(opts.name))
      throw new SiteFlowError('CONFIG_INVALID', `not a valid host name: ${opts.name}`);
    this.name = opts.name;
    this.docker = opts.docker instanceof Dockerode ? opts.docker : new Dockerode(opts.docker);
    this.sitesRoot = opts.sitesRoot ?? null;
    this.concurrency = opts.concurrency ?? 8;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw dockerError(e, this.name, what);
    }
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.docker.ping());
  }

  async listSites(siteFolders?: readonly SiteFolder[]): Promise<SiteInfo[]> {
    const [containers, folders] = await Promise.all([
      this.composeContainers(null),
      siteFolders ?? (this.sitesRoot ? scanSitesRoot(this.sitesRoot) : Promise.resolve([])),
    ]);
    const byProject = new Map<string, ContainerInfo[]>();
    for (const c of containers) {
      if (!c.project) continue;
      const list = byProject.get(c.project) ?? [];
      list.push(c);
      byProject.set(c.project, list);
    }
    const folderByName = new Map(folders.map((f) => [f.name, f]));
    const names = new Set([...byProject.keys(), ...folderByName.keys()]);
    return [...names]
      .sort((a, b) => a.localeCompare(b))
      .map((n) => this.siteInfo(n, byProject.get(n) ?? [], folderByName.get(n) ?? null));
  }

  async site(name: string): Promise<SiteInfo | null> {
    checkSiteName(name);
    const [containers, folder] = await Promise.all([
      this.composeContainers(name),
      this.sitesRoot ? siteFolder(this.sitesRoot, name) : Promise.resolve(null),
    ]);
    if (containers.length === 0 && !folder) return null;
    return this.siteInfo(name, containers, folder);
  }

  async containers(site: string): Promise<ContainerInfo[]> {
    checkSiteName(site);
    return this.composeContainers(site);
  }

  async restartContainer(
    id: string,
    opts: { signal?: AbortSignal; timeoutSec?: number } = {},
  ): Promise<void> {
    checkContainerRef(id);
    const t = Math.max(0, Math.floor(opts.timeoutSec ?? 10));
    await this.call(`restart ${id}`, () =>
      this.docker.getContainer(id).restart({ t, ...(opts.signal ? { abortSignal: opts.signal } : {}) }),
    );
  }

  async inspect(containerId: string): Promise<ContainerInfo> {
    checkContainerRef(containerId);
    const d = (await this.call(`inspect ${containerId}`, () =>
      this.docker.getContainer(containerId).inspect(),
    )) as unknown as InspectData;
    const digest = await this.digestOf(d.Image, d.Config.Image ?? d.Image, new Map());
    return toContainerInfo(d, digest);
  }

  async stats(containerId: string): Promise<ContainerStats> {
    checkContainerRef(containerId);
    // stream=false without one-shot: the engine takes two samples so precpu is filled in.
    const raw = await this.call(`stats ${containerId}`, () =>
      this.docker.getContainer(containerId).stats({ stream: false }),
    );
    return statsFrom(raw as unknown as RawStats);
  }

  async *logs(containerId: string, opts: LogOptions = {}): AsyncGenerator<LogLine> {
    checkContainerRef(containerId);
    const { signal } = opts;
    if (signal?.aborted) return;
    const what = `logs ${containerId}`;
    const info = (await this.call(what, () =>
      this.docker.getContainer(containerId).inspect(),
    )) as unknown as {
      Config: { Tty?: boolean };
    };
    const query: Record<string, unknown> = {
      stdout: true,
      stderr: true,
      follow: opts.follow === true,
      tail: opts.tail === undefined ? 'all' : Math.max(0, Math.floor(opts.tail)),
    };
    if (opts.since !== undefined) query.since = Math.floor(opts.since / 1000);
    let res: Readable;
    try {
      // dockerode only returns a stream for follow=true; dial directly so both cases stream.
      res = await this.dialStream(`/containers/${encodeURIComponent(containerId)}/logs?`, query, signal);
    } catch (e) {
      if (signal?.aborted) return;
      throw dockerError(e, this.name, what);
    }
    const demux = new LogDemuxer(info.Config.Tty === true);
    const onAbort = () => res.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of res) {
        for (const line of demux.push(chunk as Buffer)) yield line;
        if (signal?.aborted) return;
      }
      if (signal?.aborted) return;
      for (const line of demux.end()) yield line;
    } catch (e) {
      if (signal?.aborted) return;
      throw dockerError(e, this.name, what);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      res.destroy();
    }
  }

  async pullImage(
    ref: string,
    opts: { signal?: AbortSignal; onProgress?: (p: PullProgress) => void } = {},
  ): Promise<PullResult> {
    checkImageRef(ref);
    const { signal } = opts;
    signal?.throwIfAborted();
    const what = `pull ${ref}`;
    const tracker = new PullTracker(ref);
    const stream = (await this.call(what, () =>
      this.docker.pull(ref, signal ? { abortSignal: signal } : {}),
    )) as Readable;
    const onAbort = () => stream.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        let failed = false;
        this.docker.modem.followProgress(
          stream,
          (err: unknown) => (failed ? undefined : err ? reject(err) : resolve()),
          (msg: PullMessage) => {
            if (failed) return;
            try {
              const p = tracker.apply(msg);
              opts.onProgress?.(p);
            } catch (e) {
              failed = true;
              stream.destroy();
              reject(
                new SiteFlowError(
                  /not found|manifest unknown|does not exist/i.test((e as Error).message)
                    ? 'DOCKER_NOT_FOUND'
                    : 'DOCKER_API',
                  `${what} on ${this.name}: ${(e as Error).message}`,
                  { host: this.name },
                ),
              );
            }
          },
        );
      });
    } catch (e) {
      if (signal?.aborted) throw signal.reason ?? e;
      throw dockerError(e, this.name, what);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    // A destroyed stream "finishes" too; an abort is never a successful pull.
    signal?.throwIfAborted();
    const digest = tracker.digest ?? (await this.imageDigest(ref));
    return { ref, digest, updated: tracker.updated };
  }

  async imageDigest(ref: string): Promise<string | null> {
    checkImageRef(ref);
    try {
      const img = await this.docker.getImage(ref).inspect();
      return pickDigest(img.RepoDigests, ref);
    } catch (e) {
      const err = dockerError(e, this.name, `inspect image ${ref}`);
      if (err instanceof SiteFlowError && err.code === 'DOCKER_NOT_FOUND') return null;
      throw err;
    }
  }

  async localImage(ref: string): Promise<LocalImage | null> {
    checkImageRef(ref);
    try {
      const img = (await this.docker.getImage(ref).inspect()) as Dockerode.ImageInspectInfo & {
        Variant?: string;
      };
      return {
        id: img.Id,
        digest: pickDigest(img.RepoDigests, ref),
        tags: img.RepoTags ?? [],
        os: img.Os,
        architecture: img.Architecture,
        variant: img.Variant ?? null,
      };
    } catch (e) {
      const err = dockerError(e, this.name, `inspect image ${ref}`);
      if (err instanceof SiteFlowError && err.code === 'DOCKER_NOT_FOUND') return null;
      throw err;
    }
  }

  async tagImage(source: string, ref: string): Promise<void> {
    checkImageRef(source);
    checkImageRef(ref);
    if (ref.includes('@'))
      throw new SiteFlowError('INPUT_INVALID', `cannot tag as ${JSON.stringify(ref.slice(0, 70))}`);
    const slash = ref.lastIndexOf('/');
    const colon = ref.lastIndexOf(':');
    const repo = colon > slash ? ref.slice(0, colon) : ref;
    const tag = colon > slash ? ref.slice(colon + 1) : 'latest';
    await this.call(`tag ${source} as ${ref}`, () => this.docker.getImage(source).tag({ repo, tag }));
  }

  async removeImage(ref: string): Promise<'removed' | 'in-use' | 'absent'> {
    checkImageRef(ref);
    try {
      await this.docker.getImage(ref).remove();
      return 'removed';
    } catch (e) {
      const err = dockerError(e, this.name, `remove image ${ref}`);
      if (err instanceof SiteFlowError && err.code === 'DOCKER_NOT_FOUND') return 'absent';
      if (err instanceof SiteFlowError && err.details?.statusCode === 409) return 'in-use';
      throw err;
    }
  }

  async *events(opts: { signal?: AbortSignal; since?: number } = {}): AsyncGenerator<ContainerEvent> {
    const { signal } = opts;
    if (signal?.aborted) return;
    const query: Record<string, unknown> = { filters: { type: ['container'] } };
    if (opts.since !== undefined) query.since = Math.floor(opts.since / 1000);
    let res: Readable;
    try {
      res = await this.dialStream('/events?', query, signal);
    } catch (e) {
      if (signal?.aborted) return;
      throw dockerError(e, this.name, 'events');
    }
    const onAbort = () => res.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    let buf = '';
    try {
      for await (const chunk of res) {
        buf += (chunk as Buffer).toString('utf8');
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          nl = buf.indexOf('\n');
          const ev = line ? toEvent(line) : null;
          if (ev) yield ev;
          if (signal?.aborted) return;
        }
      }
    } catch (e) {
      if (signal?.aborted) return;
      throw dockerError(e, this.name, 'events');
    } finally {
      signal?.removeEventListener('abort', onAbort);
      res.destroy();
    }
    if (signal?.aborted) return;
    throw new SiteFlowError('DOCKER_UNREACHABLE', `Docker on ${this.name} closed the event stream`, {
      host: this.name,
    });
  }

  /** A GET that always answers with a stream (dockerode buffers some non-follow endpoints). */
  private dialStream(
    path: string,
    options: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Readable> {
    return new Promise((resolve, reject) => {
      this.docker.modem.dial(
        {
          path,
          method: 'GET',
          options,
          isStream: true,
          ...(signal ? { abortSignal: signal } : {}),
          statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such container', 500: 'server error' },
        },
        (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as Readable)),
      );
    });
  }

  /** Compose containers of one project, or of every project when `project` is null. */
  private async composeContainers(project: string | null): Promise<ContainerInfo[]> {
    const label = project === null ? LABEL.project : `${LABEL.project}=${project}`;
    const list = await this.call(project ? `list containers of ${project}` : 'list containers', () =>
      this.docker.listContainers({ all: true, filters: { label: [label] } }),
    );
    const digests = new Map<string, Promise<string[] | null>>();
    const infos = await mapLimit(list, this.concurrency, async (c) => {
      try {
        const d = (await this.docker.getContainer(c.Id).inspect()) as unknown as InspectData;
        return toContainerInfo(d, await this.digestOf(d.Image, d.Config.Image ?? d.Image, digests));
      } catch (e) {
        const err = dockerError(e, this.name, `inspect ${c.Id.slice(0, 12)}`);
        // Removed between list and inspect: it is simply gone.
        if (err instanceof SiteFlowError && err.code === 'DOCKER_NOT_FOUND') return null;
        throw err;
      }
    });
    return infos
      .filter((c): c is ContainerInfo => c !== null)
      .sort((a, b) => (a.service ?? '').localeCompare(b.service ?? '') || a.name.localeCompare(b.name));
  }

  /** Content digest of a local image, memoised per listing. */
  private async digestOf(
    imageId: string,
    ref: string,
    cache: Map<string, Promise<string[] | null>>,
  ): Promise<string | null> {
    let p = cache.get(imageId);
    if (!p) {
      p = this.docker
        .getImage(imageId)
        .inspect()
        .then(
          (img) => img.RepoDigests ?? [],
          () => null,
        );
      cache.set(imageId, p);
    }
    const repoDigests = await p;
    return repoDigests ? pickDigest(repoDigests, ref) : null;
  }

  private siteInfo(name: string, containers: ContainerInfo[], folder: SiteFolder | null): SiteInfo {
    const labelled = containers.find((c) => c.labels[LABEL.workingDir]);
    const projectDir =
      labelled?.labels[LABEL.workingDir] ??
      folder?.dir ??
      (this.sitesRoot ? join(this.sitesRoot, name) : null);
    const files = containers.find((c) => c.labels[LABEL.configFiles])?.labels[LABEL.configFiles];
    const composeFiles = files
      ? files
          .split(',')
          .map((f) => f.trim())
          .filter(Boolean)
      : (folder?.composeFiles ?? []);
    return {
      host: this.name,
      name,
      projectDir,
      composeFiles,
      containers,
      state: siteState(containers, composeFiles.length > 0 || folder !== null),
    };
  }
}

/** A container event from one line of `/events`; null for anything else. */
export function toEvent(line: string): ContainerEvent | null {
  let e: {
    Type?: string;
    Action?: string;
    status?: string;
    id?: string;
    time?: number;
    timeNano?: number;
    Actor?: { ID?: string; Attributes?: Record<string, string> };
  };
  try {
    e = JSON.parse(line);
  } catch {
    return null;
  }
  if (e.Type !== 'container') return null;
  const full = e.Action ?? e.status ?? '';
  const colon = full.indexOf(':');
  const action = colon >= 0 ? full.slice(0, colon) : full;
  const detail = colon >= 0 ? full.slice(colon + 1).trim() : '';
  const attrs = e.Actor?.Attributes ?? {};
  const health =
    action === 'health_status' && (detail === 'healthy' || detail === 'unhealthy' || detail === 'starting')
      ? detail
      : null;
  const exit = attrs.exitCode !== undefined ? Number(attrs.exitCode) : Number.NaN;
  return {
    at: e.timeNano ? Math.floor(e.timeNano / 1e6) : (e.time ?? 0) * 1000,
    action,
    containerId: e.Actor?.ID ?? e.id ?? '',
    name: attrs.name ?? '',
    project: attrs[LABEL.project] ?? null,
    service: attrs[LABEL.service] ?? null,
    image: attrs.image ?? '',
    exitCode: Number.isFinite(exit) ? exit : null,
    health,
  };
}
