import { describe, expect, it } from 'vitest';
import type { Operation } from '../../../src/core/ports.js';
import { stoppedBy } from '../../../src/core/stopped.js';

let t = 0;
function op(kind: string, status: Operation['status'], args: Record<string, unknown> = {}): Operation {
  t += 1;
  return {
    id: `op_${t}`,
    kind,
    host: 'local',
    site: 'blog',
    args,
    requestedBy: { platform: 'console', id: 'u1', name: 'ann' },
    status,
    createdAt: t,
    logPath: null,
    startedAt: t,
    finishedAt: t,
    exitCode: 0,
    error: null,
    outputTail: null,
    output: null,
  };
}
/** Newest first, as OperationStore.list returns them. */
const store = (ops: Operation[]) => ({ list: () => [...ops].reverse() });

describe('stoppedBy: a site stopped on purpose, from the operation history', () => {
  it('is the last successful stop, until a start, up, restart or pull succeeds', () => {
    expect(stoppedBy(store([op('stop', 'succeeded')]), 'local', 'blog')).toMatchObject({
      by: 'ann',
      service: null,
    });
    expect(stoppedBy(store([op('stop', 'succeeded'), op('logs', 'succeeded')]), 'local', 'blog')?.by).toBe(
      'ann',
    );
    expect(stoppedBy(store([op('stop', 'succeeded'), op('start', 'succeeded')]), 'local', 'blog')).toBeNull();
    expect(stoppedBy(store([op('stop', 'succeeded'), op('up', 'failed')]), 'local', 'blog')).toBeNull();
    expect(stoppedBy(store([op('stop', 'succeeded'), op('start', 'failed')]), 'local', 'blog')?.by).toBe(
      'ann',
    );
    expect(stoppedBy(store([op('stop', 'failed')]), 'local', 'blog')).toBeNull();
    expect(stoppedBy(store([op('stop', 'succeeded', { service: 'web' })]), 'local', 'blog')?.service).toBe(
      'web',
    );
    expect(stoppedBy(store([]), 'local', 'blog')).toBeNull();
  });
});
