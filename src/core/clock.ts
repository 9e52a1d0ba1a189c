/**
 * Time and timers through the {@link Clock} port: `systemClock` is the real one, and
 * `timersOf(clock)` gives core code the timers of whatever clock it was handed (a test clock
 * runs them when the test advances it; a clock that only tells the time uses the system's).
 */
import type { Clock, ClockTimer } from './ports.js';

/** The system clock: `Date.now` and unref'd `setTimeout` (never keeps the process alive). */
export const systemClock: Required<Clock> = {
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number): ClockTimer {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

/** The timers core code uses, all on one clock. */
export interface ClockTimers {
  now(): number;
  /** Runs `fn` once after `ms`. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  /** Runs `fn` every `ms` (the next run is timed from the start of this one). */
  setInterval(fn: () => void, ms: number): ClockTimer;
  /** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** `p`, or a rejection with `onTimeout()` once `ms` passed first. */
  deadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T>;
}

/** The timers of `clock` (the system's when it has none of its own). */
export function timersOf(clock: Clock = systemClock): ClockTimers {
  const start = clock.setTimeout ? clock.setTimeout.bind(clock) : systemClock.setTimeout;
  const now = () => clock.now();
  return {
    now,
    setTimeout: (fn, ms) => start(fn, Math.max(0, ms)),
    setInterval(fn, ms) {
      let current: ClockTimer | null = null;
      let cancelled = false;
      const next = () => {
        current = start(() => {
          if (cancelled) return;
          next();
          fn();
        }, ms);
      };
      next();
      return {
        cancel() {
          cancelled = true;
          current?.cancel();
        },
      };
    },
    sleep(ms, signal) {
      return new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const done = () => {
          t.cancel();
          resolve();
        };
        const t = start(
          () => {
            signal?.removeEventListener('abort', done);
            resolve();
          },
          Math.max(0, ms),
        );
        signal?.addEventListener('abort', done, { once: true });
      });
    },
    deadline(p, ms, onTimeout) {
      let t: ClockTimer | undefined;
      return Promise.race([
        p,
        new Promise<never>((_, reject) => {
          t = start(() => reject(onTimeout()), Math.max(0, ms));
        }),
      ]).finally(() => t?.cancel());
    },
  };
}
