import type { Clock, ClockTimer } from '../../src/core/ports.js';

/**
 * A clock whose time moves only when the test says so, with the timers of the Clock port:
 * `advance(ms)` runs every timer that falls due on the way, in time order, letting promise
 * callbacks (an async retry, a pump) run between them.
 */
export class ManualClock implements Required<Clock> {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 15, 10, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { cancel: () => void this.timers.delete(id) };
  }

  /** Timers waiting. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running the timers due on the way (and those they start). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settleMicrotasks();
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
      await settleMicrotasks();
    }
    this.t = end;
    await settleMicrotasks();
  }
}

/** Lets pending promise callbacks (and the I/O callbacks already due) run. */
function settleMicrotasks(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * Real time that a test can move forward: `now()` is the system time plus what `advance` added,
 * and timers are the system's. For a SiteFlow running in-process on real engines, where a
 * manual clock would stop everything: jumping past a rule's window (an action's grace) lets the
 * next rule tick see it ended, without waiting it out.
 */
export class ShiftedClock implements Clock {
  private offset = 0;

  now(): number {
    return Date.now() + this.offset;
  }

  /** Moves this clock `ms` ahead of the system time (never back). */
  advance(ms: number): void {
    this.offset += Math.max(0, ms);
  }
}
