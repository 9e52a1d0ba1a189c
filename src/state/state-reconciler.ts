/**
 * Keeps the LiveState in step with the Docker engines, through the Engine port only:
 * - a full listing of every host on a timer (default every 5 s), which also records reachability;
 * - each engine's event stream, so a `docker stop` shows within a second or two: every relevant
 *   container event triggers one inspect of that container (coalesced per container); the
 *   stream is reopened with backoff when the engine goes away, with `since` so nothing is
 *   missed (events replayed from before the last one seen are dropped), and a full listing
 *   follows every reconnect;
 * - one-shot CPU/memory samples of running containers on a slower timer, a few at a time.
 *
 * The seam for the monitor: `onContainerEvent(listener)` hands every engine event (with its
 * host) to other code as it arrives, before the inspect it triggers has updated the state.
 */
import { type ClockTimers, timersOf } from '../core/clock.js';
import { HOST_ANSWER_MS, settleWithin } from '../core/deadline.js';
import type { ContainerEvent, ContainerStats, Engine, HostRegistry } from '../core/engine.js';
import { describeError, isSiteFlowError } from '../core/errors.js';
import type { LiveState } from '../core/live-state.js';
import type { Clock, ClockTimer, Logger } from '../core/ports.js';

/** Receives every container event of every engine; must be quick and must not throw. */
export type ContainerEventListener = (host: string, event: ContainerEvent) => void;

/** Options of {@link StateReconciler}. */
export interface StateReconcilerOptions {
  hosts: HostRegistry;
  state: LiveState;
  logger: Logger;
  /** Time, and the timers of the listings and the reconnect backoff (default: the system clock). */
  clock?: Clock;
  /** Full listing period (default 5000 ms). */
  intervalMs?: number;
  /** Resource sampling period (default 15000 ms; 0 turns sampling off). */
  statsIntervalMs?: number;
  /** Parallel one-shot stats requests per host (default 4). */
  statsConcurrency?: number;
  /** Event stream reconnect backoff: first and longest wait (default 500 ms, 30 s). */
  backoffMs?: { initial: number; max: number };
}

/** Actions after which a container looks different; `exec_*`, `attach`, `top`... do not matter. */
const RELEVANT = new Set([
  'create',
  'start',
  'restart',
  'die',
  'stop',
  'kill',
  'oom',
  'pause',
  'unpause',
  'health_status',
  'destroy',
  'rename',
  'update',
]);

/** Fills and refreshes the live state from the engines; see the module comment. */
export class StateReconciler {
  private readonly listeners = new Set<ContainerEventListener>();
  private readonly controller = new AbortController();
  private readonly timers = new Set<ClockTimer>();
  private readonly inflight = new Map<string, { again: boolean }>();
  /** Inspects under way (see inspected()). */
  private readonly inspects = new Set<Promise<void>>();
  private readonly refreshing = new Map<string, Promise<void>>();
  private readonly statsRunning = new Set<string>();
  private started = false;
  private readonly clock: ClockTimers;
  private readonly intervalMs: number;
  private readonly statsIntervalMs: number;
  private readonly backoff: { initial: number; max: number };

  constructor(private readonly opts: StateReconcilerOptions) {
    this.clock = timersOf(opts.clock);
    this.intervalMs = Math.max(100, opts.intervalMs ?? 5000);
    this.statsIntervalMs = Math.max(0, opts.statsIntervalMs ?? 15_000);
    this.backoff = opts.backoffMs ?? { initial: 500, max: 30_000 };
  }

  /** Listens to every container event of every engine; returns the unsubscribe. */
  onContainerEvent(listener: ContainerEventListener): () => void {
    const l: ContainerEventListener = (h, e) => listener(h, e);
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  }

  /**
   * Lists every host, then follows its events and refreshes it on its own timer, so a hung
   * host never holds up another. Resolves once every host was listed, or after `waitMs`
   * (default 3000 ms) at the latest: a host slower than that is filled in when it answers.
   */
  async start(opts: { waitMs?: number } = {}): Promise<void> {
    if (this.started) return;
    this.started = true;
    const names = this.opts.hosts.names();
    const first = settleWithin(names, opts.waitMs ?? 3000, async (name) => {
      const engine = this.opts.hosts.get(name);
      try {
        await this.refreshHost(name);
      } finally {
        if (engine) void this.follow(engine);
        this.every(this.intervalMs, () => this.refreshHost(name));
      }
    });
    if (this.statsIntervalMs > 0) {
      void this.sampleStats();
      this.every(this.statsIntervalMs, () => this.sampleStats());
    }
    for (const r of await first) if (r.status === 'failed') throw r.error;
  }

  /** Stops the timers and closes the event streams. */
  stop(): void {
    this.controller.abort();
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  /**
   * Lists every host now; waits for each at most `waitMs` (default HOST_ANSWER_MS): a slower
   * listing still lands in the state when it answers.
   */
  async refreshAll(waitMs = HOST_ANSWER_MS): Promise<void> {
    const settled = await settleWithin(this.opts.hosts.names(), waitMs, (h) => this.refreshHost(h));
    for (const r of settled) if (r.status === 'failed') throw r.error;
  }

  /** Lists one host now (a listing already under way is joined, not repeated). */
  refreshHost(host: string): Promise<void> {
    const running = this.refreshing.get(host);
    if (running) return running;
    const p = this.list(host).finally(() => this.refreshing.delete(host));
    this.refreshing.set(host, p);
    return p;
  }

  /** Samples CPU and memory of every running container once. */
  async sampleStats(): Promise<void> {
    if (this.controller.signal.aborted) return;
    const snap = this.opts.state.snapshot();
    // Per host: a host whose samples hang does not hold up the others' next round.
    await Promise.all(
      snap.hosts.map(async (h) => {
        const engine = this.opts.hosts.get(h.name);
        if (!engine || h.reachable === false || this.statsRunning.has(h.name)) return;
        this.statsRunning.add(h.name);
        try {
          const ids = h.sites.flatMap((s) =>
            s.containers.map((c) => ({ id: c.id, running: c.state === 'running' })),
          );
          const samples: Array<{ containerId: string; stats: ContainerStats | null }> = [];
          for (const c of ids) if (!c.running) samples.push({ containerId: c.id, stats: null });
          const queue = ids.filter((c) => c.running).map((c) => c.id);
          const workers = Array.from({ length: Math.max(1, this.opts.statsConcurrency ?? 4) }, async () => {
            for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
              if (this.controller.signal.aborted) return;
              try {
                samples.push({ containerId: id, stats: await engine.stats(id) });
              } catch {
                // Gone or stopped between listing and sampling: the next listing tells.
              }
            }
          });
          await Promise.all(workers);
          if (!this.controller.signal.aborted) this.opts.state.setStats(h.name, samples);
        } finally {
          this.statsRunning.delete(h.name);
        }
      }),
    );
  }

  private async list(host: string): Promise<void> {
    const engine = this.opts.hosts.get(host);
    if (!engine || this.controller.signal.aborted) return;
    try {
      const sites = await engine.listSites();
      if (this.controller.signal.aborted) return;
      this.opts.state.replaceHostSites(host, sites);
    } catch (e) {
      if (this.controller.signal.aborted) return;
      if (isSiteFlowError(e, 'INPUT_')) throw e;
      this.opts.state.setHostReachability(host, false, describeError(e));
    }
  }

  /** Follows one engine's events forever (until stop), reconnecting with backoff. */
  private async follow(engine: Engine): Promise<void> {
    const { signal } = this.controller;
    let wait = this.backoff.initial;
    let since: number | undefined;
    /** Events seen at `since` (at+id+action): Docker's `since` is in whole seconds, so a
     * reconnect replays the events of that second (and more); those are dropped. */
    let seenAtSince = new Set<string>();
    let first = true;
    while (!signal.aborted) {
      const openedAt = this.clock.now();
      let got = false;
      try {
        if (!first) {
          // Something may have changed while the stream was down.
          await this.refreshHost(engine.name);
        }
        first = false;
        for await (const ev of engine.events({ signal, ...(since !== undefined ? { since } : {}) })) {
          got = true;
          wait = this.backoff.initial;
          const key = `${ev.at}|${ev.containerId}|${ev.action}`;
          if (since !== undefined && (ev.at < since || (ev.at === since && seenAtSince.has(key)))) continue;
          if (since === undefined || ev.at > since) {
            since = ev.at;
            seenAtSince = new Set();
          }
          seenAtSince.add(key);
          this.handle(engine, ev);
        }
        if (signal.aborted) return;
      } catch (e) {
        if (signal.aborted) return;
        this.opts.logger.debug({ host: engine.name, err: describeError(e) }, 'event stream closed');
        this.opts.state.setHostReachability(engine.name, false, describeError(e));
      }
      // A stream that stayed up a while starts the backoff over.
      if (got || this.clock.now() - openedAt > 10_000) wait = this.backoff.initial;
      await this.sleep(wait);
      wait = Math.min(this.backoff.max, wait * 2);
    }
  }

  private handle(engine: Engine, ev: ContainerEvent): void {
    for (const l of this.listeners) {
      try {
        l(engine.name, ev);
      } catch (e) {
        this.opts.logger.warn({ err: describeError(e) }, 'container event listener failed');
      }
    }
    if (!RELEVANT.has(ev.action) || !ev.containerId) return;
    // Only compose containers make sites; others are ignored unless already known.
    if (!ev.project && this.opts.state.siteOfContainer(engine.name, ev.containerId) === undefined) return;
    const p: Promise<void> = this.inspect(engine, ev.containerId, ev.action === 'destroy').finally(() =>
      this.inspects.delete(p),
    );
    this.inspects.add(p);
  }

  /**
   * Resolves once every container event received so far has been inspected and the result is
   * in the live state (each inspect is bounded by the engine's call deadline).
   */
  async inspected(): Promise<void> {
    while (this.inspects.size > 0) await Promise.allSettled([...this.inspects]);
  }

  /** Whether an inspect after an event is under way. */
  inspecting(): boolean {
    return this.inspects.size > 0;
  }

  /** Inspects one container and updates its site; a second event while one runs repeats it once. */
  private async inspect(engine: Engine, id: string, destroyed: boolean): Promise<void> {
    const key = `${engine.name}/${id}`;
    const running = this.inflight.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const slot = { again: false };
    this.inflight.set(key, slot);
    try {
      do {
        slot.again = false;
        if (destroyed) {
          this.opts.state.removeContainer(engine.name, id);
          break;
        }
        try {
          const info = await engine.inspect(id);
          if (this.controller.signal.aborted) return;
          this.opts.state.putContainer(engine.name, info);
        } catch (e) {
          if (this.controller.signal.aborted) return;
          if (isSiteFlowError(e, 'DOCKER_NOT_FOUND')) this.opts.state.removeContainer(engine.name, id);
          else
            this.opts.logger.debug(
              { host: engine.name, err: describeError(e) },
              'inspect after event failed',
            );
        }
      } while (slot.again);
    } finally {
      this.inflight.delete(key);
    }
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const tick = () => {
      const t = this.clock.setTimeout(() => {
        this.timers.delete(t);
        void fn()
          .catch((e) => this.opts.logger.warn({ err: describeError(e) }, 'state refresh failed'))
          .finally(() => {
            if (!this.controller.signal.aborted) tick();
          });
      }, ms);
      this.timers.add(t);
    };
    tick();
  }

  private async sleep(ms: number): Promise<void> {
    await this.clock.sleep(ms, this.controller.signal);
  }
}
