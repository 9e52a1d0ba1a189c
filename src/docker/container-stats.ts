/**
 * CPU and memory from one `GET /containers/{id}/stats?stream=false` sample, computed the way
 * the docker CLI does (https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Container/operation/ContainerStats).
 */
import type { ContainerStats } from '../core/engine.js';

interface CpuStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null };
  system_cpu_usage?: number;
  online_cpus?: number;
}

/** The subset of the stats payload SiteFlow reads. */
export interface RawStats {
  read?: string;
  cpu_stats?: CpuStats;
  precpu_stats?: CpuStats;
  memory_stats?: {
    usage?: number;
    limit?: number;
    stats?: Record<string, number | undefined>;
  };
}

/** ContainerStats from one raw sample; a stopped container yields zeros. */
export function statsFrom(raw: RawStats, now: number = Date.now()): ContainerStats {
  const cpu = raw.cpu_stats ?? {};
  const pre = raw.precpu_stats ?? {};
  const cpuDelta = (cpu.cpu_usage?.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const sysDelta = (cpu.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const cpus = cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 1;
  const cpuPercent = cpuDelta > 0 && sysDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;

  const mem = raw.memory_stats ?? {};
  const s = mem.stats ?? {};
  // cgroup v1 reports total_inactive_file, v2 inactive_file; the CLI subtracts it as cache.
  const cache = s.total_inactive_file ?? s.inactive_file ?? 0;
  const usage = mem.usage ?? 0;
  const memoryBytes = Math.max(0, usage - (cache < usage ? cache : 0));
  const memoryLimitBytes = mem.limit ?? 0;
  const at = raw.read ? Date.parse(raw.read) : Number.NaN;
  return {
    cpuPercent: round2(cpuPercent),
    memoryBytes,
    memoryLimitBytes,
    memoryPercent: memoryLimitBytes > 0 ? round2((memoryBytes / memoryLimitBytes) * 100) : 0,
    at: Number.isFinite(at) && at > 0 ? at : now,
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
