import { describe, expect, it } from 'vitest';
import { settleWithin } from '../../../src/core/deadline.js';

describe('settleWithin', () => {
  it('gives each item its value, its error, or timeout, in order, without waiting for the hung one', async () => {
    const never = new Promise<number>(() => undefined);
    const t0 = Date.now();
    const out = await settleWithin(['ok', 'bad', 'hung', 'sync'], 200, async (k) => {
      if (k === 'ok') return 1;
      if (k === 'bad') throw new Error('boom');
      if (k === 'sync') return 2;
      return never;
    });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(out[0]).toEqual({ status: 'ok', value: 1 });
    expect(out[1]).toMatchObject({ status: 'failed' });
    expect((out[1] as { error: Error }).error.message).toBe('boom');
    expect(out[2]).toEqual({ status: 'timeout' });
    expect(out[3]).toEqual({ status: 'ok', value: 2 });
  });

  it('resolves as soon as every item settled, and at once for none', async () => {
    expect(await settleWithin([], 10_000, async () => 1)).toEqual([]);
    const t0 = Date.now();
    const out = await settleWithin([1, 2], 60_000, async (n) => n * 2);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(out).toEqual([
      { status: 'ok', value: 2 },
      { status: 'ok', value: 4 },
    ]);
  });

  it('a synchronous throw is that item failing', async () => {
    const out = await settleWithin([1], 1000, () => {
      throw new Error('sync');
    });
    expect(out[0]).toMatchObject({ status: 'failed' });
  });
});
