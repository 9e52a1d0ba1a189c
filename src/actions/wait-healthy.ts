/** Waits for containers to come back healthy after an action, reporting each once. */
import type { ContainerInfo, Engine } from '../core/engine.js';

/** How a container ended up after the wait. */
export interface HealthOutcome {
  name: string;
  service: string | null;
  status: ContainerInfo['status'];
  health: ContainerInfo['health'];
  ok: boolean;
}

const settled = (c: ContainerInfo) =>
  c.status === 'up' || c.status === 'completed' || c.status === 'unhealthy' || c.status === 'down';

/**
 * Polls `ids` until each is up (healthy, when it has a healthcheck), completed, or failed,
 * or until `timeoutMs` passes. Never throws for a slow container: it reports it as not ok.
 */
export async function waitHealthy(
  engine: Engine,
  ids: readonly string[],
  opts: {
    timeoutMs: number;
    signal: AbortSignal;
    intervalMs?: number;
    onSettled?: (o: HealthOutcome) => void;
  },
): Promise<HealthOutcome[]> {
  const deadline = Date.now() + opts.timeoutMs;
  const done = new Map<string, HealthOutcome>();
  for (;;) {
    for (const id of ids) {
      if (done.has(id)) continue;
      const c = await engine.inspect(id);
      if (settled(c) || Date.now() >= deadline) {
        const o: HealthOutcome = {
          name: c.name,
          service: c.service,
          status: c.status,
          health: c.health,
          ok: c.status === 'up' || c.status === 'completed',
        };
        done.set(id, o);
        opts.onSettled?.(o);
      }
    }
    if (done.size === ids.length || opts.signal.aborted) break;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
  return ids.map((id) => done.get(id)).filter((o): o is HealthOutcome => o !== undefined);
}

/** `web: up (healthy)` */
export function describeHealth(o: HealthOutcome): string {
  const health = o.health && o.health !== o.status ? ` (${o.health})` : '';
  return `${o.service ?? o.name}: ${o.status}${health}`;
}
