/**
 * Ports for Docker: `Engine` (one Docker host), `Compose` (the compose CLI) and `HostRegistry`
 * (named engines). Types only; implementations live in src/docker.
 * Nothing here ever carries a container's environment (`Config.Env`): it may hold secrets.
 */

/** Docker's own container state (`State.Status`). */
export type ContainerState = 'running' | 'exited' | 'restarting' | 'paused' | 'created' | 'dead' | 'removing';

/** Healthcheck status; null when the container has no healthcheck. */
export type ContainerHealth = 'healthy' | 'unhealthy' | 'starting' | null;

/**
 * What a container means to a person: `completed` is a one-shot container that exited 0 and
 * is not meant to restart (policy `no` or `on-failure`), so it never counts as down.
 */
export type ContainerStatus =
  | 'up'
  | 'down'
  | 'completed'
  | 'starting'
  | 'unhealthy'
  | 'restarting'
  | 'paused';

/** One exposed container port; `host`/`hostPort` are null when it is not published. */
export interface PortBinding {
  /** Host IP the port is published on, e.g. `127.0.0.1` or `0.0.0.0`. */
  host: string | null;
  hostPort: number | null;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/** A container as SiteFlow sees it: state, health, restart facts and labels, never its env. */
export interface ContainerInfo {
  id: string;
  /** Name without Docker's leading slash. */
  name: string;
  /** Compose service (`com.docker.compose.service`), null outside compose. */
  service: string | null;
  /** Compose project (`com.docker.compose.project`), null outside compose. */
  project: string | null;
  state: ContainerState;
  health: ContainerHealth;
  /** Last exit code; null while it has never exited. */
  exitCode: number | null;
  restartCount: number;
  /** Restart policy name: `no`, `always`, `unless-stopped` or `on-failure` (empty is reported as `no`). */
  restartPolicy: string;
  /** Image reference from the container's config, e.g. `nginx:1.27`. */
  image: string;
  /** Local image id (`sha256:...`). */
  imageId: string;
  /** Registry content digest (`sha256:...`) of the image, null for images never pulled or pushed. */
  digest: string | null;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms of the last start; null when never started. */
  startedAt: number | null;
  /** Epoch ms of the last exit; null when never exited. */
  finishedAt: number | null;
  ports: PortBinding[];
  labels: Record<string, string>;
  status: ContainerStatus;
  /** Whether the kernel's OOM killer ended its last run (State.OOMKilled); set by inspect. */
  oomKilled?: boolean;
  /** Its memory limit in bytes (HostConfig.Memory), null for none; set by inspect. */
  memoryLimitBytes?: number | null;
  /** Output of its newest failed healthcheck (untrusted: sanitize before showing); set by inspect. */
  healthOutput?: string | null;
}

/**
 * A site's overall state: `up` (every container up or completed), `degraded` (some up, some
 * not), `down` (none up), `stopped` (compose file but no containers), `empty` (nothing at all).
 */
export type SiteState = 'up' | 'degraded' | 'down' | 'stopped' | 'empty';

/** A site: one compose project on one host, known by its containers and/or its folder. */
export interface SiteInfo {
  /** Name of the engine (host) it lives on. */
  host: string;
  name: string;
  /** From `com.docker.compose.project.working_dir`, else SITES_ROOT/name; null when unknown. */
  projectDir: string | null;
  /** Compose files, from `com.docker.compose.project.config_files` or the site folder. */
  composeFiles: string[];
  containers: ContainerInfo[];
  state: SiteState;
}

/** A site folder found under SITES_ROOT that holds a compose file. */
export interface SiteFolder {
  name: string;
  dir: string;
  composeFiles: string[];
}

/** A one-shot resource sample of a container. */
export interface ContainerStats {
  /** CPU use in percent of one core (200 = two cores busy), as `docker stats` shows it. */
  cpuPercent: number;
  /** Memory in use, page cache excluded. */
  memoryBytes: number;
  /** The memory limit (the host's memory when unlimited). */
  memoryLimitBytes: number;
  memoryPercent: number;
  /** Epoch ms of the sample. */
  at: number;
}

/** One demultiplexed log line (its line terminator removed, nothing else stripped). */
export interface LogLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

/** Options of `Engine.logs`. */
export interface LogOptions {
  /** Number of lines from the end; all when omitted. */
  tail?: number;
  /** Keep streaming new lines until `signal` aborts. */
  follow?: boolean;
  /** Only lines since this epoch ms. */
  since?: number;
  /** Aborting ends the iteration quietly. */
  signal?: AbortSignal;
}

/** Aggregated progress of an image pull over all its layers. */
export interface PullProgress {
  ref: string;
  /** Last status line from the engine, e.g. `Downloading` or `Pull complete`. */
  status: string;
  layers: number;
  layersDone: number;
  /** Bytes downloaded over the layers whose size is known. */
  bytesDone: number;
  /** Total bytes of the layers whose size is known so far. */
  bytesTotal: number;
  /** Bytes extracted so far over all layers (extraction of a big layer can take minutes). */
  bytesExtracted: number;
}

/** The outcome of a successful pull. */
export interface PullResult {
  ref: string;
  /** Content digest (`sha256:...`) reported by the registry, null when none was reported. */
  digest: string | null;
  /** False when the local image was already up to date. */
  updated: boolean;
}

/** A local image: id, content digest of `ref`'s repository, tags and the platform it was built for. */
export interface LocalImage {
  id: string;
  digest: string | null;
  tags: string[];
  os: string;
  architecture: string;
  variant: string | null;
}

/** A container event from the engine's event stream. */
export interface ContainerEvent {
  /** Epoch ms. */
  at: number;
  /** Docker's action without its detail, e.g. `start`, `die`, `health_status`, `exec_start`. */
  action: string;
  containerId: string;
  name: string;
  project: string | null;
  service: string | null;
  image: string;
  /** Set for `die`. */
  exitCode: number | null;
  /** The signal's name for `kill` (`SIGTERM`, `SIGKILL`, or its number when unknown). */
  signal?: string | null;
  /** Set for `health_status`. */
  health: ContainerHealth;
  /** The container's labels as the event carries them (scope decisions need them). */
  labels?: Record<string, string>;
}

/**
 * One Docker host. Failures throw SiteFlowError with DOCKER_UNREACHABLE (engine not answering),
 * DOCKER_NOT_FOUND (no such container/image) or DOCKER_API (any other engine error);
 * an invalid name throws INPUT_INVALID before any request is made.
 */
export interface Engine {
  /** Host name as configured (`local`, `nas`, ...). */
  readonly name: string;
  /** Resolves when the engine answers. */
  ping(): Promise<void>;
  /**
   * Every site on this engine: compose projects by label, plus `siteFolders` (or the engine's own
   * SITES_ROOT scan when omitted) with a compose file and no containers, as `stopped`.
   */
  listSites(siteFolders?: readonly SiteFolder[]): Promise<SiteInfo[]>;
  /** One site by name, or null when neither containers nor a site folder exist. */
  site(name: string): Promise<SiteInfo | null>;
  /** Every container (running or not) of a compose project. */
  containers(site: string): Promise<ContainerInfo[]>;
  /** Restarts a container, giving it `timeoutSec` to stop before it is killed. */
  restartContainer(id: string, opts?: { signal?: AbortSignal; timeoutSec?: number }): Promise<void>;
  /** One container by id or name. */
  inspect(containerId: string): Promise<ContainerInfo>;
  /** One CPU and memory sample. */
  stats(containerId: string): Promise<ContainerStats>;
  /** A container's output, demultiplexed into stdout/stderr lines in order. */
  logs(containerId: string, opts?: LogOptions): AsyncIterable<LogLine>;
  /** Pulls an image, reporting aggregated layer progress. */
  pullImage(
    ref: string,
    opts?: { signal?: AbortSignal; onProgress?: (p: PullProgress) => void },
  ): Promise<PullResult>;
  /** Content digest (`sha256:...`) of a local image's RepoDigest; null when absent or never pulled. */
  imageDigest(ref: string): Promise<string | null>;
  /** The local image `ref` names (tag, id or repo@digest): id, content digest and tags; null when absent. */
  localImage(ref: string): Promise<LocalImage | null>;
  /** Tags the local image `source` (id, tag or repo@digest) as `ref` (`repo:tag`), moving the tag if it exists. */
  tagImage(source: string, ref: string): Promise<void>;
  /**
   * Removes a tag, or an image by id, without force: `removed` when it went, `in-use` when a
   * container (or another tag, for an id) still needs it, `absent` when there was nothing.
   */
  removeImage(ref: string): Promise<'removed' | 'in-use' | 'absent'>;
  /**
   * Container events until `signal` aborts; throws DOCKER_UNREACHABLE when the engine closes
   * the stream, so the caller can reconnect (with `since` to avoid a gap).
   */
  events(opts?: { signal?: AbortSignal; since?: number }): AsyncIterable<ContainerEvent>;
}

/** Which compose CLI is installed: the v2 plugin (`docker compose`) or v1 (`docker-compose`). */
export interface ComposeCliInfo {
  flavor: 'v2' | 'v1';
  /** Executable and leading arguments, e.g. `['docker', 'compose']`. */
  command: readonly [string, ...string[]];
  version: string;
}

/** Options of `Compose.run`. */
export interface ComposeRunOptions {
  /** Aborting kills the whole process tree and throws COMPOSE_CANCELLED. */
  signal?: AbortSignal;
  /** Kills the process tree and throws COMPOSE_TIMEOUT when exceeded. */
  timeoutMs?: number;
  /** Each output line as it arrives (terminator removed). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Extra environment for compose (on top of a minimal PATH/HOME/DOCKER_* set, not SiteFlow's env). */
  env?: Record<string, string>;
  /** Resolve with a non-zero exit code instead of throwing COMPOSE_FAILED. */
  allowFailure?: boolean;
  /** Compose files passed as `-f` each (relative ones resolve against the project folder); none: compose's own lookup. */
  files?: readonly string[];
}

/**
 * The compose CLI. `detect` throws COMPOSE_MISSING when neither CLI works; `run` throws
 * COMPOSE_FAILED (details.exitCode) on a non-zero exit unless `allowFailure` is set, and
 * COMPOSE_NO_PROJECT_DIR when the project folder does not exist.
 */
export interface Compose {
  detect(): Promise<ComposeCliInfo>;
  /** Runs `compose -p project <args>` in `projectDir`, streaming output line by line. */
  run(
    projectDir: string,
    project: string,
    args: readonly string[],
    opts?: ComposeRunOptions,
  ): Promise<{ exitCode: number }>;
}

/** The configured engines by name, and site lookup across them. */
export interface HostRegistry {
  /** Host names in configuration order. */
  names(): string[];
  /** The engine named `host`, or undefined. */
  get(host: string): Engine | undefined;
  /** Environment for compose runs against `host` (DOCKER_HOST, TLS paths); empty for the local engine. */
  composeEnv(host: string): Record<string, string>;
  /** The host whose engine runs the SITES_ROOT folders (provisioning targets it). */
  sitesRootHost(): string;
}
