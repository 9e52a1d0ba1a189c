/**
 * Host health at run time: measures every host at start and every `intervalMs` (default
 * 5 minutes: `system df` walks every image), keeps the latest for /status, the page and
 * /metrics, reports disk use to the alert rules (HOST_DISK_ALERT_PERCENT), and runs /prune.
 */
import type Dockerode from 'dockerode';
import { describeError } from '../core/errors.js';
import type { HostHealth, HostHealthService, PruneOutcome } from '../core/host-health.js';
import type { Clock, Logger } from '../core/ports.js';
import { measureHost, pruneHost } from '../docker/host-health.js';

/** Where disk use is judged (the monitor). */
export interface DiskAlertSink {
  hostHealth(h: HostHealth): void;
}

/** Options of {@link HostHealthChecker}. */
export interface HostHealthCheckerOptions {
  /** The dockerode client of each host (null: not a dockerode engine). */
  clients: () => Array<{ host: string; docker: Dockerode }>;
  /** The host SITES_ROOT lives on, and the folder. */
  sitesRoot: { host: string; path: string };
  sink: DiskAlertSink | null;
  clock: Clock;
  logger: Logger;
  intervalMs?: number;
  /** PRUNE_ONLY_LABEL. */
  pruneLabel: string | null;
  /** Called after each measurement (metrics). */
  onMeasured?: (h: HostHealth) => void;
}

/** See the module comment. */
export class HostHealthChecker implements HostHealthService {
  private readonly last = new Map<string, HostHealth>();
  private timer: ReturnType<typeof setInterval> | null = null;
  readonly pruneLabel: string | null;
  /** Called after each measurement (metrics; may be set after construction). */
  onMeasured: ((h: HostHealth) => void) | null;

  constructor(private readonly o: HostHealthCheckerOptions) {
    this.pruneLabel = o.pruneLabel;
    this.onMeasured = o.onMeasured ?? null;
  }

  start(): void {
    if (this.timer) return;
    void this.refreshAll();
    this.timer = setInterval(() => void this.refreshAll(), this.o.intervalMs ?? 5 * 60_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  latest(host: string): HostHealth | null {
    return this.last.get(host) ?? null;
  }

  /** Every host's latest measurement. */
  all(): HostHealth[] {
    return [...this.last.values()];
  }

  async refreshAll(): Promise<void> {
    await Promise.all(this.o.clients().map((c) => this.refresh(c.host)));
  }

  async refresh(host: string): Promise<HostHealth | null> {
    const c = this.o.clients().find((x) => x.host === host);
    if (!c) return null;
    try {
      const h = await measureHost(host, c.docker, {
        sitesRoot: this.o.sitesRoot.host === host ? this.o.sitesRoot.path : null,
        now: this.o.clock.now(),
      });
      this.last.set(host, h);
      this.o.sink?.hostHealth(h);
      this.onMeasured?.(h);
      return h;
    } catch (e) {
      this.o.logger.warn({ host, err: describeError(e) }, 'host health measurement failed');
      return null;
    }
  }

  async prune(host: string): Promise<PruneOutcome | null> {
    const c = this.o.clients().find((x) => x.host === host);
    if (!c) return null;
    const r = await pruneHost(c.docker, this.pruneLabel);
    void this.refresh(host);
    return r;
  }
}
