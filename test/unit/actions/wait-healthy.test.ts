import { describe, expect, it } from 'vitest';
import { freshVerdict } from '../../../src/actions/wait-healthy.js';
import type { ContainerInfo } from '../../../src/core/engine.js';

const now = 1_000_000;
function c(extra: Partial<ContainerInfo>): ContainerInfo {
  return {
    id: 'x',
    name: 'site-web-1',
    service: 'web',
    project: 'site',
    state: 'running',
    health: null,
    exitCode: null,
    restartCount: 0,
    restartPolicy: 'no',
    image: 'img:1',
    imageId: 'sha256:1',
    digest: null,
    createdAt: now - 10_000,
    startedAt: now - 1_000,
    finishedAt: null,
    ports: [],
    labels: {},
    status: 'up',
    ...extra,
  };
}

describe('freshVerdict: how a freshly created container is judged', () => {
  it('without a healthcheck it must run for the stable time without a restart', () => {
    expect(freshVerdict(c({}), now, 5000)).toBeNull();
    expect(freshVerdict(c({ startedAt: now - 6000 }), now, 5000)).toBe(true);
    expect(freshVerdict(c({ startedAt: now - 6000, restartCount: 1 }), now, 5000)).toBe(false);
  });
  it('an exit, a restart loop or unhealthy fails; a finished one-shot passes', () => {
    expect(freshVerdict(c({ state: 'exited', status: 'down', exitCode: 1 }), now, 5000)).toBe(false);
    expect(freshVerdict(c({ state: 'restarting', status: 'restarting' }), now, 5000)).toBe(false);
    expect(freshVerdict(c({ health: 'unhealthy', status: 'unhealthy' }), now, 5000)).toBe(false);
    expect(freshVerdict(c({ state: 'exited', status: 'completed', exitCode: 0 }), now, 5000)).toBe(true);
  });
  it('with a healthcheck only healthy passes; starting waits', () => {
    expect(freshVerdict(c({ health: 'starting', status: 'starting' }), now, 5000)).toBeNull();
    expect(freshVerdict(c({ health: 'healthy' }), now, 5000)).toBe(true);
  });
});
