/**
 * The URL checker at run time: every PROBE_INTERVAL_SECONDS it takes each site's URLs from
 * the live state's container labels (src/core/url-checks.ts), checks them (a few at a time),
 * and hands the results to the monitor's alert rules and to whoever records history. Only the
 * sites' own URLs are ever requested.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import { timersOf } from '../core/clock.js';
import { describeError, SiteFlowError } from '../core/errors.js';
import type { LiveState } from '../core/live-state.js';
import type { Clock, ClockTimer, Logger } from '../core/ports.js';
import { type UrlCheckResult, type UrlTarget, urlTargetsOf } from '../core/url-checks.js';
import { type ProbeOptions, probeUrl } from './url-probe.js';

/** Where the results of one site's round go. */
export interface UrlCheckSink {
  urlChecks(host: string, site: string, results: readonly UrlCheckResult[]): void;
  certificateSeen(host: string, site: string, domain: string, cert: UrlCheckResult['certificate']): void;
}

/** Options of {@link UrlChecker}. */
export interface UrlCheckerOptions {
  state: Pick<LiveState, 'snapshot'>;
  /** Where each site's results go (the monitor's rules, the history recorder). */
  sinks: ReadonlyArray<UrlCheckSink | null>;
  /** Time, and the timer of the rounds. */
  clock: Clock;
  logger: Logger;
  intervalMs: number;
  timeoutMs: number;
  /** PEM of an extra trusted CA (PROBE_CA_FILE). */
  ca: string | null;
  /** CADDY_SITE_PORT: provisioned domains are checked as http://DOMAIN:PORT/ when set. */
  caddyPort: number | null;
  /** Checks in flight at once (default 8). */
  concurrency?: number;
  /** The check itself (tests of the scheduling may pass their own). */
  probe?: (t: UrlTarget, o: ProbeOptions) => Promise<UrlCheckResult>;
}

/** See the module comment. */
export class UrlChecker {
  private timer: ClockTimer | null = null;
  private running: Promise<void> | null = null;
  private readonly latest = new Map<string, readonly UrlCheckResult[]>();
  private readonly warned = new Set<string>();
  private stopped = false;

  constructor(private readonly o: UrlCheckerOptions) {}

  /** Checks once now, then every interval. */
  start(): void {
    if (this.timer) return;
    this.stopped = false;
    void this.round();
    this.timer = timersOf(this.o.clock).setInterval(() => void this.round(), this.o.intervalMs);
  }

  /** Stops the schedule and waits for a round in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    await this.running;
  }

  /** The latest results of a site (`host/site`), empty when it has no URL. */
  results(host: string, site: string): readonly UrlCheckResult[] {
    return this.latest.get(`${host}/${site}`) ?? [];
  }

  /** One round over every site (a round still running is not overlapped). */
  round(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.doRound().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async doRound(): Promise<void> {
    const jobs: Array<{ host: string; site: string; targets: UrlTarget[] }> = [];
    const seen = new Set<string>();
    for (const h of this.o.state.snapshot().hosts) {
      if (h.reachable === false) continue; // its sites' state is unknown; judge nothing
      for (const s of h.sites) {
        const key = `${h.name}/${s.name}`;
        const { targets, problems } = urlTargetsOf(s.containers, this.o.caddyPort);
        for (const p of problems) {
          if (this.warned.has(`${key}:${p}`)) continue;
          this.warned.add(`${key}:${p}`);
          this.o.logger.warn({ host: h.name, site: s.name, problem: p }, 'bad URL check label ignored');
        }
        if (!targets.length) continue;
        seen.add(key);
        jobs.push({ host: h.name, site: s.name, targets });
      }
    }
    // Sites that had URLs and no longer do: their checks end (an open URL failure resolves).
    for (const key of [...this.latest.keys()]) {
      if (seen.has(key)) continue;
      this.latest.delete(key);
      const [host, site] = split(key);
      for (const sink of this.o.sinks) sink?.urlChecks(host, site, []);
    }
    const queue = jobs.flatMap((j) => j.targets.map((t) => ({ j, t })));
    const out = new Map<(typeof jobs)[number], UrlCheckResult[]>();
    const probe = this.o.probe ?? probeUrl;
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        if (this.stopped) return;
        const r = await probe(next.t, {
          timeoutMs: this.o.timeoutMs,
          ca: this.o.ca,
          now: () => this.o.clock.now(),
        });
        const list = out.get(next.j) ?? [];
        list.push(r);
        out.set(next.j, list);
      }
    };
    await Promise.all(Array.from({ length: this.o.concurrency ?? 8 }, worker));
    if (this.stopped) return;
    for (const j of jobs) {
      const results = j.targets
        .map((t) => out.get(j)?.find((r) => r.url === t.url))
        .filter((r): r is UrlCheckResult => r !== undefined);
      this.latest.set(`${j.host}/${j.site}`, results);
      try {
        const certs = new Map<string, UrlCheckResult['certificate']>();
        for (const r of results) if (r.certificate) certs.set(r.certificate.domain, r.certificate);
        for (const sink of this.o.sinks) {
          sink?.urlChecks(j.host, j.site, results);
          for (const [domain, c] of certs) sink?.certificateSeen(j.host, j.site, domain, c);
        }
      } catch (e) {
        this.o.logger.error({ err: describeError(e), site: j.site }, 'recording URL checks failed');
      }
    }
  }
}

function split(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** Builds the URL checker from the configuration (PROBE_*, CADDY_SITE_PORT); PROBE_CA_FILE is read once here. */
export function createUrlChecker(
  config: Pick<
    Config,
    'PROBE_INTERVAL_SECONDS' | 'PROBE_TIMEOUT_SECONDS' | 'PROBE_CA_FILE' | 'CADDY_SITE_PORT'
  >,
  deps: Pick<UrlCheckerOptions, 'state' | 'sinks' | 'clock' | 'logger'>,
): UrlChecker {
  let ca: string | null = null;
  if (config.PROBE_CA_FILE) {
    try {
      ca = readFileSync(config.PROBE_CA_FILE, 'utf8');
    } catch (e) {
      throw new SiteFlowError('CONFIG_INVALID', `PROBE_CA_FILE cannot be read: ${describeError(e)}`);
    }
  }
  return new UrlChecker({
    ...deps,
    logger: deps.logger.child({ part: 'url-checks' }),
    intervalMs: config.PROBE_INTERVAL_SECONDS * 1000,
    timeoutMs: config.PROBE_TIMEOUT_SECONDS * 1000,
    ca,
    caddyPort: config.CADDY_SITE_PORT === '' ? null : config.CADDY_SITE_PORT,
  });
}
