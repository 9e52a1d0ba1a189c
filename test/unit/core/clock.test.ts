/**
 * The clock port's timers: timersOf() runs them on a test clock that has its own (moved by
 * hand) and on the system timers for a clock that only tells the time.
 */
import { describe, expect, it } from 'vitest';
import { timersOf } from '../../../src/core/clock.js';
import { ManualClock } from '../../support/manual-clock.js';

describe('timersOf', () => {
  it('runs timeouts, intervals, sleeps and deadlines on a manual clock only as it advances', async () => {
    const clock = new ManualClock();
    const t = timersOf(clock);
    const ran: string[] = [];
    t.setTimeout(() => ran.push('once'), 300);
    const every = t.setInterval(() => ran.push('tick'), 100);
    let slept = false;
    void t.sleep(250).then(() => {
      slept = true;
    });
    const late = t.deadline(new Promise(() => undefined), 400, () => new Error('too late'));
    const caught = late.catch((e: Error) => e.message);
    await clock.advance(99);
    expect(ran).toEqual([]);
    await clock.advance(201);
    // Due at the same moment: the timer started first runs first.
    expect(ran).toEqual(['tick', 'tick', 'once', 'tick']);
    expect(slept).toBe(true);
    every.cancel();
    await clock.advance(1000);
    expect(ran).toHaveLength(4);
    expect(await caught).toBe('too late');
    expect(clock.pending).toBe(0);
  });

  it('a sleep ends at once when its signal aborts; a deadline met in time leaves no timer', async () => {
    const clock = new ManualClock();
    const t = timersOf(clock);
    const ac = new AbortController();
    const s = t.sleep(60_000, ac.signal);
    ac.abort();
    await s;
    expect(await t.deadline(Promise.resolve(7), 1000, () => new Error('x'))).toBe(7);
    expect(clock.pending).toBe(0);
  });

  it('a clock with only now() uses the system timers', async () => {
    const t = timersOf({ now: () => 42 });
    expect(t.now()).toBe(42);
    const t0 = Date.now();
    await t.sleep(20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(15);
  });
});
