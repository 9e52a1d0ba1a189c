/**
 * Pure classification of containers and sites, shared by listings, the monitor and the page.
 * A one-shot container that exited 0 and is not meant to restart is `completed`, never down.
 */
import type {
  ContainerHealth,
  ContainerInfo,
  ContainerState,
  ContainerStatus,
  SiteState,
} from '../core/engine.js';

/** The facts `containerStatus` needs. */
export interface StatusFacts {
  state: ContainerState;
  health: ContainerHealth;
  exitCode: number | null;
  restartPolicy: string;
}

/** Restart policies under which a clean exit (code 0) means the job is done. */
const ONE_SHOT_POLICIES = new Set(['', 'no', 'on-failure']);

/** What a container's state means to a person. */
export function containerStatus(f: StatusFacts): ContainerStatus {
  switch (f.state) {
    case 'running':
      if (f.health === 'unhealthy') return 'unhealthy';
      if (f.health === 'starting') return 'starting';
      return 'up';
    case 'restarting':
      return 'restarting';
    case 'paused':
      return 'paused';
    case 'exited':
      return f.exitCode === 0 && ONE_SHOT_POLICIES.has(f.restartPolicy) ? 'completed' : 'down';
    default:
      // created (never started), dead, removing
      return 'down';
  }
}

/**
 * A site's state from its containers: `up` when all are up or completed, `down` when none is
 * running at all, `degraded` otherwise; without containers `stopped` if it has a compose file.
 */
export function siteState(
  containers: readonly Pick<ContainerInfo, 'status'>[],
  hasComposeFile: boolean,
): SiteState {
  if (containers.length === 0) return hasComposeFile ? 'stopped' : 'empty';
  const statuses = containers.map((c) => c.status);
  if (statuses.every((s) => s === 'up' || s === 'completed')) return 'up';
  // Anything with a live process (even unhealthy or restarting) keeps the site from being down.
  const alive = statuses.some((s) => s === 'up' || s === 'starting' || s === 'unhealthy');
  return alive ? 'degraded' : 'down';
}
