/**
 * Watches the free space of DATA_DIR (the database, run logs, the log file). It is "not ok" when
 * the free space falls below the configured minimum, or when a write just failed for lack of
 * space (the database's held writes, a run log), and ok again once there is room and the
 * database takes writes again. Each change is reported once (the monitor turns it into one disk
 * alert and one recovery).
 *
 * A reserve file (`.siteflow-reserve`, a few MB) is kept in DATA_DIR while there is room and
 * removed as soon as the disk is found full: SQLite then has room for the alert queue and the
 * held audit rows, so alerts keep going out while someone frees space. It is put back once
 * there is room again.
 */
import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';

/** The disk state of DATA_DIR as last seen. */
export interface DiskStatus {
  ok: boolean;
  /** Bytes available to SiteFlow; null when it could not be read. */
  freeBytes: number | null;
  /** Why not ok (or, when ok, the free space), one line. */
  note: string;
}

/** Options of {@link DiskWatch}. */
export interface DiskWatchOptions {
  dir: string;
  /** DISK_MIN_FREE_MB in bytes. */
  minFreeBytes: number;
  logger: Logger;
  /** How often free space is read (default 5000 ms). */
  intervalMs?: number;
  /** Size of the reserve file (default 8 MiB; 0: none). */
  reserveBytes?: number;
  /** Called on every change of `ok`. */
  onChange?: (s: DiskStatus) => void;
}

const MB = 1024 * 1024;
const RESERVE_FILE = '.siteflow-reserve';

/** See the module comment. */
export class DiskWatch {
  private current: DiskStatus = { ok: true, freeBytes: null, note: 'not checked yet' };
  private writeFailure: string | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private checking: Promise<void> | null = null;
  private readonly reservePath: string;
  private readonly reserveBytes: number;

  constructor(private readonly opts: DiskWatchOptions) {
    this.reservePath = join(opts.dir, RESERVE_FILE);
    this.reserveBytes = Math.max(0, opts.reserveBytes ?? 8 * MB);
  }

  /** The state as last seen. */
  status(): DiskStatus {
    return this.current;
  }

  /** Checks now and then every interval. */
  start(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.opts.intervalMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A write failed for lack of space (`what` names it): not ok until writes work again. */
  writeFailed(what: string): void {
    this.writeFailure ??= what;
    void this.check();
  }

  /** Writes work again (the held database writes were written). */
  writesRecovered(): void {
    this.writeFailure = null;
    void this.check();
  }

  /** Reads the free space now (a check under way is joined). */
  check(): Promise<void> {
    this.checking ??= this.read().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async read(): Promise<void> {
    let free: number | null = null;
    try {
      const s = await statfs(this.opts.dir);
      free = Number(s.bavail) * Number(s.bsize);
    } catch (e) {
      this.opts.logger.debug({ err: describeError(e) }, 'free space of DATA_DIR unknown');
    }
    // Hysteresis: once full, it takes the minimum plus room for the reserve to count as ok again.
    const need = this.current.ok ? this.opts.minFreeBytes : this.opts.minFreeBytes + 2 * this.reserveBytes;
    const low = free !== null && free < need;
    const ok = !low && this.writeFailure === null;
    const mb = free === null ? 'unknown' : `${Math.floor(free / MB)} MB free`;
    const note = ok
      ? mb
      : low
        ? `${mb} in ${this.opts.dir} (the minimum is ${Math.round(this.opts.minFreeBytes / MB)} MB)`
        : `writing ${this.writeFailure} failed: no space left in ${this.opts.dir} (${mb})`;
    if (!ok) this.releaseReserve();
    else if (free !== null && free > this.opts.minFreeBytes + 2 * this.reserveBytes) this.keepReserve();
    const changed = ok !== this.current.ok;
    this.current = { ok, freeBytes: free, note };
    if (!changed) return;
    if (ok) this.opts.logger.info({ freeBytes: free }, 'DATA_DIR has room again');
    else this.opts.logger.error({ freeBytes: free, note }, 'DATA_DIR is full');
    try {
      this.opts.onChange?.(this.current);
    } catch (e) {
      this.opts.logger.warn({ err: describeError(e) }, 'disk change listener failed');
    }
  }

  private keepReserve(): void {
    if (this.reserveBytes === 0 || existsSync(this.reservePath)) return;
    let fd: number | null = null;
    try {
      fd = openSync(this.reservePath, 'w', 0o600);
      const chunk = Buffer.alloc(MB);
      for (let left = this.reserveBytes; left > 0; left -= chunk.length)
        writeSync(fd, chunk, 0, Math.min(chunk.length, left));
    } catch {
      rmSync(this.reservePath, { force: true });
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  private releaseReserve(): void {
    if (this.reserveBytes === 0 || !existsSync(this.reservePath)) return;
    rmSync(this.reservePath, { force: true });
    this.opts.logger.warn({ bytes: this.reserveBytes }, 'released the disk reserve of DATA_DIR');
  }
}
