/**
 * The history writer: records each site's health on every change (from the live state and
 * the URL checks), every URL check result, the sites' summed container CPU and memory every
 * sample interval, and container exits (engine `die` events). Rolling raw points up into
 * buckets runs every minute and pruning every hour, on node-cron.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { timersOf } from '../core/clock.js';
import type { ContainerEvent } from '../core/engine.js';
import { describeError } from '../core/errors.js';
import type { LiveSite, LiveState, StateChange } from '../core/live-state.js';
import type { Clock, ClockTimer, Logger } from '../core/ports.js';
import type { HealthState } from '../core/stats.js';
import type { CertificateInfo, UrlCheckResult } from '../core/url-checks.js';
import type { HistoryPoint, SqliteHistoryStore } from '../db/sqlite-history-store.js';
import type { UrlCheckSink } from './url-checker.js';

/** Options of {@link HistoryRecorder}. */
export interface HistoryRecorderOptions {
  store: SqliteHistoryStore;
  state: Pick<LiveState, 'snapshot' | 'subscribe' | 'site'>;
  events?: { onContainerEvent(l: (host: string, ev: ContainerEvent) => void): () => void };
  clock: Clock;
  logger: Logger;
  /** CPU/memory sample period (the URL check interval). */
  sampleMs: number;
  retentionDays: number;
  /** node-cron expressions (defaults: rollup every minute, prune hourly). */
  rollupCron?: string;
  pruneCron?: string;
}

/** See the module comment. */
export class HistoryRecorder implements UrlCheckSink {
  private readonly last: Map<string, string>;
  private readonly urlFailing = new Map<string, string | null>();
  private readonly unsubs: Array<() => void> = [];
  private timer: ClockTimer | null = null;
  private tasks: ScheduledTask[] = [];

  constructor(private readonly o: HistoryRecorderOptions) {
    this.last = o.store.lastStates();
  }

  /** Records the current states, then follows changes, events and the schedules. */
  start(): void {
    for (const h of this.o.state.snapshot().hosts) for (const s of h.sites) this.judge(h.name, s.name);
    this.unsubs.push(this.o.state.subscribe((c) => this.onState(c)));
    if (this.o.events)
      this.unsubs.push(
        this.o.events.onContainerEvent((host, ev) => {
          if (ev.action !== 'die' || !ev.project) return;
          this.safe(() =>
            this.o.store.addPoints([
              { host, site: ev.project!, series: 'die', at: Math.min(ev.at, this.o.clock.now()), value: 1 },
            ]),
          );
        }),
      );
    this.timer = timersOf(this.o.clock).setInterval(() => this.sample(), this.o.sampleMs);
    this.tasks.push(
      cron.schedule(
        this.o.rollupCron ?? '20 * * * * *',
        () => this.safe(() => this.o.store.rollup(this.o.clock.now())),
        {
          name: 'history-rollup',
          noOverlap: true,
        },
      ),
      cron.schedule(
        this.o.pruneCron ?? '40 7 * * * *',
        () => this.safe(() => this.o.store.prune(this.o.clock.now(), this.o.retentionDays)),
        { name: 'history-prune', noOverlap: true },
      ),
    );
  }

  /** Stops following (what was written stays). */
  stop(): void {
    for (const u of this.unsubs.splice(0)) u();
    this.timer?.cancel();
    this.timer = null;
    for (const t of this.tasks.splice(0)) void t.destroy();
  }

  /** See {@link UrlCheckSink}: every result is a point; the site's health is judged again. */
  urlChecks(host: string, site: string, results: readonly UrlCheckResult[]): void {
    this.safe(() => {
      this.o.store.addPoints(
        results.map(
          (r): HistoryPoint => ({
            host,
            site,
            series: `url:${r.url}`,
            at: r.at,
            value: r.latencyMs,
            ok: r.ok,
            status: r.status,
            error: r.error,
          }),
        ),
      );
      const failing = results.find((r) => !r.ok);
      this.urlFailing.set(`${host}/${site}`, failing ? `${failing.url} ${failing.error ?? 'failed'}` : null);
      this.judge(host, site);
    });
  }

  certificateSeen(_host: string, _site: string, _domain: string, _cert: CertificateInfo | null): void {
    // Certificates are judged by the alert rules; their expiry is in the checker's results.
  }

  /** One CPU/memory sample of every site with running containers. */
  sample(): void {
    this.safe(() => {
      const now = this.o.clock.now();
      const points: HistoryPoint[] = [];
      for (const h of this.o.state.snapshot().hosts) {
        for (const s of h.sites) {
          const sampled = s.containers.filter((c) => c.stats);
          if (!sampled.length) continue;
          const cpu = sampled.reduce((sum, c) => sum + c.stats!.cpuPercent, 0);
          const mem = sampled.reduce((sum, c) => sum + c.stats!.memoryBytes, 0);
          points.push({ host: h.name, site: s.name, series: 'cpu', at: now, value: cpu });
          points.push({ host: h.name, site: s.name, series: 'mem', at: now, value: mem });
        }
      }
      this.o.store.addPoints(points);
    });
  }

  private onState(c: StateChange): void {
    for (const key of c.sites) {
      const i = key.indexOf('/');
      this.judge(key.slice(0, i), key.slice(i + 1));
    }
  }

  private judge(host: string, site: string): void {
    this.safe(() => {
      const s = this.o.state.site(host, site);
      const key = `${host}/${site}`;
      const failing = this.urlFailing.get(key) ?? null;
      const state = healthOf(s, failing !== null);
      if (this.last.get(key) === state) return;
      if (!s && !this.last.has(key)) return; // never seen: nothing to close
      this.last.set(key, state);
      this.o.store.recordState(host, site, this.o.clock.now(), state, state === 'down' ? failing : null);
    });
  }

  private safe(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.o.logger.error({ err: describeError(e) }, 'history write failed');
    }
  }
}

/** A site's health as visitors see it: a failing URL makes a running site down. */
export function healthOf(s: Pick<LiveSite, 'state'> | undefined, urlFailing: boolean): HealthState {
  if (!s) return 'gone';
  if ((s.state === 'up' || s.state === 'degraded') && urlFailing) return 'down';
  return s.state;
}
