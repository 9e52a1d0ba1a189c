/**
 * Watches whether each Docker host answers, so SiteFlow can start without an engine,
 * say so plainly, keep retrying, and say when it is back. The monitor builds on this.
 */

import type { Engine } from './engine.js';
import { describeError } from './errors.js';
import type { Logger } from './ports.js';

/** A change of a host's reachability. */
export interface ReachabilityChange {
  host: string;
  reachable: boolean;
  /** Why not, when unreachable. */
  reason: string | null;
}

/** Pings every engine now and then every `intervalMs`; reports only changes. */
export class EngineWatch {
  private readonly state = new Map<string, boolean>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    private readonly engines: readonly Engine[],
    private readonly opts: { intervalMs: number; logger: Logger; onChange: (c: ReachabilityChange) => void },
  ) {}

  /** Runs the first check (awaited) and schedules the next ones. */
  async start(): Promise<void> {
    await this.check();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Checks every engine once. */
  async check(): Promise<void> {
    await Promise.all(
      this.engines.map(async (e) => {
        let ok = true;
        let reason: string | null = null;
        try {
          await e.ping();
        } catch (err) {
          ok = false;
          reason = describeError(err);
        }
        const before = this.state.get(e.name);
        this.state.set(e.name, ok);
        if (before === ok) return;
        if (ok) this.opts.logger.info({ host: e.name }, 'Docker engine reachable');
        else this.opts.logger.warn({ host: e.name, reason }, 'Docker engine not reachable; retrying');
        // The first successful check is not news; the first failure is.
        if (before !== undefined || !ok) this.opts.onChange({ host: e.name, reachable: ok, reason });
      }),
    );
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.check().finally(() => this.schedule());
    }, this.opts.intervalMs);
    this.timer.unref();
  }
}
