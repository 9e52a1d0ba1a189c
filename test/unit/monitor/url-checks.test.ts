import { describe, expect, it } from 'vitest';
import { type AlertEffect, AlertEngine, type AlertSettings } from '../../../src/core/monitor.js';
import {
  checkProbeUrl,
  judgeAnswer,
  parseExpect,
  type UrlCheckResult,
  urlTargetsOf,
} from '../../../src/core/url-checks.js';

describe('URL check targets from labels', () => {
  it('takes the provisioned domain (https, or http on CADDY_SITE_PORT) and siteflow.url labels, deduplicated', () => {
    const containers: Array<{ name: string; labels: Record<string, string> }> = [
      {
        name: 'web',
        labels: {
          'siteflow.domain': 'blog.example.com',
          'siteflow.url': 'http://127.0.0.1:8080/health, https://blog.example.com/',
        },
      },
      { name: 'db', labels: { 'siteflow.url': 'http://127.0.0.1:8080/health' } },
    ];
    expect(urlTargetsOf(containers, null).targets.map((t) => [t.url, t.source])).toEqual([
      ['https://blog.example.com/', 'domain'],
      ['http://127.0.0.1:8080/health', 'label'],
    ]);
    expect(urlTargetsOf(containers, 8081).targets[0]!.url).toBe('http://blog.example.com:8081/');
  });

  it('rejects anything but http(s), credentials in URLs and bad expect/keyword labels, and says why', () => {
    const { targets, problems } = urlTargetsOf(
      [
        {
          name: 'web',
          labels: {
            'siteflow.url':
              'file:///etc/passwd,ftp://x/,https://user:pw@x.example/,not a url,http://ok.example/',
            'siteflow.url.expect': '2xx,abc',
            'siteflow.domain': 'Bad Domain',
          },
        },
      ],
      null,
    );
    expect(targets.map((t) => t.url)).toEqual(['http://ok.example/']);
    expect(problems.join('\n')).toMatch(/only http and https/);
    expect(problems.join('\n')).toMatch(/user or password/);
    expect(problems.join('\n')).toMatch(/not a URL/);
    expect(problems.join('\n')).toMatch(/not a list of status codes/);
    expect(problems.join('\n')).toMatch(/not a domain/);
    expect(problems.join('\n')).not.toMatch(/pw@/);
    expect(checkProbeUrl('javascript:alert(1)').ok).toBe(false);
  });

  it('judges status against expect (default below 400) and the keyword', () => {
    expect(parseExpect('200,301-302,5xx')).toEqual([
      [200, 200],
      [301, 302],
      [500, 599],
    ]);
    expect(parseExpect('600')).toBeNull();
    const any = { expect: [], keyword: null };
    expect(judgeAnswer(any, 302, '')).toBeNull();
    expect(judgeAnswer(any, 404, '')).toBe('answered 404');
    expect(judgeAnswer({ expect: [[404, 404]], keyword: null }, 404, '')).toBeNull();
    expect(judgeAnswer({ expect: [], keyword: 'Welcome' }, 200, 'hello')).toBe(
      'keyword "Welcome" missing from the page',
    );
    expect(judgeAnswer({ expect: [], keyword: 'Welcome' }, 200, '<h1>Welcome</h1>')).toBeNull();
  });
});

class FakeClock {
  t = 1_000_000;
  now() {
    return this.t;
  }
}

function setup(settings: Partial<AlertSettings> = {}) {
  const clock = new FakeClock();
  let n = 0;
  const engine = new AlertEngine(clock, { reminderMs: 0, ...settings }, { newId: () => `al_${++n}` });
  const effects: AlertEffect[] = [];
  const pump = () => {
    for (let i = 0; i < 10; i++) {
      const b = engine.drain();
      if (!b.length) return;
      effects.push(...b);
      for (const e of b) if (e.type === 'probe') engine.hostAnswered(e.host, true);
    }
  };
  const advance = (ms: number) => {
    for (let left = ms; left > 0; left -= 250) {
      clock.t += Math.min(250, left);
      engine.tick();
      pump();
    }
  };
  const posts = () => effects.filter((e) => e.type === 'alert' && e.post);
  const resolved = () => effects.filter((e) => e.type === 'alert' && e.change === 'resolved');
  engine.observeHost('local', true);
  const up = {
    state: 'up' as const,
    containers: [{ id: 'c1', name: 'web', status: 'up' as const, exitCode: null, restartPolicy: 'always' }],
  };
  engine.observeSite('local', 'blog', up);
  pump();
  return { clock, engine, effects, pump, advance, posts, resolved, up };
}

const check = (ok: boolean, extra: Partial<UrlCheckResult> = {}): UrlCheckResult => ({
  url: 'http://127.0.0.1:9/',
  ok,
  status: ok ? 200 : 404,
  latencyMs: 12,
  error: ok ? null : 'answered 404',
  at: 0,
  certificate: null,
  ...extra,
});

describe('AlertEngine: URL checks', () => {
  it('a failing URL past downAfter makes the site down (URL, status, latency in the alert); recovery once', () => {
    const h = setup({ downAfterMs: 2000, recoverAfterMs: 1000 });
    h.engine.urlChecks('local', 'blog', [check(false)]);
    h.pump();
    h.advance(1500);
    expect(h.posts()).toHaveLength(0);
    h.advance(1000);
    expect(h.posts()).toHaveLength(1);
    const a = (h.posts()[0] as { alert: { title: string; lines: string[]; severity: string } }).alert;
    expect(a.title).toBe('blog is down');
    expect(a.severity).toBe('critical');
    expect(a.lines.join('\n')).toContain('http://127.0.0.1:9/ answered 404 (12 ms)');
    h.engine.urlChecks('local', 'blog', [check(true)]);
    h.pump();
    h.advance(1500);
    expect(h.resolved()).toHaveLength(1);
    expect(h.posts()).toHaveLength(1);
  });

  it('containers and URL failing together are one incident', () => {
    const h = setup();
    h.engine.observeSite('local', 'blog', {
      state: 'down',
      containers: [{ ...h.up.containers[0]!, status: 'down', exitCode: 137 }],
    });
    h.pump();
    h.engine.urlChecks('local', 'blog', [check(false, { status: 502, error: 'answered 502' })]);
    h.pump();
    h.advance(1000);
    expect(h.posts()).toHaveLength(1);
    const replies = h.effects
      .filter((e) => e.type === 'alert' && e.reply)
      .map((e) => (e as { reply: string }).reply);
    expect(replies.join('\n')).toContain('URL failing: http://127.0.0.1:9/ answered 502');
  });

  it('is quiet while SiteFlow restarts the site: a note in the operation, no alert', () => {
    const h = setup({ actionGraceMs: 5000 });
    h.engine.intentStarted({
      operationId: 'op1',
      host: 'local',
      site: 'blog',
      kind: 'restart',
      actor: 'bob',
      startedAt: h.clock.t,
    });
    h.engine.urlChecks('local', 'blog', [check(false, { status: null, error: 'connection refused' })]);
    h.pump();
    h.advance(2000);
    h.engine.urlChecks('local', 'blog', [check(true)]);
    h.engine.intentEnded('op1');
    h.pump();
    h.advance(6000);
    expect(h.posts()).toHaveLength(0);
    const notes = h.effects.filter((e) => e.type === 'note');
    expect(notes).toHaveLength(1);
    expect((notes[0] as { text: string }).text).toMatch(
      /expected: http:\/\/127.0.0.1:9\/ connection refused \(12 ms\): restart by @bob/,
    );
  });
});

describe('AlertEngine: certificates', () => {
  const DAY = 86_400_000;
  it('alerts once at tlsWarnDays and again (critical) at 3 days; resolves after renewal', () => {
    const h = setup({ tlsWarnDays: 14 });
    const cert = (days: number) => ({
      domain: 'blog.example.com',
      validTo: h.clock.t + days * DAY + 3600_000,
      issuer: 'Test CA',
    });
    h.engine.certificateSeen('local', 'blog', 'blog.example.com', cert(20));
    h.pump();
    expect(h.posts()).toHaveLength(0);
    h.engine.certificateSeen('local', 'blog', 'blog.example.com', cert(14));
    h.engine.certificateSeen('local', 'blog', 'blog.example.com', cert(13));
    h.pump();
    expect(h.posts()).toHaveLength(1);
    const a = (h.posts()[0] as { alert: { title: string; lines: string[]; kind: string } }).alert;
    expect(a.kind).toBe('certificate');
    expect(a.title).toBe('Certificate of blog.example.com expires in 14 days');
    expect(a.lines.join(' ')).toContain('Issuer: Test CA');
    h.engine.certificateSeen('local', 'blog', 'blog.example.com', cert(3));
    h.engine.certificateSeen('local', 'blog', 'blog.example.com', cert(2));
    h.pump();
    const again = h.effects
      .filter((e) => e.type === 'alert' && e.reply)
      .map((e) => (e as { reply: string }).reply);
    expect(again).toEqual(['Certificate of blog.example.com expires in 3 days.']);
    h.engine.certificateSeen('local', 'blog', 'blog.example.com', cert(80));
    h.pump();
    expect(h.resolved()).toHaveLength(1);
  });
});

describe('URL check name lookup (RFC 6761 special-use names)', () => {
  it('answers *.localhost with loopback and *.invalid with not found, without asking DNS', async () => {
    const { specialUseLookup } = await import('../../../src/monitor/url-probe.js');
    const look = (name: string, all = false) =>
      new Promise<unknown>((resolve) =>
        specialUseLookup(name, { all }, (err, address) => resolve(err ? err.code : address)),
      );
    expect(await look('blog.localhost')).toBe('127.0.0.1');
    expect(await look('blog.localhost', true)).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(await look('shop.invalid')).toBe('ENOTFOUND');
  });
});

describe('AlertEngine: host disk', () => {
  const health = (percent: number) => ({
    host: 'local',
    at: 0,
    source: 'os' as const,
    disks: [
      {
        what: 'docker' as const,
        path: '/var/lib/docker',
        totalBytes: 100e9,
        usedBytes: percent * 1e9,
        percent,
      },
    ],
    memory: null,
    load: null,
    cpus: null,
    df: { images: 3, containers: 1, volumes: 0, imagesBytes: 5e9, prunableBytes: 2e9, reclaimableBytes: 3e9 },
    problems: [],
  });
  it('alerts once at HOST_DISK_ALERT_PERCENT and recovers below it', () => {
    const h = setup({ diskAlertPercent: 90 });
    h.engine.hostHealth(health(89));
    h.engine.hostHealth(health(91));
    h.engine.hostHealth(health(95));
    h.pump();
    expect(h.posts()).toHaveLength(1);
    const a = (h.posts()[0] as { alert: { kind: string; title: string; lines: string[] } }).alert;
    expect(a).toMatchObject({ kind: 'disk', title: 'Disk of local (Docker data root) is 91% full' });
    expect(a.lines.join(' ')).toContain('2.0 GB can be freed with /prune local');
    h.engine.hostHealth(health(70));
    h.pump();
    expect(h.resolved()).toHaveLength(1);
  });

  it('the data root and the site folder on one filesystem are one disk: one alert naming both', () => {
    const h = setup({ diskAlertPercent: 90 });
    const d = (what: 'docker' | 'sites', path: string, fsId: string) => ({
      what,
      path,
      totalBytes: 100e9,
      usedBytes: 95e9,
      percent: 95,
      fsId,
    });
    const both = {
      ...health(95),
      host: 'edge',
      source: 'ssh' as const,
      disks: [d('docker', '/var/lib/docker', 'mount:/'), d('sites', '/srv/sites', 'mount:/')],
    };
    h.engine.hostHealth(both);
    h.engine.hostHealth(both);
    h.pump();
    expect(h.posts()).toHaveLength(1);
    const a = (h.posts()[0] as { alert: { title: string; lines: string[] } }).alert;
    expect(a.title).toBe('Disk of edge (Docker data root) is 95% full');
    expect(a.lines).toContain('/srv/sites (site folders) is on the same disk.');
    // On two filesystems, each full one alerts.
    h.engine.hostHealth({ ...both, disks: [both.disks[0]!, d('sites', '/srv/sites', 'mount:/srv')] });
    h.pump();
    expect(h.posts()).toHaveLength(2);
    expect((h.posts()[1] as { alert: { title: string } }).alert.title).toBe(
      'Disk of edge (SITES_ROOTS) is 95% full',
    );
  });
});
