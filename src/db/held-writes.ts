/**
 * Writes that SQLite could not take right now, held in order and retried later.
 *
 * Two reasons a write fails that are not its own fault: another process holds the database's
 * write lock (a backup tool: SQLITE_BUSY / SQLITE_LOCKED after the short busy timeout), or the
 * disk is full (SQLITE_FULL, an I/O error). Such a write is held in a bounded in-memory queue
 * and retried with backoff on a timer, so the event loop is never blocked for longer than one
 * busy timeout at a time. While anything is held, later writes queue behind it, so rows land in
 * the order they were recorded. Only when the process dies while writes are held, or more than
 * `max` are held, are rows lost (the latter are counted and logged).
 */
import { type ClockTimers, timersOf } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import type { Clock, ClockTimer, Logger } from '../core/ports.js';

/** Why writes are held: the database is locked by someone else, or the disk is full. */
export type HoldReason = 'busy' | 'full';

/** The hold reason of a SQLite error, or null for an error that retrying cannot fix. */
export function holdReason(e: unknown): HoldReason | null {
  const code = String((e as { code?: unknown })?.code ?? '');
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || code === 'ENOSPC') return 'full';
  return null;
}

/** Options of {@link HeldWrites}. */
export interface HeldWritesOptions {
  logger: Logger;
  /** The retry timer runs on it (default: the system clock). */
  clock?: Clock;
  /** Most writes held at once (default 10000); more are dropped and counted. */
  max?: number;
  /** Retry backoff: first and longest wait (default 100 ms and 5 s). */
  retryMs?: { initial: number; max: number };
  /** Called when writes start or stop being held (for health checks and alerts). */
  onChange?: (held: number, reason: HoldReason | null) => void;
}

interface Held {
  what: string;
  write: () => void;
  settled: (() => void) | undefined;
}

/** The queue of held writes of one database connection; see the module comment. */
export class HeldWrites {
  private readonly queue: Held[] = [];
  private timer: ClockTimer | null = null;
  private readonly time: ClockTimers;
  private wait: number;
  private droppedCount = 0;
  private reasonNow: HoldReason | null = null;
  private readonly max: number;
  private readonly retry: { initial: number; max: number };

  constructor(private readonly opts: HeldWritesOptions) {
    this.max = Math.max(1, opts.max ?? 10_000);
    this.retry = opts.retryMs ?? { initial: 100, max: 5000 };
    this.wait = this.retry.initial;
    this.time = timersOf(opts.clock);
  }

  /** How many writes are held now. */
  get held(): number {
    return this.queue.length;
  }

  /** How many writes were dropped because the queue was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Why writes are held now, or null when none are. */
  get reason(): HoldReason | null {
    return this.reasonNow;
  }

  /**
   * Runs `write` now, unless earlier writes are held (then it queues behind them). A write that
   * fails because the database is locked or full is held and retried; any other error is
   * thrown. Returns true when the write is done, false when it is held; `settled` is called
   * once a held write was finally written (or failed for good).
   */
  run(what: string, write: () => void, settled?: () => void): boolean {
    if (this.queue.length === 0) {
      try {
        write();
        return true;
      } catch (e) {
        const reason = holdReason(e);
        if (!reason) throw e;
        this.hold({ what, write, settled }, reason, e);
        return false;
      }
    }
    this.hold({ what, write, settled }, this.reasonNow ?? 'busy', null);
    return false;
  }

  /** Tries the held writes once, now (e.g. before closing the database); returns how many are left. */
  flush(): number {
    this.timer?.cancel();
    this.timer = null;
    this.drain();
    return this.queue.length;
  }

  /** Stops retrying; held writes stay in memory (and are lost with the process). */
  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    if (this.queue.length)
      this.opts.logger.error({ held: this.queue.length }, 'database writes still held at shutdown are lost');
  }

  private hold(h: Held, reason: HoldReason, e: unknown): void {
    if (this.queue.length >= this.max) {
      this.droppedCount++;
      h.settled?.();
      if (this.droppedCount === 1 || this.droppedCount % 1000 === 0)
        this.opts.logger.error(
          { what: h.what, dropped: this.droppedCount, max: this.max },
          'database write dropped: too many writes held',
        );
      return;
    }
    const first = this.queue.length === 0;
    this.queue.push(h);
    if (first) {
      this.reasonNow = reason;
      this.opts.logger.warn(
        { what: h.what, reason, err: e ? describeError(e) : undefined },
        reason === 'busy'
          ? 'database locked by another process: writes are held and retried'
          : 'database cannot be written (disk full?): writes are held and retried',
      );
      this.opts.onChange?.(this.queue.length, reason);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = this.time.setTimeout(() => {
      this.timer = null;
      this.drain();
      this.schedule();
    }, this.wait);
  }

  /** Writes held rows in order until one is refused again. */
  private drain(): void {
    let wrote = 0;
    while (this.queue.length) {
      const h = this.queue[0]!;
      try {
        h.write();
      } catch (e) {
        const reason = holdReason(e);
        if (reason) {
          this.reasonNow = reason;
          this.wait = Math.min(this.retry.max, this.wait * 2);
          return;
        }
        // Retrying cannot fix it (a constraint, say): log it and go on with the next.
        this.opts.logger.error({ what: h.what, err: describeError(e) }, 'held database write failed');
      }
      this.queue.shift();
      h.settled?.();
      wrote++;
    }
    this.wait = this.retry.initial;
    this.reasonNow = null;
    if (wrote) {
      this.opts.logger.info({ wrote }, 'held database writes written');
      this.opts.onChange?.(0, null);
    }
  }
}
