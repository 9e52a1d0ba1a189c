#!/usr/bin/env node
/**
 * Composition root: the only file that wires adapters together. `startSiteFlow` builds
 * and starts everything from a Config (tests call it with their own streams and
 * temp dirs); running this file starts SiteFlow from the environment.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { Logger as PinoLogger } from 'pino';
import { commands } from '../commands/index.js';
import { pullSite } from './actions/pull-site.js';
import { createBackupChecks } from './backup/backup-checks.js';
import { completionSource } from './chat/completions.js';
import { ConsoleSurface } from './chat/console/console-surface.js';
import { type ChatSurface, type CompletionSource, chatConfigured, startSurface } from './chat/surface.js';
import { chatSurfacesFor } from './chat/surfaces.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { systemClock } from './core/clock.js';
import { Confirmations } from './core/confirmations.js';
import { CommandRegistry, Dispatcher } from './core/dispatch.js';
import { EngineWatch } from './core/engine-watch.js';
import { describeError } from './core/errors.js';
import { setDisplayTimeZone } from './core/format.js';
import { OutputHub } from './core/hub.js';
import { LiveState } from './core/live-state.js';
import { PermissionPolicy } from './core/permissions.js';
import type { Clock } from './core/ports.js';
import { ActionRunner } from './core/runs.js';
import { SecretMasker } from './core/secret-mask.js';
import { lockDataDir } from './db/data-dir.js';
import { openDatabase } from './db/database.js';
import { type DiskStatus, DiskWatch } from './db/disk-watch.js';
import { HeldWrites } from './db/held-writes.js';
import { RetentionJob } from './db/retention.js';
import { SqliteAlertStore } from './db/sqlite-alert-store.js';
import { SqliteAuditStore } from './db/sqlite-audit-store.js';
import { SqliteHistoryStore } from './db/sqlite-history-store.js';
import { SqliteOperationStore } from './db/sqlite-operation-store.js';
import { SqliteProvisionJournal } from './db/sqlite-provision-journal.js';
import { SqliteScheduleStore } from './db/sqlite-schedule-store.js';
import { ComposeCli } from './docker/compose-cli.js';
import { healthTargets } from './docker/host-health.js';
import { Hosts } from './docker/hosts.js';
import { RegistryClient, readDockerAuths } from './docker/registry-client.js';
import { siteState } from './docker/status.js';
import { createLogger, SafeLogDestination } from './logger.js';
import { alertChannelNames, createMonitor } from './monitor/create-monitor.js';
import { DriftWatch } from './monitor/drift-watch.js';
import { HistoryRecorder } from './monitor/history-recorder.js';
import { HostHealthChecker } from './monitor/host-health-checker.js';
import type { Monitor } from './monitor/monitor.js';
import { UpdateChecker, UpdateSchedule } from './monitor/update-checks.js';
import { createUrlChecker, type UrlChecker } from './monitor/url-checker.js';
import { ARCHIVE_DIR, deprovisionSite } from './provision/deprovision-site.js';
import { createProvisioning } from './provision/provisioning.js';
import { undoInterruptedProvision } from './provision/recover-provision.js';
import { FileRunLog } from './runs/file-run-log.js';
import { SiteEnvSecrets, siteFilesHosts } from './runs/site-secrets.js';
import { Scheduler } from './schedule/scheduler.js';
import { failureNotice, type Services } from './services.js';
import { StateReconciler } from './state/state-reconciler.js';
import { WebMetrics } from './web/metrics.js';
import { startWebServer, type WebServer } from './web/server.js';

/** Overrides for tests and embedding. */
export interface StartOptions {
  logger?: PinoLogger;
  /** Console input/output; defaults to stdin/stdout. */
  consoleInput?: Readable;
  consoleOutput?: Writable;
  /** Force the console surface on or off regardless of CONSOLE and the TTY check. */
  console?: boolean;
  clock?: Clock;
}

/** A running SiteFlow. */
export interface SiteFlow {
  config: Config;
  services: Services;
  dispatcher: Dispatcher<Services>;
  console: ConsoleSurface | null;
  /** The started Discord/Slack surfaces (tests read e.g. the Slack receiver's bound port). */
  surfaces: ChatSurface[];
  /** Base URL of the web server. */
  webUrl: string;
  /** Live hosts/sites/containers state (the monitor and backup checker fill their slots). */
  live: LiveState;
  /** Keeps `live` in step with the engines; `onContainerEvent` is the monitor's event seam. */
  reconciler: StateReconciler;
  /** Prometheus metrics; chat adapters feed `setChatQueue`. */
  metrics: WebMetrics;
  /** The drift check (compose file vs running config). */
  drift: DriftWatch;
  /** The scheduled update check. */
  updates: UpdateSchedule;
  /** The monitor (alerts); null when MONITOR_ENABLED=false. Chat surfaces add their AlertChannel to it. */
  monitor: Monitor | null;
  /** Checks every site's URLs and certificates and feeds the monitor. */
  urlChecks: UrlChecker;
  /** Stops taking commands, lets running operations finish within the grace period, closes the database. */
  stop(reason?: string): Promise<void>;
}

const GRANT_HINT = 'An admin can grant more by adding you to OPERATORS or ADMINS in the configuration.';

/** Builds and starts SiteFlow. */
export async function startSiteFlow(config: Config, opts: StartOptions = {}): Promise<SiteFlow> {
  const logger = opts.logger ?? createLogger({ level: config.LOG_LEVEL, secrets: config.secrets });
  const clock: Clock = opts.clock ?? systemClock;
  // Times shown as text (console, page, code blocks) are in TZ; unset: the process's zone.
  setDisplayTimeZone(config.TZ);
  // One SiteFlow per data folder (0700, database files 0600); released on stop and on any exit.
  const dataLock = lockDataDir(config.DATA_DIR);
  const database = openDatabase(join(config.DATA_DIR, 'siteflow.db'));
  // Rows the database cannot take now (locked by another process, disk full) wait here, in order.
  // Free space of DATA_DIR: one disk alert when it runs out (or a write fails), one recovery.
  let onDisk: (s: DiskStatus) => void = () => undefined;
  const disk = new DiskWatch({
    dir: config.DATA_DIR,
    minFreeBytes: config.DISK_MIN_FREE_MB * 1024 * 1024,
    logger,
    onChange: (s) => onDisk(s),
  });
  const heldWrites = new HeldWrites({
    logger,
    clock,
    onChange: (held, reason) => {
      if (reason === 'full') disk.writeFailed('the database');
      else if (held === 0) disk.writesRecovered();
    },
  });
  const audit = new SqliteAuditStore(database.db, heldWrites);
  const operations = new SqliteOperationStore(database.db, heldWrites);

  const hosts = Hosts.fromConfig({
    dockerHosts: config.DOCKER_HOSTS,
    tlsDir: config.DOCKER_TLS_DIR || null,
    sitesRoot: config.SITES_ROOT,
    sitesRoots: config.SITES_ROOTS,
    sshHostKeys: config.DOCKER_SSH_HOST_KEYS,
    scope: config.SITES_SCOPE,
    logger,
    callTimeoutMs: config.DOCKER_CALL_TIMEOUT_SECONDS * 1000,
    // One SSH connection per ssh:// host: the key file, else the agent; a failed attempt is
    // tried again after 1 s, doubling up to the engine retry interval.
    ...(config.DOCKER_SSH_KEY_PATH
      ? { ssh: { privateKey: readFileSync(config.DOCKER_SSH_KEY_PATH) } }
      : config.SSH_AUTH_SOCK
        ? { ssh: { agent: config.SSH_AUTH_SOCK } }
        : {}),
    sshBackoffMs: { min: 1000, max: config.DOCKER_RETRY_SECONDS * 1000 },
  });
  if (config.SITES_SCOPE === 'all')
    logger.warn(
      'SITES_SCOPE=all: every compose project on every host is a site, including databases, proxies and SiteFlow itself',
    );
  // Compose runs here for local hosts and over each ssh:// host's own SSH connection there.
  const compose = hosts.composeFor(new ComposeCli());
  const hub = new OutputHub();
  const runLog = new FileRunLog(join(config.DATA_DIR, 'logs'), clock, {
    maxBytes: config.RUN_LOG_MAX_MB * 1024 * 1024,
    onNoSpace: (path) => disk.writeFailed(`run log ${path}`),
  });
  // Every run's output is masked: SiteFlow's own secrets now, the sites' .env secrets before each run.
  const masker = new SecretMasker();
  masker.set('config', config.secrets);
  let siteSecrets: SiteEnvSecrets | null = null;
  const runner = new ActionRunner({
    masker,
    // The run's own host's site secrets, read now; every other host's stay masked as last read.
    beforeRun: async (def) => {
      await siteSecrets?.refresh(def.host);
    },
    operations,
    audit,
    runLog,
    hub,
    clock,
    logger,
    maxConcurrent: config.MAX_CONCURRENT_OPERATIONS,
    maxConcurrentReads: config.MAX_CONCURRENT_READS,
  });
  const interrupted = runner.recoverAfterCrash(clock.now());
  if (interrupted.length)
    logger.warn(
      { operations: interrupted.map((o) => o.id) },
      'marked operations interrupted by a previous crash',
    );

  const registry = new CommandRegistry<Services>(commands, { logs: config.LOGS_LEVEL });
  const services: Services = {
    audit,
    operations,
    registry,
    clock,
    hosts,
    compose,
    runner,
    limits: {
      actionTimeoutMs: config.ACTION_TIMEOUT_SECONDS * 1000,
      healthTimeoutMs: config.HEALTH_TIMEOUT_SECONDS * 1000,
      pullStallMs: config.PULL_STALL_SECONDS * 1000,
      logsMaxFollowMs: 15 * 60_000,
    },
    policy: {
      confirmPull: config.CONFIRM_PULL,
      rollbackOnFailure: config.ROLLBACK_ON_FAILURE,
      pruneAfterPull: config.PRUNE_AFTER_PULL,
    },
    confirmations: new Confirmations(clock),
    grantHint: GRANT_HINT,
    provisioning: createProvisioning(config, logger, hosts),
  };
  // Provisions interrupted by a crash are undone in reverse, each as an audited operation.
  const journal = new SqliteProvisionJournal(database.db);
  const provisioning = services.provisioning;
  if (provisioning) provisioning.journal = journal;
  for (const entry of journal.unfinished()) {
    // Undone on the host it ran on (its files, Caddy and compose are there).
    const target = provisioning?.targets.get(entry.host);
    const caddy = target?.caddy;
    if (!target || !caddy) {
      logger.warn(
        { site: entry.site, kind: entry.kind, host: entry.host },
        'interrupted provision left alone: provisioning is off on its host',
      );
      continue;
    }
    const common = { compose, composeEnv: hosts.composeEnv(entry.host), journal };
    const def =
      entry.kind === 'provision'
        ? undoInterruptedProvision({ ...common, caddy, access: target.access, entry })
        : // An interrupted deprovision is finished the way it was asked for.
          deprovisionSite({
            ...common,
            target,
            site: entry.site,
            removeVolumes: entry.args.removeVolumes === true,
            deleteFiles: entry.args.deleteFiles === true,
            timeoutMs: config.ACTION_TIMEOUT_SECONDS * 1000,
            resume: true,
          });
    const started = runner.start(def, {
      actor: { platform: 'system', id: 'siteflow', name: 'SiteFlow (crash recovery)' },
    });
    if (started.ok)
      logger.warn(
        { site: entry.site, operation: started.value.id },
        'undoing a provision interrupted by a crash',
      );
    else
      logger.error(
        { site: entry.site, why: started.error.message },
        'could not undo an interrupted provision',
      );
  }
  const policy = new PermissionPolicy({ admins: config.ADMINS, operators: config.OPERATORS });
  const dispatcher = new Dispatcher<Services>({
    registry,
    policy,
    audit,
    clock,
    logger,
    services,
  });

  const hasChat = chatConfigured(config);
  const wantConsole =
    opts.console ??
    (config.CONSOLE === 'on' || (config.CONSOLE === 'auto' && !hasChat && process.stdin.isTTY));
  // The alert channels the configuration asks for (alerts are queued for each from the start).
  const alertChannels = alertChannelNames(config, Boolean(wantConsole));
  const retention = new RetentionJob({
    alerts: { store: new SqliteAlertStore(database.db), channels: alertChannels },
    audit,
    operations,
    logsDir: join(config.DATA_DIR, 'logs'),
    auditDays: config.AUDIT_RETENTION_DAYS,
    operationDays: config.AUDIT_RETENTION_DAYS,
    archives: { dir: join(config.SITES_ROOT, ARCHIVE_DIR), days: config.ARCHIVE_RETENTION_DAYS },
    logger,
    clock,
    afterPrune: () => database.optimize(),
  });
  retention.start();

  // Autocomplete answers from the live state, which exists further down; the console starts first.
  let completions: CompletionSource = async () => [];
  let consoleSurface: ConsoleSurface | null = null;
  if (wantConsole) {
    consoleSurface = new ConsoleSurface({
      input: opts.consoleInput ?? process.stdin,
      output: opts.consoleOutput ?? process.stdout,
      dispatcher,
      registry,
      services,
      runLog,
      logger,
      completions: (kind, typed, args) => completions(kind, typed, args),
      clock,
      user: config.CONSOLE_USER,
      prompt: !opts.consoleInput && process.stdin.isTTY === true,
    });
    consoleSurface.start();
  } else if (!hasChat) {
    logger.warn(
      'no chat surface is enabled: set DISCORD_TOKEN or SLACK_BOT_TOKEN, or run in a terminal (CONSOLE=on) to use the console',
    );
  }
  const watch = new EngineWatch(hosts.all(), {
    intervalMs: config.DOCKER_RETRY_SECONDS * 1000,
    logger,
    onChange: (c) =>
      consoleSurface?.notice(
        c.reachable
          ? `Docker engine "${c.host}" answers again.`
          : `No Docker engine answers on host "${c.host}" (${c.reason}). SiteFlow keeps running and retries every ${config.DOCKER_RETRY_SECONDS} s; commands that need Docker will say so.`,
      ),
  });
  // Not awaited: the reconciler below already waits on every host once; a dead engine
  // should not cost start-up two connection timeouts. The notice comes when the ping fails.
  void watch.start();
  void compose.detect().then(
    (c) => logger.info({ compose: c.command.join(' '), version: c.version }, 'compose CLI found'),
    (e) =>
      logger.warn(
        { err: describeError(e) },
        'no compose CLI found: pull and provision will fail until one is installed',
      ),
  );

  const live = new LiveState({ hosts: hosts.names(), siteState, clock });
  // History of every site (states, URL checks, CPU/memory) for /stats and the page.
  const history = new SqliteHistoryStore(database.db);
  services.history = history;
  // Host health is measured once the monitor exists; the page reads it when it renders.
  let hostHealth: HostHealthChecker | null = null;
  // The page first: it serves while the engines are still being asked (hosts show as unknown).
  const metrics = new WebMetrics();
  const web: WebServer = await startWebServer({
    host: config.WEB_HOST,
    port: config.WEB_PORT,
    logger,
    token: config.WEB_TOKEN || null,
    trustProxy: config.WEB_TRUST_PROXY,
    sessionMs: config.WEB_SESSION_HOURS * 3600e3,
    page: {
      state: live,
      audit,
      operations,
      runLog,
      runs: runner,
      hub,
      metrics,
      clock,
      stats: history,
      hostHealth: { latest: (h) => hostHealth?.latest(h) ?? null },
    },
    checks: {
      database: () => database.sqlite.prepare('select 1 as ok').get() !== undefined,
      disk: () => disk.status().ok,
    },
  });
  metrics.bindDisk(() => ({ ...disk.status(), heldWrites: heldWrites.held }));
  const reconciler = new StateReconciler({
    hosts,
    state: live,
    logger,
    clock,
    statsIntervalMs: config.STATS_INTERVAL_SECONDS * 1000,
  });
  // Waits a few seconds at most: a host that does not answer is filled in when it does.
  await reconciler.start();
  // Each site's .env is read where it is: here, or over its ssh:// host's connection (SFTP).
  siteSecrets = new SiteEnvSecrets({
    masker,
    state: live,
    logger,
    hostFiles: siteFilesHosts(hosts, {
      sitesRoot: config.SITES_ROOT,
      callTimeoutMs: config.DOCKER_CALL_TIMEOUT_SECONDS * 1000,
    }),
  });
  await siteSecrets
    .refresh()
    .catch((e) => logger.warn({ err: describeError(e) }, 'reading site secrets failed'));
  // The monitor: alerts from the live state and engine events (null when MONITOR_ENABLED=false).
  const monitor = createMonitor({
    config,
    db: database.db,
    state: live,
    reconciler,
    runner,
    hub,
    audit,
    clock,
    logger,
    hostNames: () => hosts.names(),
    probe: async (h) => hosts.get(h)?.ping(),
    engineFor: (h) => hosts.get(h),
    console: consoleSurface,
    channels: alertChannels,
    masker,
    refreshSecrets: () => siteSecrets?.refresh() ?? Promise.resolve(),
    operations,
  });
  if (monitor) services.monitor = monitor;
  onDisk = (s) => monitor?.diskChanged(hosts.sitesRootHost(), s.ok, s.note);
  disk.start();
  // Drift: running config vs compose file and .env, into the live state and (once per change) a notice.
  const drift = new DriftWatch({
    state: live,
    hosts,
    compose,
    runner,
    hub,
    operation: (id) => operations.get(id),
    notices: monitor,
    logger: logger.child({ part: 'drift' }),
    cron: config.DRIFT_CHECK_CRON,
  });
  drift.start();
  services.driftOf = (host, site) => live.site(host, site)?.drift ?? null;
  services.recentStats = (host, site, id) => {
    const s = live.site(host, site)?.containers.find((c) => c.id === id)?.stats ?? null;
    return s && clock.now() - s.at < 2 * config.STATS_INTERVAL_SECONDS * 1000 ? s : null;
  };
  services.lastListing = (host) => {
    const h = live.snapshot().hosts.find((x) => x.name === host);
    return h && h.reachable !== null && h.checkedAt !== null
      ? { reachable: h.reachable, sites: h.sites, at: h.checkedAt }
      : null;
  };
  // Update checks: /updates on demand, and a schedule that announces each new digest once.
  const updateChecker = new UpdateChecker(
    new RegistryClient({
      auths: await readDockerAuths(config.DOCKER_CONFIG || join(homedir(), '.docker')).catch((e) => {
        logger.warn(
          { err: describeError(e) },
          'Docker config file not readable: registry checks without credentials',
        );
        return new Map();
      }),
      timeoutMs: config.REGISTRY_TIMEOUT_SECONDS * 1000,
    }),
  );
  services.updates = updateChecker;
  const updateSchedule = new UpdateSchedule({
    checker: updateChecker,
    hosts,
    notices: monitor,
    logger: logger.child({ part: 'updates' }),
    cron: config.UPDATE_CHECK_CRON,
    windowCron: config.UPDATE_WINDOW_CRON,
    autoPull: async (u) => {
      const engine = hosts.get(u.host);
      const site = await engine?.site(u.site);
      if (!engine || !site) return `${u.site} not found`;
      const started = runner.start(
        pullSite({
          engine,
          compose,
          site,
          service: u.service,
          timeoutMs: Math.max(services.limits.actionTimeoutMs, 6 * 3600_000),
          stallMs: services.limits.pullStallMs,
          recreateTimeoutMs: services.limits.actionTimeoutMs,
          composeEnv: hosts.composeEnv(u.host),
          healthTimeoutMs: services.limits.healthTimeoutMs,
          rollback: config.ROLLBACK_ON_FAILURE,
          prune: config.PRUNE_AFTER_PULL,
          onFailure: failureNotice(services, site),
        }),
        { actor: { platform: 'system', id: 'updates', name: 'update window' } },
      );
      if (!started.ok) return started.error.message;
      return (await runner.wait(started.value.id))?.status ?? 'unknown';
    },
  });
  updateSchedule.start();
  const recorder = new HistoryRecorder({
    store: history,
    state: live,
    events: reconciler,
    clock,
    logger: logger.child({ part: 'history' }),
    sampleMs: config.PROBE_INTERVAL_SECONDS * 1000,
    retentionDays: config.HISTORY_RETENTION_DAYS,
  });
  recorder.start();
  // Host health: disks, memory, load and `system df`, disk alerts, /prune.
  // Disks, memory and load from this OS for a local engine, over the SSH connection for ssh:// hosts.
  const healthHosts = healthTargets(hosts, { sitesRoot: config.SITES_ROOT });
  hostHealth = new HostHealthChecker({
    clients: () => healthHosts,
    timeoutMs: config.DOCKER_CALL_TIMEOUT_SECONDS * 1000,
    sink: monitor,
    clock,
    logger: logger.child({ part: 'host-health' }),
    pruneLabel: config.PRUNE_ONLY_LABEL || null,
  });
  services.hostHealth = hostHealth;
  hostHealth.start();
  // URL and certificate checks of every site (only its own labelled or provisioned URLs).
  const urlChecks = createUrlChecker(config, { state: live, sinks: [monitor, recorder], clock, logger });
  urlChecks.start();
  // NAS backup checks fill the live state's backup slot and report freshness changes to the monitor.
  const backups = createBackupChecks({
    config,
    db: database.db,
    hosts,
    clock,
    logger,
    state: live,
    ...(monitor ? { alerts: monitor } : {}),
  });
  services.backups = backups.service;
  backups.start();
  const scheduler = new Scheduler({
    store: new SqliteScheduleStore(database.db),
    lookup: (c) => registry.get(c),
    dispatch: (inv, o) => dispatcher.dispatch(inv, o),
    clock,
    logger: logger.child({ part: 'scheduler' }),
  });
  services.schedules = scheduler;
  // Scheduled runs show in the alert channels: the console here, Discord and Slack once connected.
  const consoleOut = consoleSurface;
  if (consoleOut) scheduler.addOutput({ name: 'console', announce: (r) => consoleOut.announce(r) });
  scheduler.start();
  completions = completionSource({
    state: live,
    operations: () => runner.active().map((a) => a.operation.id),
    templates: () => services.provisioning?.catalog.names() ?? [],
  });
  // Chat surfaces last: they add their alert channels to the monitor once connected.
  const surfaces = chatSurfacesFor({
    config,
    dispatcher,
    registry,
    services,
    runLog,
    logger,
    clock,
    completions,
  });
  const starters = surfaces.map((s) => startSurface(s, logger));
  await Promise.all(starters.map((s) => s.started));
  hostHealth.onMeasured = (h) => metrics.setHostHealth(h);
  for (const h of hostHealth.all()) metrics.setHostHealth(h);
  monitor?.queue.reportLength((ch, n) => metrics.setChatQueue(`alerts:${ch}`, n));
  logger.info({ dataDir: config.DATA_DIR, console: wantConsole, web: web.url }, 'SiteFlow started');

  let stopping: Promise<void> | null = null;
  const stop = (reason = 'stop requested'): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'SiteFlow stopping');
      dispatcher.stopAccepting();
      scheduler.stop();
      const result = await runner.shutdown(config.SHUTDOWN_GRACE_SECONDS * 1000);
      if (result.cancelled) logger.warn(result, 'cancelled operations still running at shutdown');
      watch.stop();
      consoleSurface?.close();
      for (const s of starters) s.stop();
      for (const s of surfaces)
        await s.stop().catch((e) => logger.warn({ err: describeError(e) }, 'surface stop failed'));
      await urlChecks.stop();
      recorder.stop();
      hostHealth.stop();
      monitor?.stop();
      drift.stop();
      updateSchedule.stop();
      await monitor?.settle();
      reconciler.stop();
      await web.close();
      await retention.stop();
      await backups.stop();
      disk.stop();
      heldWrites.flush();
      heldWrites.stop();
      database.close();
      hosts.close();
      dataLock.release();
      logger.info('SiteFlow stopped');
    })();
    return stopping;
  };
  return {
    config,
    services,
    dispatcher,
    console: consoleSurface,
    surfaces,
    webUrl: web.url,
    live,
    reconciler,
    drift,
    updates: updateSchedule,
    metrics,
    monitor,
    urlChecks,
    stop,
  };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\nSee .env.example for every key and what it expects.\n`);
      process.exit(2);
    }
    throw e;
  }
  // In an interactive console the terminal belongs to the chat; the JSON log goes to a file.
  const interactive = config.CONSOLE !== 'off' && process.stdin.isTTY === true && !chatConfigured(config);
  const logFile = join(config.DATA_DIR, 'siteflow.log');
  if (interactive) {
    mkdirSync(config.DATA_DIR, { recursive: true });
    process.stdout.write(
      `SiteFlow: log in ${logFile}, database in ${join(config.DATA_DIR, 'siteflow.db')}\n`,
    );
  }
  const logger = createLogger({
    level: config.LOG_LEVEL,
    secrets: config.secrets,
    ...(interactive ? { destination: new SafeLogDestination(logFile) } : {}),
  });
  // Something thrown that nobody catches: log it once and end the process at once, through a
  // path that cannot block (no flushing loop, no second failure), so a supervisor restarts it.
  let dying = false;
  const fatal = (kind: string, e: unknown) => {
    if (dying) process.exit(70);
    dying = true;
    try {
      logger.fatal({ err: describeError(e), kind }, 'SiteFlow failed; exiting');
    } catch {
      // The logger is what failed: stderr is the last resort.
    }
    try {
      process.stderr.write(`SiteFlow: ${kind}: ${describeError(e)}\n`);
    } catch {
      // nothing left to tell
    }
    process.exit(70);
  };
  process.on('uncaughtException', (e) => fatal('uncaughtException', e));
  process.on('unhandledRejection', (e) => fatal('unhandledRejection', e));
  // Signal handlers come first: the console takes commands while the rest still starts, and a
  // SIGTERM in that window must shut down cleanly too, not kill the process mid-operation.
  let app: SiteFlow | null = null;
  let pending: string | null = null;
  let signals = 0;
  const shutdown = (a: SiteFlow, why: string) => void a.stop(why).then(() => process.exit(0));
  const onSignal = (sig: string) => {
    signals++;
    if (signals > 1) process.exit(130); // a second Ctrl-C means now
    if (app) shutdown(app, sig);
    else pending = sig;
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  app = await startSiteFlow(config, { logger });
  if (pending) shutdown(app, pending);
  else if (app.console) {
    const started = app;
    void started.console!.closed.then(() => shutdown(started, 'console closed'));
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    process.stderr.write(`SiteFlow failed to start: ${describeError(e)}\n`);
    process.exit(1);
  });
}
