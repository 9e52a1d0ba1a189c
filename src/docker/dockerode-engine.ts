/**
 * Engine over dockerode: one Docker host. Sites are compose projects (label
 * `com.docker.compose.project`) plus site folders under SITES_ROOT. Every failure is a
 * SiteFlowError (see docker-errors.ts); names are validated before they reach a filter or path.
 */
import { constants as osConstants } from 'node:os';
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
import { describeError, SiteFlowError } from '../core/errors.js';
import { formatDuration } from '../core/format.js';
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
  /** How the sitesRoot folders are read (default: this machine's file system; SFTP for a remote host). */
  folders?: SiteFolderSource;
  /** Inspect calls in flight at once when listing containers. */
  concurrency?: number;
  /**
   * Deadline of every non-streaming call (DOCKER_CALL_TIMEOUT_SECONDS; default 30 s); a restart
   * gets its stop timeout on top. Streams get it as their connect deadline.
   */
  callTimeoutMs?: number;
  /** An open stream (events, log follow) quiet this long pings the engine; no answer ends it (default: the call timeout). */
  keepaliveMs?: number;
}

/** Reads a host's site folders (see site-folders.ts; SftpSiteFolders for a remote host). */
export interface SiteFolderSource {
  scan(): Promise<SiteFolder[]>;
  folder(name: string): Promise<SiteFolder | null>;
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
  private readonly folders: SiteFolderSource | null;
  private readonly concurrency: number;
  private readonly callTimeoutMs: number;
  private readonly keepaliveMs: number;
  private listing: Promise<SiteInfo[]> | null = null;

  constructor(opts: DockerodeEngineOptions) {
    if (!NAME_RE.test(opts.name))
      throw new SiteFlowError('CONFIG_INVALID', `not a valid host name: ${opts.name}`);
    this.name = opts.name;
    this.docker = opts.docker instanceof Dockerode ? opts.docker : new Dockerode(opts.docker);
    this.sitesRoot = opts.sitesRoot ?? null;
    const root = this.sitesRoot;
    this.folders =
      opts.folders ?? (root ? { scan: () => scanSitesRoot(root), folder: (n) => siteFolder(root, n) } : null);
    this.concurrency = opts.concurrency ?? 8;
    this.callTimeoutMs = Math.max(1, opts.callTimeoutMs ?? 30_000);
    this.keepaliveMs = Math.max(1, opts.keepaliveMs ?? this.callTimeoutMs);
  }

  /**
   * One engine call with a deadline: `fn` gets a signal that aborts when the caller's does or
   * when `timeoutMs` (default the call timeout) passes; the latter throws DOCKER_TIMEOUT.
   * docker-modem hands the signal to http.request and to the answer's body, so nothing of a
   * hung call stays open.
   */
  private async call<T>(
    what: string,
    fn: (signal: AbortSignal) => Promise<T>,
    o: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<T> {
    const deadline = this.deadline(what, o.timeoutMs ?? this.callTimeoutMs, o.signal);
    try {
      return await fn(deadline.signal);
    } catch (e) {
      throw deadline.error(e);
    } finally {
      deadline.clear();
    }
  }

  /** An AbortController that aborts on `signal` or after `ms`, and maps errors accordingly. */
  private deadline(what: string, ms: number, signal?: AbortSignal) {
    const ctl = new AbortController();
    let timedOut = false;
    const onAbort = () => ctl.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort(new Error(`deadline of ${what}`));
    }, ms);
    timer.unref?.();
    return {
      signal: ctl.signal,
      /** Stops the timer (the caller's signal stays linked until `clear`). */
      settle: () => clearTimeout(timer),
      clear: () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      },
      error: (e: unknown): Error =>
        timedOut && !signal?.aborted
          ? new SiteFlowError(
              'DOCKER_TIMEOUT',
              `Docker on ${this.name} did not answer within ${formatDuration(ms)}: ${what}`,
              { host: this.name, timeoutMs: ms },
              { cause: e },
            )
          : dockerError(e, this.name, what),
    };
  }

  async ping(): Promise<void> {
    // A ping is cheap: a host that cannot answer one in 10 s is not answering.
    await this.call(
      'ping',
      (abortSignal) =>
        (this.docker.ping as (o: object) => Promise<unknown>).call(this.docker, { abortSignal }),
      {
        timeoutMs: Math.min(this.callTimeoutMs, 10_000),
      },
    );
  }

  /**
   * Sites of this engine. Calls that overlap (a burst of /status, the reconciler's timer) share
   * one listing: the engine is asked once, not once per caller.
   */
  listSites(siteFolders?: readonly SiteFolder[]): Promise<SiteInfo[]> {
    if (siteFolders) return this.listSitesNow(siteFolders);
    this.listing ??= this.listSitesNow().finally(() => {
      this.listing = null;
    });
    return this.listing.then((sites) => [...sites]);
  }

  private async listSitesNow(siteFolders?: readonly SiteFolder[]): Promise<SiteInfo[]> {
    const [containers, folders] = await Promise.all([
      this.composeContainers(null),
      siteFolders ?? (this.folders ? this.folders.scan() : Promise.resolve([])),
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
      this.folders ? this.folders.folder(name) : Promise.resolve(null),
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
    // The engine answers only once the container stopped (up to t s) and started again.
    await this.call(
      `restart ${id}`,
      (abortSignal) => this.docker.getContainer(id).restart({ t, abortSignal }),
      { ...(opts.signal ? { signal: opts.signal } : {}), timeoutMs: t * 1000 + this.callTimeoutMs },
    );
  }

  async inspect(containerId: string): Promise<ContainerInfo> {
    checkContainerRef(containerId);
    const d = (await this.call(`inspect ${containerId}`, (abortSignal) =>
      this.docker.getContainer(containerId).inspect({ abortSignal }),
    )) as unknown as InspectData;
    const digest = await this.digestOf(d.Image, d.Config.Image ?? d.Image, new Map());
    return toContainerInfo(d, digest);
  }

  async stats(containerId: string): Promise<ContainerStats> {
    checkContainerRef(containerId);
    // stream=false without one-shot: the engine takes two samples so precpu is filled in.
    const raw = await this.call(`stats ${containerId}`, (abortSignal) =>
      this.docker.getContainer(containerId).stats({ stream: false, abortSignal } as { stream: false }),
    );
    return statsFrom(raw as unknown as RawStats);
  }

  async *logs(containerId: string, opts: LogOptions = {}): AsyncGenerator<LogLine> {
    checkContainerRef(containerId);
    const { signal } = opts;
    if (signal?.aborted) return;
    const what = `logs ${containerId}`;
    const info = (await this.call(
      what,
      (abortSignal) => this.docker.getContainer(containerId).inspect({ abortSignal }),
      signal ? { signal } : {},
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
      res = await this.dialStream(
        what,
        `/containers/${encodeURIComponent(containerId)}/logs?`,
        query,
        signal,
        opts.follow === true,
      );
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
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
    // Connect deadline until the engine answers; from then on the caller's stall check rules.
    const deadline = this.deadline(what, this.callTimeoutMs, signal);
    let stream: Readable;
    try {
      stream = (await this.docker.pull(ref, { abortSignal: deadline.signal })) as Readable;
    } catch (e) {
      deadline.clear();
      throw deadline.error(e);
    }
    deadline.settle();
    stream.once('close', deadline.clear);
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
      const img = await this.inspectImage(ref);
      return pickDigest(img.RepoDigests, ref);
    } catch (e) {
      if (e instanceof SiteFlowError && e.code === 'DOCKER_NOT_FOUND') return null;
      throw e;
    }
  }

  /** GET /images/REF/json with the call deadline (dockerode's Image.inspect takes no signal). */
  private inspectImage(ref: string): Promise<{ RepoDigests?: string[] }> {
    return this.call(
      `inspect image ${ref}`,
      (abortSignal) =>
        new Promise((resolve, reject) => {
          this.docker.modem.dial(
            {
              path: `/images/${ref}/json`,
              method: 'GET',
              abortSignal,
              statusCodes: { 200: true, 404: 'no such image', 500: 'server error' },
            },
            (err: unknown, data: unknown) =>
              err ? reject(err) : resolve(data as { RepoDigests?: string[] }),
          );
        }),
    );
  }

  async localImage(ref: string): Promise<LocalImage | null> {
    checkImageRef(ref);
    try {
      const img = (await this.inspectImage(ref)) as Dockerode.ImageInspectInfo & { Variant?: string };
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
      await this.call(`remove image ${ref}`, (abortSignal) =>
        this.docker.getImage(ref).remove({ abortSignal }),
      );
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
      res = await this.dialStream('events', '/events?', query, signal, true);
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
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

  /**
   * A GET that always answers with a stream (dockerode buffers some non-follow endpoints), with
   * the call timeout as its connect deadline. With `keepalive`, a stream that stays quiet for
   * the keepalive interval pings the engine and ends with DOCKER_UNREACHABLE when it does not
   * answer: an engine that hangs (or a network that silently drops) is noticed.
   */
  private async dialStream(
    what: string,
    path: string,
    options: Record<string, unknown>,
    signal: AbortSignal | undefined,
    keepalive: boolean,
  ): Promise<Readable> {
    const deadline = this.deadline(what, this.callTimeoutMs, signal);
    let res: Readable;
    try {
      res = await new Promise<Readable>((resolve, reject) => {
        this.docker.modem.dial(
          {
            path,
            method: 'GET',
            options,
            isStream: true,
            abortSignal: deadline.signal,
            statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such container', 500: 'server error' },
          },
          (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as Readable)),
        );
      });
    } catch (e) {
      deadline.clear();
      throw deadline.error(e);
    }
    deadline.settle();
    res.once('close', deadline.clear);
    if (keepalive) this.keepalive(res, what);
    return res;
  }

  /** Pings the engine whenever `res` had no bytes for the keepalive interval; see dialStream. */
  private keepalive(res: Readable, what: string): void {
    const sock = (
      res as { socket?: { bytesRead?: number; setKeepAlive?: (on: boolean, ms: number) => void } }
    ).socket;
    // TCP keepalive finds a dead peer at the socket level; the ping finds a hung engine.
    sock?.setKeepAlive?.(true, this.keepaliveMs);
    let seen = sock?.bytesRead ?? -1;
    let probing = false;
    const timer = setInterval(() => {
      const now = sock?.bytesRead;
      if (now !== undefined && now !== seen) {
        seen = now;
        return;
      }
      if (probing || res.destroyed) return;
      probing = true;
      this.ping().then(
        () => {
          probing = false;
        },
        (e) =>
          res.destroy(
            new SiteFlowError(
              'DOCKER_UNREACHABLE',
              `Docker on ${this.name} stopped answering (${describeError(e)}): ${what}`,
              { host: this.name },
            ),
          ),
      );
    }, this.keepaliveMs);
    timer.unref?.();
    res.once('close', () => clearInterval(timer));
  }

  /** Compose containers of one project, or of every project when `project` is null. */
  private async composeContainers(project: string | null): Promise<ContainerInfo[]> {
    const label = project === null ? LABEL.project : `${LABEL.project}=${project}`;
    const list = await this.call(
      project ? `list containers of ${project}` : 'list containers',
      (abortSignal) => this.docker.listContainers({ all: true, filters: { label: [label] }, abortSignal }),
    );
    const digests = new Map<string, Promise<string[] | null>>();
    const infos = await mapLimit(list, this.concurrency, async (c) => {
      try {
        const d = (await this.call(`inspect ${c.Id.slice(0, 12)}`, (abortSignal) =>
          this.docker.getContainer(c.Id).inspect({ abortSignal }),
        )) as unknown as InspectData;
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
      p = this.inspectImage(imageId).then(
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

/** Event attributes that are Docker's own, not container labels. */
/** `15` → `SIGTERM`: the name of a signal number as the engine's kill event gives it. */
function signalName(raw: string): string {
  const n = Number(raw);
  const name = Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0];
  return name ?? raw.slice(0, 16);
}

const EVENT_ATTRS = new Set(['name', 'image', 'exitCode', 'signal', 'execDuration', 'execID']);

function eventLabels(attrs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (!EVENT_ATTRS.has(k)) out[k] = v;
  return out;
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
    signal: action === 'kill' && attrs.signal !== undefined ? signalName(attrs.signal) : null,
    labels: eventLabels(attrs),
  };
}
