import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AcksFirst } from '../../../src/chat/acks-first.js';

/** A response that is answered when the test says so. */
function response(): EventEmitter & { answer(): void } {
  const e = new EventEmitter();
  return Object.assign(e, { answer: () => e.emit('close') });
}

/** Resolves after `n` turns of the event loop (poll and check phases), not after a time. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe('AcksFirst', () => {
  it('starts work only once every request received so far is answered', async () => {
    const acks = new AcksFirst(60_000);
    const a = response();
    const b = response();
    acks.received(a);
    acks.received(b);
    const ran: string[] = [];
    const job = acks.later(async () => {
      ran.push('work');
      return 7;
    });
    await turns(5);
    a.answer();
    await turns(5);
    expect(ran).toEqual([]);
    expect(acks.unanswered).toBe(1);
    b.answer();
    await expect(job).resolves.toBe(7);
    expect(ran).toEqual(['work']);
  });

  it('starts one job per turn, so a request read between two jobs is answered before the next', async () => {
    const acks = new AcksFirst(60_000);
    const late = response();
    const ran: string[] = [];
    const first = acks.later(async () => {
      ran.push('first');
      // A request read off its socket after the first job started.
      acks.received(late);
    });
    const second = acks.later(async () => {
      ran.push('second');
    });
    await first;
    await turns(5);
    expect(ran).toEqual(['first']);
    late.answer();
    await second;
    expect(ran).toEqual(['first', 'second']);
  });

  it('does not hold work back longer than its limit when a request is never answered', async () => {
    const acks = new AcksFirst(40);
    acks.received(response());
    const t0 = performance.now();
    await acks.later(async () => {});
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
    expect(acks.unanswered).toBe(1);
  });

  it('counts an acknowledgement call (Discord’s deferReply) until it settles, and passes its outcome on', async () => {
    const acks = new AcksFirst(60_000);
    let done!: (v: string) => void;
    let fail!: (e: Error) => void;
    const ack = acks.acknowledging(new Promise<string>((r) => (done = r)));
    const bad = acks.acknowledging(new Promise<string>((_, r) => (fail = r)));
    expect(acks.unanswered).toBe(2);
    const ran: string[] = [];
    const after = acks.settled().then(() => ran.push('work'));
    await turns(5);
    done('acked');
    await expect(ack).resolves.toBe('acked');
    await turns(5);
    expect(ran).toEqual([]);
    fail(new Error('401'));
    await expect(bad).rejects.toThrow('401');
    await after;
    expect(ran).toEqual(['work']);
    expect(acks.unanswered).toBe(0);
  });

  it('passes a failing job’s error on and goes on with the next', async () => {
    const acks = new AcksFirst();
    const bad = acks.later(async () => {
      throw new Error('boom');
    });
    const good = acks.later(async () => 'ok');
    await expect(bad).rejects.toThrow('boom');
    await expect(good).resolves.toBe('ok');
  });
});
