import { describe, expect, it } from 'vitest';
import type { ContainerStatus } from '../../../src/core/engine.js';
import {
  type InspectData,
  pickDigest,
  portsOf,
  toContainerInfo,
} from '../../../src/docker/container-info.js';
import { containerStatus, type StatusFacts, siteState } from '../../../src/docker/status.js';

const facts = (f: Partial<StatusFacts>): StatusFacts => ({
  state: 'running',
  health: null,
  exitCode: null,
  restartPolicy: 'unless-stopped',
  ...f,
});

describe('containerStatus', () => {
  it('running containers are up unless their healthcheck says otherwise', () => {
    expect(containerStatus(facts({}))).toBe('up');
    expect(containerStatus(facts({ health: 'healthy' }))).toBe('up');
    expect(containerStatus(facts({ health: 'starting' }))).toBe('starting');
    expect(containerStatus(facts({ health: 'unhealthy' }))).toBe('unhealthy');
  });

  it('a one-shot that exited 0 without an always-restart policy is completed', () => {
    for (const restartPolicy of ['no', '', 'on-failure']) {
      expect(containerStatus(facts({ state: 'exited', exitCode: 0, restartPolicy }))).toBe('completed');
    }
  });

  it('an exit that should not have happened is down', () => {
    expect(containerStatus(facts({ state: 'exited', exitCode: 1, restartPolicy: 'no' }))).toBe('down');
    expect(containerStatus(facts({ state: 'exited', exitCode: 137, restartPolicy: 'on-failure' }))).toBe(
      'down',
    );
    expect(containerStatus(facts({ state: 'exited', exitCode: 0, restartPolicy: 'always' }))).toBe('down');
    expect(containerStatus(facts({ state: 'exited', exitCode: 0, restartPolicy: 'unless-stopped' }))).toBe(
      'down',
    );
  });

  it('maps the other engine states', () => {
    expect(containerStatus(facts({ state: 'restarting' }))).toBe('restarting');
    expect(containerStatus(facts({ state: 'paused' }))).toBe('paused');
    for (const state of ['created', 'dead', 'removing'] as const)
      expect(containerStatus(facts({ state }))).toBe('down');
  });
});

describe('siteState', () => {
  const s = (...statuses: ContainerStatus[]) => statuses.map((status) => ({ status }));
  it('is up when everything runs or completed', () => {
    expect(siteState(s('up', 'completed', 'up'), true)).toBe('up');
    expect(siteState(s('completed'), true)).toBe('up');
  });
  it('is degraded when something runs and something does not', () => {
    expect(siteState(s('up', 'down'), true)).toBe('degraded');
    expect(siteState(s('up', 'unhealthy'), true)).toBe('degraded');
    expect(siteState(s('starting', 'completed'), true)).toBe('degraded');
    expect(siteState(s('unhealthy', 'restarting'), true)).toBe('degraded');
  });
  it('is down when nothing runs', () => {
    expect(siteState(s('down', 'completed'), true)).toBe('down');
    expect(siteState(s('restarting', 'down'), true)).toBe('down');
  });
  it('without containers: stopped with a compose file, else empty', () => {
    expect(siteState([], true)).toBe('stopped');
    expect(siteState([], false)).toBe('empty');
  });
});

const inspect = (over: Partial<InspectData> = {}): InspectData => ({
  Id: 'abc123',
  Name: '/blog-web-1',
  Created: '2026-01-02T03:04:05.5Z',
  Image: 'sha256:img',
  RestartCount: 2,
  State: {
    Status: 'exited',
    ExitCode: 0,
    StartedAt: '2026-01-02T03:04:06Z',
    FinishedAt: '2026-01-02T03:04:07Z',
  },
  Config: {
    Image: 'registry.local/blog/web:1',
    Labels: { 'com.docker.compose.project': 'blog', 'com.docker.compose.service': 'init', other: 'x' },
    Env: ['DB_PASSWORD=hunter2'],
  },
  HostConfig: { RestartPolicy: { Name: 'no' } },
  NetworkSettings: {
    Ports: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '53/udp': null },
  },
  ...over,
});

describe('toContainerInfo', () => {
  it('maps inspect data, classifies, and never carries the environment', () => {
    const c = toContainerInfo(inspect(), 'sha256:dd');
    expect(c).toEqual({
      id: 'abc123',
      name: 'blog-web-1',
      service: 'init',
      project: 'blog',
      state: 'exited',
      health: null,
      exitCode: 0,
      restartCount: 2,
      restartPolicy: 'no',
      image: 'registry.local/blog/web:1',
      imageId: 'sha256:img',
      digest: 'sha256:dd',
      createdAt: Date.parse('2026-01-02T03:04:05.5Z'),
      startedAt: Date.parse('2026-01-02T03:04:06Z'),
      finishedAt: Date.parse('2026-01-02T03:04:07Z'),
      ports: [
        { host: null, hostPort: null, containerPort: 53, protocol: 'udp' },
        { host: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      ],
      labels: { 'com.docker.compose.project': 'blog', 'com.docker.compose.service': 'init', other: 'x' },
      status: 'completed',
      oomKilled: false,
      memoryLimitBytes: null,
      healthOutput: null,
    });
    expect(JSON.stringify(c)).not.toContain('hunter2');
  });

  it('treats Docker zero times as null and hides the exit code of a never-run container', () => {
    const c = toContainerInfo(
      inspect({
        State: {
          Status: 'created',
          ExitCode: 0,
          StartedAt: '0001-01-01T00:00:00Z',
          FinishedAt: '0001-01-01T00:00:00Z',
        },
        HostConfig: { RestartPolicy: { Name: '' } },
      }),
      null,
    );
    expect([c.startedAt, c.finishedAt, c.exitCode, c.restartPolicy, c.status]).toEqual([
      null,
      null,
      null,
      'no',
      'down',
    ]);
  });

  it('reads health', () => {
    const c = toContainerInfo(
      inspect({
        State: { Status: 'running', Health: { Status: 'unhealthy' }, StartedAt: '2026-01-02T03:04:06Z' },
      }),
      null,
    );
    expect([c.health, c.status]).toEqual(['unhealthy', 'unhealthy']);
  });
});

describe('pickDigest / portsOf', () => {
  const d1 = `sha256:${'1'.repeat(64)}`;
  const d2 = `sha256:${'2'.repeat(64)}`;
  it('picks the RepoDigest of the reference repository', () => {
    const digests = [`127.0.0.1:5000/a/b@${d1}`, `a/b@${d2}`];
    expect(pickDigest(digests, '127.0.0.1:5000/a/b:1')).toBe(d1);
    expect(pickDigest(digests, 'a/b:latest')).toBe(d2);
    expect(pickDigest([`nginx@${d1}`], 'docker.io/library/nginx:1.27')).toBe(d1);
    expect(pickDigest([`x/y@${d1}`], 'other:1')).toBe(d1);
    expect(pickDigest([], 'a:1')).toBeNull();
    expect(pickDigest(null, 'a:1')).toBeNull();
    expect(pickDigest([], `a@${d2}`)).toBe(d2);
  });
  it('lists published and exposed ports', () => {
    expect(
      portsOf({
        '443/tcp': [
          { HostIp: '0.0.0.0', HostPort: '443' },
          { HostIp: '::', HostPort: '443' },
        ],
      }),
    ).toEqual([
      { host: '::', hostPort: 443, containerPort: 443, protocol: 'tcp' },
      { host: '0.0.0.0', hostPort: 443, containerPort: 443, protocol: 'tcp' },
    ]);
    expect(portsOf(null)).toEqual([]);
  });
});

describe('toContainerInfo crash facts', () => {
  it('reads OOMKilled, the memory limit and the newest failed healthcheck output', () => {
    const c = toContainerInfo(
      {
        Id: 'x',
        Name: '/shop-web-1',
        Created: '2026-01-02T03:04:05Z',
        Image: 'sha256:i',
        State: {
          Status: 'exited',
          ExitCode: 137,
          FinishedAt: '2026-01-02T03:05:05Z',
          OOMKilled: true,
          Health: {
            Status: 'unhealthy',
            Log: [
              { ExitCode: 1, Output: 'old failure' },
              { ExitCode: 1, Output: 'curl: (7) Failed to connect\n' },
              { ExitCode: 0, Output: 'ok' },
            ],
          },
        },
        Config: { Labels: {} },
        HostConfig: { Memory: 16 * 1024 * 1024 },
      },
      null,
    );
    expect([c.oomKilled, c.memoryLimitBytes, c.healthOutput]).toEqual([
      true,
      16 * 1024 * 1024,
      'curl: (7) Failed to connect',
    ]);
  });
});
