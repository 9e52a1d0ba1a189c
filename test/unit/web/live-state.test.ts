import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ContainerInfo, SiteInfo } from '../../../src/core/engine.js';
import { LiveState, type StateChange } from '../../../src/core/live-state.js';
import { siteState } from '../../../src/docker/status.js';
import { findViewsFolder } from '../../../src/web/templates.js';

const c = (id: string, project: string, running = true): ContainerInfo => ({
  id,
  name: `${project}-${id}`,
  service: id,
  project,
  state: running ? 'running' : 'exited',
  health: null,
  exitCode: running ? null : 137,
  restartCount: 0,
  restartPolicy: 'always',
  image: 'img:1',
  imageId: 'sha256:0',
  digest: null,
  createdAt: 0,
  startedAt: 1,
  finishedAt: null,
  ports: [],
  labels: {},
  status: running ? 'up' : 'down',
});
const site = (name: string, containers: ContainerInfo[]): SiteInfo => ({
  host: 'local',
  name,
  projectDir: null,
  composeFiles: [],
  containers,
  state: 'up',
});

describe('LiveState', () => {
  it('bumps the version only on real changes and says what changed', () => {
    const live = new LiveState({ hosts: ['local'], siteState });
    const changes: StateChange[] = [];
    live.subscribe((ch) => changes.push(ch));
    live.replaceHostSites('local', [site('blog', [c('a', 'blog'), c('b', 'blog')])]);
    const v1 = live.version;
    expect(changes.at(-1)).toMatchObject({ sites: ['local/blog'], structural: true });
    const snap = live.snapshot();
    expect(live.snapshot()).toBe(snap);
    expect(Object.isFrozen(snap.hosts[0]!.sites[0])).toBe(true);
    live.replaceHostSites('local', [site('blog', [c('b', 'blog'), c('a', 'blog')])]);
    expect(live.version).toBe(v1);
    live.putContainer('local', c('a', 'blog', false));
    expect(live.version).toBe(v1 + 1);
    expect(changes.at(-1)).toMatchObject({ sites: ['local/blog'], structural: false });
    expect(live.site('local', 'blog')!.state).toBe('degraded');
    expect(live.snapshot()).not.toBe(snap);
    expect(snap.hosts[0]!.sites[0]!.state).toBe('up');
  });

  it('keeps stats and backup slots across listings; removes gone sites and containers', () => {
    const live = new LiveState({ siteState });
    live.replaceHostSites('local', [site('blog', [c('a', 'blog')]), site('shop', [c('s', 'shop')])]);
    live.setStats('local', [
      {
        containerId: 'a',
        stats: { cpuPercent: 5, memoryBytes: 1, memoryLimitBytes: 2, memoryPercent: 50, at: 9 },
      },
    ]);
    live.setBackup('local', 'blog', {
      state: 'fresh',
      newestAt: 1,
      sizeBytes: 10,
      checkedAt: 2,
      message: null,
    });
    live.replaceHostSites('local', [site('blog', [c('a', 'blog')]), site('shop', [c('s', 'shop')])]);
    const blog = live.site('local', 'blog')!;
    expect(blog.containers[0]!.stats?.cpuPercent).toBe(5);
    expect(blog.backup?.state).toBe('fresh');
    live.removeContainer('local', 's');
    expect(live.site('local', 'shop')).toBeUndefined();
    live.setHostReachability('local', false, 'gone');
    expect(live.snapshot().hosts[0]).toMatchObject({ reachable: false, reason: 'gone' });
  });
});

describe('templates', () => {
  it('never use a triple-stash (every value is escaped)', () => {
    const dir = findViewsFolder();
    for (const sub of ['pages', 'partials']) {
      for (const f of readdirSync(join(dir, sub))) {
        expect(readFileSync(join(dir, sub, f), 'utf8'), `${sub}/${f}`).not.toContain('{{{');
      }
    }
  });

  it('keeps no sample of a container removed while it was being sampled', () => {
    const live = new LiveState({ hosts: ['local'], siteState });
    live.replaceHostSites('local', [site('blog', [c('web', 'blog')])]);
    const sample = { at: 1, cpuPercent: 1, memoryBytes: 1, memoryLimitBytes: 2, memoryPercent: 50 };
    // The sampler read `gone` before it was destroyed; its sample arrives after the removal.
    live.setStats('local', [
      { containerId: 'web', stats: sample },
      { containerId: 'gone', stats: sample },
    ]);
    const stats = (live as unknown as { stats: Map<string, unknown> }).stats;
    expect([...stats.keys()]).toEqual(['local/web']);
    // And a container that then appears under that id starts without the stale sample.
    live.putContainer('local', c('gone', 'blog'));
    const gone = live.site('local', 'blog')!.containers.find((x) => x.id === 'gone')!;
    expect(gone.stats).toBeNull();
  });
});
