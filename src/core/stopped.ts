/**
 * "Stopped by @user": a site whose last lifecycle operation is a successful /stop is stopped on
 * purpose. Read from the operation history (persisted, so it survives restarts) instead of a
 * store of its own; a later start, up, restart, pull or provision ends it.
 */
import type { OperationStore } from './ports.js';

/** Operation kinds that start or stop a site. */
const LIFECYCLE_KINDS = new Set(['stop', 'start', 'up', 'restart', 'pull', 'provision', 'deprovision']);

/** Who stopped the site on purpose and when, or null when it is not stopped by SiteFlow. */
export function stoppedBy(
  operations: Pick<OperationStore, 'list'>,
  host: string,
  site: string,
): { by: string; at: number; service: string | null } | null {
  for (const op of operations.list({ site, host, limit: 50 })) {
    if (!LIFECYCLE_KINDS.has(op.kind)) continue;
    if (op.status === 'queued' || op.status === 'running') continue;
    if (op.kind !== 'stop') {
      // Only a change that happened counts: a failed start leaves the site stopped.
      if (op.status === 'succeeded' || op.kind !== 'start') return null;
      continue;
    }
    if (op.status !== 'succeeded') continue;
    const service = typeof op.args.service === 'string' ? op.args.service : null;
    return { by: op.requestedBy.name, at: op.finishedAt ?? op.createdAt, service };
  }
  return null;
}
