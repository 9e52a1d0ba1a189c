/**
 * Host health at run time: measures every host at start and every `intervalMs` (default
 * 5 minutes: `system df` walks every image), keeps the latest for /status, the page and
 * /metrics, reports disk use to the alert rules (HOST_DISK_ALERT_PERCENT), and runs /prune.
 * Readers only ever see the last finished measurement: a slow or unreachable host never holds
 * up /status; a host's next measurement starts only once its previous one has finished.
 */
import { describeError } from '../core/errors.js';
import type { HostHealth, HostHealthService, PruneOutcome } from '../core/host-health.js';
import type { Clock, Logger } from '../core/ports.js';
import { type HealthTarget, measureHost, pruneHost } from '../docker/host-health.js';

/** Where disk use is judged (the monitor). */
export interface DiskAlertSink {
  hostHealth(h: HostHealth): void;
}

/** Options of {@link HostHealthChecker}. */
export interface HostHealthCheckerOptions {
  /** Each host: its dockerode client, its site folder there, and how its OS is read. */
  clients: () => HealthTarget[];
  sink: DiskAlertSink | null;
  clock: Clock;
  logger: Logger;
  intervalMs?: number;
  /** PRUNE_ONLY_LABEL. */
  pruneLabel: string | null;
  /** Called after each measurement (metrics). */
  onMeasured?: (h: HostHealth) => void;
  /** Deadline of each part of a measurement (default 30 s). */
  timeoutMs?: number;
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

  /** Measures a host now (joining a measurement of it already under way). */
  refresh(host: string): Promise<HostHealth | null> {
    const c = this.o.clients().find((x) => x.host === host);
    if (!c) return Promise.resolve(null);
    let p = this.inFlight.get(host);
    if (!p) {
      p = this.measure(c).finally(() => this.inFlight.delete(host));
      this.inFlight.set(host, p);
    }
    return p;
  }

  private readonly inFlight = new Map<string, Promise<HostHealth | null>>();

  private async measure(c: HealthTarget): Promise<HostHealth | null> {
    const { host } = c;
    try {
      const h = await measureHost(host, c.docker, {
        sitesRoot: c.sitesRoot,
        os: c.os,
        now: this.o.clock.now(),
        ...(this.o.timeoutMs !== undefined ? { timeoutMs: this.o.timeoutMs } : {}),
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
