/**
 * The StateReconciler's event follow with a hand-written engine: after the stream drops,
 * Docker replays (from the whole second of `since`) events already handed on; those are
 * dropped, new ones of the same second are not.
 */
import { describe, expect, it } from 'vitest';
import type { ContainerEvent, Engine, HostRegistry } from '../../../src/core/engine.js';
import { LiveState } from '../../../src/core/live-state.js';
import type { Logger } from '../../../src/core/ports.js';
import { siteState } from '../../../src/docker/status.js';
import { StateReconciler } from '../../../src/state/state-reconciler.js';
import { ManualClock } from '../../support/manual-clock.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

const ev = (at: number, id: string, action = 'die'): ContainerEvent => ({
  at,
  action,
  containerId: id,
  name: id,
  project: null,
  service: null,
  image: 'x',
  exitCode: action === 'die' ? 1 : null,
  health: null,
});

describe('StateReconciler event follow', () => {
  it('drops events replayed after a reconnect, keeps new ones of the same second', async () => {
    // Stream 1: three events, then the engine drops the stream. Stream 2 (since rounded down to
    // the second): the last two again, plus a new one in the same ms, plus a later one.
    const streams: ContainerEvent[][] = [
      [ev(5_100, 'a'), ev(5_400, 'b'), ev(5_400, 'c')],
      [ev(5_000, 'x'), ev(5_100, 'a'), ev(5_400, 'b'), ev(5_400, 'c'), ev(5_400, 'd'), ev(6_000, 'a')],
    ];
    const sinces: Array<number | undefined> = [];
    let calls = 0;
    const engine = {
      name: 'local',
      async listSites() {
        return [];
      },
      async *events(opts: { signal?: AbortSignal; since?: number }) {
        sinces.push(opts.since);
        const batch = streams[calls++];
        if (!batch) {
          await new Promise<void>((r) => opts.signal?.addEventListener('abort', () => r(), { once: true }));
          return;
        }
        for (const e of batch) yield e;
        throw new Error('stream closed');
      },
    } as unknown as Engine;
    const hosts = { names: () => ['local'], get: (h: string) => (h === 'local' ? engine : undefined) };
    const state = new LiveState({ hosts: ['local'], siteState });
    const r = new StateReconciler({
      hosts: hosts as unknown as HostRegistry,
      state,
      logger: quiet,
      statsIntervalMs: 0,
      intervalMs: 60_000,
      backoffMs: { initial: 1, max: 1 },
    });
    const seen: string[] = [];
    r.onContainerEvent((_h, e) => seen.push(`${e.at}/${e.containerId}`));
    await r.start();
    const end = Date.now() + 5000;
    while (calls < 3 && Date.now() < end) await new Promise((res) => setTimeout(res, 5));
    r.stop();
    expect(sinces.slice(0, 2)).toEqual([undefined, 5_400]);
    expect(seen).toEqual(['5100/a', '5400/b', '5400/c', '5400/d', '6000/a']);
  });

  it('lists on the clock port and reopens a dropped stream after a backoff that doubles', async () => {
    let lists = 0;
    let streams = 0;
    const engine = {
      name: 'local',
      async listSites() {
        lists++;
        return [];
      },
      async *events(opts: { signal?: AbortSignal }) {
        if (++streams <= 3) throw new Error('stream closed');
        await new Promise<void>((r) => opts.signal?.addEventListener('abort', () => r(), { once: true }));
      },
    } as unknown as Engine;
    const hosts = { names: () => ['local'], get: (h: string) => (h === 'local' ? engine : undefined) };
    const clock = new ManualClock();
    const r = new StateReconciler({
      hosts: hosts as unknown as HostRegistry,
      state: new LiveState({ hosts: ['local'], siteState }),
      logger: quiet,
      clock,
      statsIntervalMs: 0,
      intervalMs: 60_000,
      backoffMs: { initial: 500, max: 30_000 },
    });
    await r.start();
    await clock.advance(0);
    expect([lists, streams]).toEqual([1, 1]);
    await clock.advance(499);
    expect(streams).toBe(1);
    // Reopened after 500 ms, with a listing first (something may have changed meanwhile).
    await clock.advance(1);
    expect([lists, streams]).toEqual([2, 2]);
    await clock.advance(999);
    expect(streams).toBe(2);
    await clock.advance(1);
    expect(streams).toBe(3);
    await clock.advance(2000);
    expect([lists, streams]).toEqual([4, 4]);
    // The stream stays up now; the full listing comes on its own period (60 s after the first).
    await clock.advance(60_000 - 3501);
    expect(lists).toBe(4);
    await clock.advance(1);
    expect(lists).toBe(5);
    r.stop();
    expect(clock.pending).toBe(0);
  });
});
