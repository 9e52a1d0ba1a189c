/**
 * Prometheus metrics (prom-client, one private registry per SiteFlow): sites and containers by
 * state and hosts' reachability from the live state at scrape time, operations by kind and
 * outcome (counted as they end), open alerts and silences, live-stream clients, the chat
 * delivery queue (a gauge other code feeds through `setChatQueue`) and the process figures.
 */

import client from 'prom-client';
import type { HostHealth } from '../core/host-health.js';
import type { LiveSnapshot } from '../core/live-state.js';
import { summarize } from './view-model.js';

/** The metrics of one SiteFlow process. */
export class WebMetrics {
  readonly registry = new client.Registry();
  private readonly operations: client.Counter<'kind' | 'status'>;
  private readonly chatQueue: client.Gauge<'platform'>;
  private readonly hostDisk: client.Gauge<'host' | 'what'>;
  private readonly hostGauges: Record<'memory' | 'load' | 'images' | 'reclaimable', client.Gauge<'host'>>;
  private snapshot: () => LiveSnapshot | null = () => null;
  private sseClients: () => number = () => 0;

  constructor() {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry, prefix: 'siteflow_' });
    const self = this;
    new client.Gauge({
      name: 'siteflow_sites',
      help: 'Sites by state (up, degraded, down, stopped, empty).',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const snap = self.snapshot();
        if (!snap) return;
        const s = summarize(snap);
        for (const state of ['up', 'degraded', 'down', 'stopped', 'empty'])
          this.set({ state }, s.sitesByState[state] ?? 0);
      },
    });
    new client.Gauge({
      name: 'siteflow_containers',
      help: 'Containers by status (up, down, completed, starting, unhealthy, restarting, paused).',
      labelNames: ['status'],
      registers,
      collect() {
        this.reset();
        const snap = self.snapshot();
        if (!snap) return;
        const s = summarize(snap);
        for (const status of ['up', 'down', 'completed', 'starting', 'unhealthy', 'restarting', 'paused'])
          this.set({ status }, s.containersByStatus[status] ?? 0);
      },
    });
    new client.Gauge({
      name: 'siteflow_host_reachable',
      help: 'Whether each Docker host answered at the last check (1) or not (0).',
      labelNames: ['host'],
      registers,
      collect() {
        this.reset();
        for (const h of self.snapshot()?.hosts ?? []) {
          if (h.reachable !== null) this.set({ host: h.name }, h.reachable ? 1 : 0);
        }
      },
    });
    new client.Gauge({
      name: 'siteflow_alerts_open',
      help: 'Open alerts by severity.',
      labelNames: ['severity'],
      registers,
      collect() {
        this.reset();
        const counts: Record<string, number> = { critical: 0, warning: 0, info: 0 };
        for (const a of self.snapshot()?.alerts ?? []) counts[a.severity] = (counts[a.severity] ?? 0) + 1;
        for (const [severity, n] of Object.entries(counts)) this.set({ severity }, n);
      },
    });
    new client.Gauge({
      name: 'siteflow_silences_active',
      help: 'Active alert silences.',
      registers,
      collect() {
        this.set(self.snapshot()?.silences.length ?? 0);
      },
    });
    new client.Gauge({
      name: 'siteflow_backups',
      help: 'Sites by backup state (fresh, stale, missing, error, unknown).',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const counts: Record<string, number> = { fresh: 0, stale: 0, missing: 0, error: 0, unknown: 0 };
        for (const h of self.snapshot()?.hosts ?? [])
          for (const s of h.sites) {
            const st = s.backup?.state ?? 'unknown';
            counts[st] = (counts[st] ?? 0) + 1;
          }
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    new client.Gauge({
      name: 'siteflow_live_clients',
      help: 'Clients connected to the live event stream (/api/events).',
      registers,
      collect() {
        this.set(self.sseClients());
      },
    });
    new client.Gauge({
      name: 'siteflow_state_version',
      help: 'Version of the live state (grows with every change).',
      registers,
      collect() {
        this.set(self.snapshot()?.version ?? 0);
      },
    });
    this.operations = new client.Counter({
      name: 'siteflow_operations_total',
      help: 'Operations finished since start, by kind and final status.',
      labelNames: ['kind', 'status'],
      registers,
    });
    this.chatQueue = new client.Gauge({
      name: 'siteflow_chat_delivery_queue',
      help: 'Chat messages waiting to be delivered, by platform.',
      labelNames: ['platform'],
      registers,
    });
    this.hostDisk = new client.Gauge({
      name: 'siteflow_host_disk_used_ratio',
      help: 'Disk use of a host (0-1): what = docker (the Docker data root) or sites (SITES_ROOT here, SITES_ROOTS on an ssh:// host).',
      labelNames: ['host', 'what'],
      registers,
    });
    const g = (name: string, help: string) =>
      new client.Gauge({ name, help, labelNames: ['host'] as const, registers });
    this.hostGauges = {
      memory: g('siteflow_host_memory_used_ratio', 'Memory in use on a host (0-1).'),
      load: g('siteflow_host_load1', '1-minute load average of a host.'),
      images: g('siteflow_host_images', 'Images on a host (system df).'),
      reclaimable: g(
        'siteflow_host_reclaimable_bytes',
        'Bytes of unused images and build cache on a host (system df).',
      ),
    };
  }

  /** The latest health of a host (the host health checker calls it after each measurement). */
  setHostHealth(h: HostHealth): void {
    for (const d of h.disks) this.hostDisk.set({ host: h.host, what: d.what }, d.percent / 100);
    if (h.memory) this.hostGauges.memory.set({ host: h.host }, h.memory.percent / 100);
    if (h.load) this.hostGauges.load.set({ host: h.host }, h.load[0]);
    if (h.df) {
      this.hostGauges.images.set({ host: h.host }, h.df.images);
      this.hostGauges.reclaimable.set({ host: h.host }, h.df.reclaimableBytes);
    }
  }

  /** Where the data folder's figures come from (free space, disk ok, database writes held). */
  bindDisk(source: () => { ok: boolean; freeBytes: number | null; heldWrites: number }): void {
    const registers = [this.registry];
    new client.Gauge({
      name: 'siteflow_data_free_bytes',
      help: 'Free space of DATA_DIR in bytes (-1 when unknown).',
      registers,
      collect() {
        this.set(source().freeBytes ?? -1);
      },
    });
    new client.Gauge({
      name: 'siteflow_data_disk_ok',
      help: '1 while DATA_DIR has at least DISK_MIN_FREE_MB free and takes writes, else 0.',
      registers,
      collect() {
        this.set(source().ok ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'siteflow_db_writes_held',
      help: 'Audit and operation rows held in memory because the database was locked or full.',
      registers,
      collect() {
        this.set(source().heldWrites);
      },
    });
  }

  /** Where scrape-time figures come from. */
  bind(sources: { snapshot?: () => LiveSnapshot | null; sseClients?: () => number }): void {
    if (sources.snapshot) this.snapshot = sources.snapshot;
    if (sources.sseClients) this.sseClients = sources.sseClients;
  }

  /** Counts one finished operation. */
  operationFinished(kind: string, status: string): void {
    this.operations.inc({ kind, status });
  }

  /** The hook for chat adapters: how many messages wait for delivery on a platform. */
  setChatQueue(platform: string, depth: number): void {
    this.chatQueue.set({ platform }, depth);
  }

  /** The exposition text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Its content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
