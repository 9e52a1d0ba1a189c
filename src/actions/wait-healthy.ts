/** Waits for containers to come back healthy after an action, reporting each once. */
import type { ContainerInfo, Engine } from '../core/engine.js';
import type { ActionIO } from '../core/runs.js';

/** How a container ended up after the wait. */
export interface HealthOutcome {
  name: string;
  service: string | null;
  status: ContainerInfo['status'];
  health: ContainerInfo['health'];
  ok: boolean;
  /** Restarts seen (a restart loop fails a fresh container). */
  restarts: number;
}

const settled = (c: ContainerInfo) =>
  c.status === 'up' || c.status === 'completed' || c.status === 'unhealthy' || c.status === 'down';

/**
 * The strict verdict for freshly created containers (`stableMs` set): a restart, an exit
 * other than a finished one-shot, or `unhealthy` fails at once; with a healthcheck only
 * `healthy` passes; without one the container must have run `stableMs` without a restart.
 * Null while undecided.
 */
export function freshVerdict(c: ContainerInfo, now: number, stableMs: number): boolean | null {
  if (c.restartCount > 0 || c.status === 'restarting') return false;
  if (c.status === 'completed') return true;
  if (c.status === 'down' || c.status === 'unhealthy') return false;
  if (c.health !== null) return c.health === 'healthy' ? true : null;
  if (c.status === 'up') return c.startedAt !== null && now - c.startedAt >= stableMs ? true : null;
  return null;
}

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
    /** Judge as freshly created containers (see {@link freshVerdict}) with this stable-run time. */
    stableMs?: number;
    onSettled?: (o: HealthOutcome) => void;
  },
): Promise<HealthOutcome[]> {
  const deadline = Date.now() + opts.timeoutMs;
  const done = new Map<string, HealthOutcome>();
  for (;;) {
    for (const id of ids) {
      if (done.has(id)) continue;
      const c = await engine.inspect(id);
      const now = Date.now();
      const verdict =
        opts.stableMs === undefined
          ? settled(c)
            ? c.status === 'up' || c.status === 'completed'
            : null
          : freshVerdict(c, now, opts.stableMs);
      if (verdict !== null || now >= deadline) {
        const o: HealthOutcome = {
          name: c.name,
          service: c.service,
          status: c.status,
          health: c.health,
          ok: verdict === true,
          restarts: c.restartCount,
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
  const restarts = o.restarts > 0 ? `, restarted ${o.restarts}x` : '';
  return `${o.service ?? o.name}: ${o.status}${health}${restarts}`;
}

/**
 * The end of an action that (re)started containers: waits for `ids` (see {@link waitHealthy}),
 * streams each verdict into the run, names the ones not healthy, and gives the run's exit code.
 */
export async function finishWhenHealthy(
  engine: Engine,
  ids: readonly string[],
  io: Pick<ActionIO, 'line' | 'signal'>,
  o: { timeoutMs: number; after: string; success: string },
): Promise<{ exitCode: number }> {
  const health = await waitHealthy(engine, ids, {
    timeoutMs: o.timeoutMs,
    signal: io.signal,
    onSettled: (h) => io.line(describeHealth(h)),
  });
  const bad = health.filter((h) => !h.ok);
  if (bad.length) {
    io.line(`Not healthy after ${o.after}: ${bad.map((b) => b.service ?? b.name).join(', ')}`, 'info');
    return { exitCode: 1 };
  }
  io.line(o.success, 'info');
  return { exitCode: 0 };
}
