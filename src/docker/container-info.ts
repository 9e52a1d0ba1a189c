/**
 * Maps the engine's inspect data to ContainerInfo. Only named fields are copied: the
 * container's environment (`Config.Env`) never leaves this file, it may hold secrets.
 */
import type { ContainerHealth, ContainerInfo, ContainerState, PortBinding } from '../core/engine.js';
import { containerStatus } from './status.js';

/** The subset of `GET /containers/{id}/json` that SiteFlow reads. */
export interface InspectData {
  Id: string;
  Name: string;
  Created: string;
  Image: string;
  RestartCount?: number;
  State: {
    Status: string;
    ExitCode?: number;
    StartedAt?: string;
    FinishedAt?: string;
    OOMKilled?: boolean;
    Health?: { Status?: string; Log?: Array<{ ExitCode?: number; Output?: string }> | null } | null;
  };
  Config: { Image?: string; Labels?: Record<string, string> | null; Env?: unknown };
  HostConfig?: { RestartPolicy?: { Name?: string } | null; Memory?: number } | null;
  NetworkSettings?: {
    Ports?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
  } | null;
}

const STATES: readonly ContainerState[] = [
  'running',
  'exited',
  'restarting',
  'paused',
  'created',
  'dead',
  'removing',
];

/** Epoch ms of a Docker timestamp; null for Docker's zero time (`0001-01-01...`) or garbage. */
export function dockerTime(s: string | undefined): number | null {
  if (!s || s.startsWith('0001-01-01')) return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : null;
}

function healthOf(s: string | undefined): ContainerHealth {
  return s === 'healthy' || s === 'unhealthy' || s === 'starting' ? s : null;
}

/** Ports from `NetworkSettings.Ports`, published bindings first-class, exposed-only ones with nulls. */
export function portsOf(ports: NonNullable<InspectData['NetworkSettings']>['Ports']): PortBinding[] {
  const out: PortBinding[] = [];
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key);
    if (!m) continue;
    const containerPort = Number(m[1]);
    const protocol = (m[2] ?? 'tcp') as PortBinding['protocol'];
    if (!bindings || bindings.length === 0) {
      out.push({ host: null, hostPort: null, containerPort, protocol });
      continue;
    }
    for (const b of bindings) {
      const hostPort = b.HostPort ? Number(b.HostPort) : null;
      out.push({
        host: b.HostIp || null,
        hostPort: Number.isFinite(hostPort) ? hostPort : null,
        containerPort,
        protocol,
      });
    }
  }
  return out.sort((a, b) => a.containerPort - b.containerPort || (a.host ?? '').localeCompare(b.host ?? ''));
}

/** The repository part of an image reference (no tag, no digest), normalized for Docker Hub. */
export function repositoryOf(ref: string): string {
  let r = ref.split('@')[0] ?? ref;
  const slash = r.lastIndexOf('/');
  const colon = r.lastIndexOf(':');
  if (colon > slash) r = r.slice(0, colon);
  return r.replace(/^(docker\.io|index\.docker\.io)\//, '').replace(/^library\//, '');
}

/** The content digest (`sha256:...`) among `repoDigests` that belongs to `ref`'s repository. */
export function pickDigest(repoDigests: readonly string[] | null | undefined, ref: string): string | null {
  const pinned = /@(sha256:[a-f0-9]{64})$/.exec(ref);
  if (pinned) return pinned[1]!;
  const repo = repositoryOf(ref);
  const parsed = (repoDigests ?? [])
    .map((d) => {
      const at = d.lastIndexOf('@');
      return at > 0 ? { repo: repositoryOf(d.slice(0, at)), digest: d.slice(at + 1) } : null;
    })
    .filter((d): d is { repo: string; digest: string } => d !== null);
  return (parsed.find((d) => d.repo === repo) ?? parsed[0])?.digest ?? null;
}

/** ContainerInfo from inspect data and the image's content digest. */
export function toContainerInfo(d: InspectData, digest: string | null): ContainerInfo {
  const labels = { ...(d.Config.Labels ?? {}) };
  const state = (STATES as readonly string[]).includes(d.State.Status)
    ? (d.State.Status as ContainerState)
    : 'dead';
  const health = healthOf(d.State.Health?.Status);
  const startedAt = dockerTime(d.State.StartedAt);
  const finishedAt = dockerTime(d.State.FinishedAt);
  // ExitCode is 0 for a container that never ran; only report it once it has exited.
  const exitCode =
    finishedAt !== null || state === 'exited' || state === 'dead' ? (d.State.ExitCode ?? null) : null;
  const restartPolicy = d.HostConfig?.RestartPolicy?.Name || 'no';
  return {
    id: d.Id,
    name: d.Name.replace(/^\//, ''),
    service: labels['com.docker.compose.service'] ?? null,
    project: labels['com.docker.compose.project'] ?? null,
    state,
    health,
    exitCode,
    restartCount: d.RestartCount ?? 0,
    restartPolicy,
    image: d.Config.Image ?? d.Image,
    imageId: d.Image,
    digest,
    createdAt: dockerTime(d.Created) ?? 0,
    startedAt,
    finishedAt,
    ports: portsOf(d.NetworkSettings?.Ports),
    labels,
    status: containerStatus({ state, health, exitCode, restartPolicy }),
    oomKilled: d.State.OOMKilled === true,
    memoryLimitBytes: d.HostConfig?.Memory ? d.HostConfig.Memory : null,
    healthOutput: lastFailingHealthOutput(d.State.Health?.Log),
  };
}

/** Output of the newest failed healthcheck run (Docker keeps the last five), trimmed; null when none failed. */
function lastFailingHealthOutput(log: NonNullable<InspectData['State']['Health']>['Log']): string | null {
  const failed = (log ?? []).filter((l) => (l.ExitCode ?? 0) !== 0).at(-1);
  const out = failed?.Output?.trim();
  return out ? out.slice(0, 2000) : null;
}
