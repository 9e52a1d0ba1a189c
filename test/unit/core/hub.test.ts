import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { OutputHub } from '../../../src/core/hub.js';
import type { RunEvent } from '../../../src/core/run-events.js';

const line = (text: string, at = 0): RunEvent => ({ type: 'line', stream: 'stdout', text, at });
const progress = (key: string, text: string): RunEvent => ({ type: 'progress', key, text, at: 0 });
const end: RunEvent = { type: 'end', status: 'succeeded', exitCode: 0, error: null, durationMs: 5, at: 0 };

async function collect(it: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

const texts = (evs: RunEvent[]) => evs.map((e) => (e.type === 'line' ? e.text : `<${e.type}>`));

describe('OutputHub', () => {
  it('multicasts every event to every subscriber, in order, and ends after end', async () => {
    const hub = new OutputHub();
    hub.open('r1');
    const a = collect(hub.subscribe('r1'));
    const b = collect(hub.subscribe('r1'));
    for (let i = 0; i < 10; i++) hub.publish('r1', line(`l${i}`));
    hub.publish('r1', end);
    const expected = [...Array.from({ length: 10 }, (_, i) => `l${i}`), '<end>'];
    expect(texts(await a)).toEqual(expected);
    expect(texts(await b)).toEqual(expected);
    expect(hub.stats().subscribers).toBe(0);
  });

  it('replays the buffer to a late subscriber, with a skipped marker when the start fell out', async () => {
    const hub = new OutputHub({ bufferSize: 5, queueSize: 100 });
    for (let i = 0; i < 3; i++) hub.publish('r', line(`l${i}`));
    const early = hub.subscribe('r');
    for (let i = 3; i < 8; i++) hub.publish('r', line(`l${i}`));
    const late = hub.subscribe('r');
    hub.publish('r', line('l8'));
    hub.publish('r', end);
    expect(texts(await collect(early))).toEqual([...Array.from({ length: 9 }, (_, i) => `l${i}`), '<end>']);
    const got = await collect(late);
    expect(got[0]).toMatchObject({ type: 'skipped', lines: 3 });
    expect(texts(got.slice(1))).toEqual(['l3', 'l4', 'l5', 'l6', 'l7', 'l8', '<end>']);
  });

  it('replays a finished run, including its end, until it is retired', async () => {
    const hub = new OutputHub({ retainFinished: 1 });
    hub.publish('a', line('from a'));
    hub.publish('a', end);
    expect(texts(await collect(hub.subscribe('a')))).toEqual(['from a', '<end>']);
    hub.publish('b', end);
    expect(hub.has('a')).toBe(false);
    expect(await collect(hub.subscribe('a'))).toEqual([]);
    // Events after the end are ignored.
    hub.publish('b', line('late'));
    expect(texts(await collect(hub.subscribe('b')))).toEqual(['<end>']);
  });

  it('coalesces progress by key in the replay buffer and in a waiting queue', async () => {
    const hub = new OutputHub({ bufferSize: 10, queueSize: 10 });
    hub.publish('r', progress('img-a', 'pulling 10%'));
    hub.publish('r', progress('img-b', 'pulling 5%'));
    hub.publish('r', line('between'));
    hub.publish('r', progress('img-a', 'pulling 90%'));
    const late = hub.subscribe('r');
    hub.publish('r', progress('img-b', 'done'));
    hub.publish('r', end);
    const got = await collect(late);
    expect(got.map((e) => (e.type === 'progress' ? `${e.key}=${e.text}` : texts([e])[0]))).toEqual([
      'img-a=pulling 90%',
      'img-b=done',
      'between',
      '<end>',
    ]);
  });

  it('a slow subscriber skips ahead with one marker per gap; the fast one gets every line; memory stays bounded', async () => {
    const queueSize = 50;
    const hub = new OutputHub({ bufferSize: 100, queueSize });
    hub.open('r');
    const fast = collect(hub.subscribe('r'));
    const slowSub = hub.subscribe('r');
    const slowGot: RunEvent[] = [];
    let maxPending = 0;
    const slow = (async () => {
      for await (const ev of slowSub) {
        slowGot.push(ev);
        await new Promise((r) => setTimeout(r, 1));
      }
    })();

    const total = 5000;
    for (let i = 0; i < total; i++) {
      // publish is synchronous: it returns nothing to await.
      expect(hub.publish('r', line(`l${i}`))).toBeUndefined();
      maxPending = Math.max(maxPending, slowSub.pending);
      // Output arrives in chunks, like data events of a process pipe.
      if (i % 25 === 24) await tick();
    }
    hub.publish('r', end);
    const fastGot = await fast;
    await slow;

    expect(texts(fastGot)).toEqual([...Array.from({ length: total }, (_, i) => `l${i}`), '<end>']);
    expect(maxPending).toBeLessThanOrEqual(queueSize + 1);
    const skipped = slowGot.filter((e) => e.type === 'skipped');
    const lines = slowGot.filter((e) => e.type === 'line');
    expect(skipped.length).toBeGreaterThan(0);
    expect(slowGot.at(-1)?.type).toBe('end');
    // Every line is either delivered or counted by a marker; delivered ones stay in order.
    const skippedLines = skipped.reduce((n, e) => n + (e.type === 'skipped' ? e.lines : 0), 0);
    expect(lines.length + skippedLines).toBe(total);
    const idx = lines.map((e) => Number((e as { text: string }).text.slice(1)));
    expect(idx).toEqual([...idx].sort((x, y) => x - y));
    // No two markers in a row: a gap is reported once.
    for (let i = 1; i < slowGot.length; i++) {
      expect(slowGot[i - 1]!.type === 'skipped' && slowGot[i]!.type === 'skipped').toBe(false);
    }
  });

  it('removes a subscriber that breaks out of its loop', async () => {
    const hub = new OutputHub();
    hub.publish('r', line('one'));
    const sub = hub.subscribe('r');
    expect(hub.stats().subscribers).toBe(1);
    for await (const ev of sub) {
      expect(ev).toMatchObject({ text: 'one' });
      break;
    }
    expect(hub.stats().subscribers).toBe(0);
    hub.publish('r', line('two'));
    expect(sub.pending).toBe(0);
    expect(await sub.next()).toEqual({ value: undefined, done: true });
  });

  it('a waiting subscriber wakes up on the next event and close() ends it', async () => {
    const hub = new OutputHub();
    hub.open('r');
    const sub = hub.subscribe('r');
    const first = sub.next();
    hub.publish('r', line('x'));
    expect(await first).toMatchObject({ done: false, value: { text: 'x' } });
    const second = sub.next();
    sub.close();
    expect(await second).toEqual({ value: undefined, done: true });
  });

  it('onAny sees every event of every run until unsubscribed; a throwing listener does not hurt', () => {
    const hub = new OutputHub();
    const seen: string[] = [];
    const off = hub.onAny((id, ev) => seen.push(`${id}:${ev.type}`));
    const offBad = hub.onAny(() => {
      throw new Error('listener bug');
    });
    hub.publish('a', line('1'));
    hub.publish('b', progress('k', 'v'));
    off();
    hub.publish('a', end);
    offBad();
    expect(seen).toEqual(['a:line', 'b:progress']);
  });

  it('forgets finished runs after retainMs', async () => {
    const hub = new OutputHub({ retainMs: 20 });
    hub.publish('r', end);
    expect(hub.has('r')).toBe(true);
    await new Promise((r) => setTimeout(r, 60));
    expect(hub.has('r')).toBe(false);
  });
});
