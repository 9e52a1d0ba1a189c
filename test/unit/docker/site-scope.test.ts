import { describe, expect, it } from 'vitest';
import type { ContainerEvent, ContainerInfo, SiteInfo } from '../../../src/core/engine.js';
import { SiteScope } from '../../../src/docker/site-scope.js';

const WD = 'com.docker.compose.project.working_dir';
const FILES = 'com.docker.compose.project.config_files';
const SVC = 'com.docker.compose.service';

function site(name: string, labels: Array<Record<string, string>>): SiteInfo {
  return {
    host: 'local',
    name,
    projectDir: null,
    composeFiles: [],
    state: 'up',
    containers: labels.map((l, i) => ({ id: `c${i}`, labels: l }) as unknown as ContainerInfo),
  };
}

function event(project: string, labels: Record<string, string>): ContainerEvent {
  return {
    at: 0,
    action: 'die',
    containerId: 'x',
    name: 'x',
    project,
    service: 'web',
    image: 'i',
    exitCode: 1,
    health: null,
    labels,
  };
}

function capture() {
  const lines: Array<{ level: string; obj: unknown; msg?: string }> = [];
  const logger = {
    debug: (obj: unknown, msg?: string) => lines.push({ level: 'debug', obj, msg }),
    info: (obj: unknown, msg?: string) => lines.push({ level: 'info', obj, msg }),
    warn: (obj: unknown, msg?: string) => lines.push({ level: 'warn', obj, msg }),
    error: (obj: unknown, msg?: string) => lines.push({ level: 'error', obj, msg }),
    child: () => logger,
  };
  return { lines, logger };
}

describe('SiteScope', () => {
  const scope = new SiteScope({ mode: 'managed', sitesRoot: '/srv/sites' });

  it('manages projects under SITES_ROOT or labelled siteflow.manage=true, nothing else', () => {
    expect(scope.verdict('blog', [{ [WD]: '/srv/sites/blog' }]).ok).toBe(true);
    expect(scope.verdict('blog', [{ [WD]: '/srv/sites/deep/blog' }]).ok).toBe(true);
    expect(scope.verdict('db', [{ [WD]: '/opt/db' }])).toMatchObject({ ok: false, invalid: false });
    expect(scope.verdict('db', [{ [WD]: '/srv/sites-other/db' }]).ok).toBe(false);
    expect(scope.verdict('root', [{ [WD]: '/srv/sites' }]).ok).toBe(false);
    expect(
      scope.verdict('db', [{ [WD]: '/opt/db' }, { [WD]: '/opt/db', 'siteflow.manage': 'true' }]).ok,
    ).toBe(true);
    expect(scope.verdict('db', [{ [WD]: '/opt/db', 'siteflow.manage': 'yes' }]).ok).toBe(false);
    const all = new SiteScope({ mode: 'all', sitesRoot: '/srv/sites' });
    expect(all.verdict('db', [{ [WD]: '/opt/db' }]).ok).toBe(true);
  });

  it('skips projects whose labels fail the chat-input validators, in every mode', () => {
    const all = new SiteScope({ mode: 'all', sitesRoot: null });
    const bad = (project: string, labels: Record<string, string>) => {
      const v = all.verdict(project, [labels]);
      expect(v.ok, `${project} ${JSON.stringify(labels)}`).toBe(false);
      return v;
    };
    expect(bad('Bad Name', {})).toMatchObject({ invalid: true, reason: expect.stringMatching(/site name/) });
    bad('../etc', {});
    bad('ok', { [SVC]: 'web;rm -rf' });
    bad('ok', { [WD]: 'relative/dir' });
    bad('ok', { [WD]: '/srv/sites/../../etc' });
    bad('ok', { [WD]: '/srv/x\nimport evil' });
    bad('ok', { [WD]: '/srv/x', [FILES]: '/etc/passwd' });
    bad('ok', { [WD]: '/srv/x', [FILES]: '../y/docker-compose.yml' });
    bad('ok', { [FILES]: 'docker-compose.yml' });
    expect(all.verdict('ok', [{ [WD]: '/a' }, { [WD]: '/b' }])).toMatchObject({ ok: false, invalid: true });
    expect(all.verdict('ok', [{ [WD]: '/srv/x', [FILES]: '/srv/x/a.yml,b.yml', [SVC]: 'web.1' }]).ok).toBe(
      true,
    );
  });

  it('filters a listing, keeps folder-only sites, and logs each skip once with its reason', () => {
    const { lines, logger } = capture();
    const s = new SiteScope({ mode: 'managed', sitesRoot: '/srv/sites', logger });
    const listing = [
      site('blog', [{ [WD]: '/srv/sites/blog' }]),
      site('caddy', [{ [WD]: '/opt/caddy' }]),
      site('evil', [{ [WD]: '/srv/sites/evil', [FILES]: '/etc/shadow' }]),
      site('stopped', []),
    ];
    expect(s.sites('local', listing).map((x) => x.name)).toEqual(['blog', 'stopped']);
    expect(s.sites('local', listing).map((x) => x.name)).toEqual(['blog', 'stopped']);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([
      {
        level: 'warn',
        obj: { host: 'local', project: 'evil', reason: 'a compose file label points outside its folder' },
        msg: 'compose project skipped: its labels fail validation',
      },
    ]);
    expect(lines.filter((l) => l.level === 'debug')).toHaveLength(1);
    expect(JSON.stringify(lines)).toContain('caddy');
  });

  it('lets events through only for managed projects (also unlabelled containers of a labelled project)', () => {
    const s = new SiteScope({ mode: 'managed', sitesRoot: '/srv/sites' });
    expect(s.event('local', event('blog', { [WD]: '/srv/sites/blog' }))).toBe(true);
    expect(s.event('local', event('db', { [WD]: '/opt/db' }))).toBe(false);
    expect(s.event('local', event('db', { [WD]: '/opt/db', 'siteflow.manage': 'true' }))).toBe(true);
    s.sites('local', [site('app', [{ [WD]: '/opt/app' }, { [WD]: '/opt/app', 'siteflow.manage': 'true' }])]);
    expect(s.event('local', event('app', { [WD]: '/opt/app' }))).toBe(true);
    expect(s.event('other', event('app', { [WD]: '/opt/app' }))).toBe(false);
    expect(s.event('local', event('Bad', { 'siteflow.manage': 'true' }))).toBe(false);
    expect(s.event('local', { ...event('x', {}), project: null })).toBe(true);
  });
});
