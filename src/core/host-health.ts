/**
 * Host health, the shapes and pure helpers: disk use of the Docker data root and of
 * SITES_ROOT, memory and load, and the engine's `system df` (counts and reclaimable space).
 */

/** Use of one filesystem. */
export interface DiskUse {
  /** What it holds: `docker` (the Docker data root) or `sites` (SITES_ROOT). */
  what: 'docker' | 'sites';
  path: string;
  totalBytes: number;
  usedBytes: number;
  /** usedBytes / totalBytes * 100. */
  percent: number;
  /**
   * What identifies the filesystem on that host (`dev:<n>` here, `mount:<path>` over SSH): two
   * paths on one filesystem are one disk. Null or absent when unknown.
   */
  fsId?: string | null;
}

/** The engine's `system df`. */
export interface SystemDf {
  images: number;
  containers: number;
  volumes: number;
  /** Bytes of all images. */
  imagesBytes: number;
  /** Dangling images plus unused build cache: what /prune removes. */
  prunableBytes: number;
  /** Images no container uses, plus unused build cache (what `docker system df` calls reclaimable). */
  reclaimableBytes: number;
}

/** One host's health at one moment. */
export interface HostHealth {
  host: string;
  at: number;
  /**
   * Where the disk, memory and load figures come from: this machine's OS (the engine runs here),
   * the host's OS read over its SSH connection, or nowhere (only the engine's API).
   */
  source: 'os' | 'ssh' | 'engine';
  disks: DiskUse[];
  memory: { totalBytes: number; usedBytes: number; percent: number } | null;
  /** 1, 5 and 15 minute load averages (null when not read). */
  load: [number, number, number] | null;
  cpus: number | null;
  df: SystemDf | null;
  /** Why a part could not be read (never a secret). */
  problems: string[];
}

/** `1.2 GB`, `340 MB`, `12 KB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** One line for /status: `local: disk docker 45%, sites 45%; memory 61%; load 0.52; 12 images, 3.2 GB reclaimable`. */
export function hostHealthLine(h: HostHealth): string {
  const parts: string[] = [];
  if (h.disks.length)
    parts.push(`disk ${h.disks.map((d) => `${d.what} ${Math.round(d.percent)}%`).join(', ')}`);
  if (h.memory) parts.push(`memory ${Math.round(h.memory.percent)}%`);
  if (h.load) parts.push(`load ${h.load[0].toFixed(2)}`);
  if (h.df)
    parts.push(
      `${h.df.images} images, ${h.df.containers} containers, ${h.df.volumes} volumes, ${formatBytes(h.df.reclaimableBytes)} reclaimable`,
    );
  if (h.problems.length) parts.push(`(${h.problems.join('; ')})`);
  return `${h.host}: ${parts.join('; ') || 'nothing measured'}`;
}

/** What a prune removed (dangling images and unused build cache, never volumes). */
export interface PruneOutcome {
  imagesDeleted: number;
  imageBytes: number;
  cacheBytes: number;
  /** True when build cache was left alone (a prune restricted to a label cannot select build cache). */
  cacheSkipped: boolean;
}

/** What commands ask of the host health checker. */
export interface HostHealthService {
  /** The last measurement of a host (null before the first). */
  latest(host: string): HostHealth | null;
  /** Measures a host now. */
  refresh(host: string): Promise<HostHealth | null>;
  /** Removes a host's dangling images and unused build cache; null for an unknown host. */
  prune(host: string): Promise<PruneOutcome | null>;
  /** The label a prune is restricted to (PRUNE_ONLY_LABEL), or null. */
  readonly pruneLabel: string | null;
}
