/**
 * Resource rules (`siteflow.alerts.cpu=90%/5m`, `siteflow.alerts.memory=90%/5m`) in the pure
 * alert engine, on a fake clock: usage above the threshold for the whole window opens one
 * `resource` alert, a spike does not, one recovery after it is below for the recover time;
 * the label values are validated.
 */
import { describe, expect, it } from 'vitest';
import { labelResourceRule, type ResourceRule } from '../../../src/core/alert-labels.js';
import { routeChannels, routeSubject } from '../../../src/core/alert-routes.js';
import { type AlertEffect, AlertEngine, type ResourceSample } from '../../../src/core/monitor.js';
import { parseAlertRoutes } from '../../../src/monitor/alert-routes-file.js';

class FakeClock {
  t = 1_000_000;
  now() {
    return this.t;
  }
}

const cpu50: ResourceRule = { percent: 50, windowMs: 10_000 };

function setup(settings: { recoverAfterMs?: number } = {}) {
  const clock = new FakeClock();
  let n = 0;
  const engine = new AlertEngine(
    clock,
    { reminderMs: 0, recoverAfterMs: 5_000, ...settings },
    { newId: () => `al_${++n}` },
  );
  const effects: AlertEffect[] = [];
  let at = 0;
  /** One sampling round every `every` ms: the engine gets the site's samples, as the monitor hands them. */
  const sample = (percent: number | null, opts: { rule?: ResourceRule; metric?: 'cpu' | 'memory' } = {}) => {
    const s: ResourceSample = {
      container: 'hot-web-1',
      metric: opts.metric ?? 'cpu',
      rule: opts.rule ?? cpu50,
      percent,
      at: percent === null ? null : ++at,
    };
    engine.resourceSamples('local', 'hot', [s]);
    effects.push(...engine.drain());
  };
  const every = (ms: number, values: Array<number | null>) => {
    for (const v of values) {
      clock.t += ms;
      sample(v);
    }
  };
  const alerts = (change: string) =>
    effects.filter(
      (e): e is Extract<AlertEffect, { type: 'alert' }> => e.type === 'alert' && e.change === change,
    );
  return { clock, engine, sample, every, alerts, effects };
}

describe('resource rules', () => {
  it('usage above the threshold for the whole window opens one resource alert, routed as kind resource', () => {
    const t = setup();
    t.sample(99);
    t.every(2000, [98, 97, 99, 100]); // 8 s above: not yet
    expect(t.alerts('opened')).toHaveLength(0);
    t.every(2000, [99]); // 10 s above
    const opened = t.alerts('opened');
    expect(opened).toHaveLength(1);
    const a = opened[0]!.alert;
    expect(opened[0]!.post).toBe(true);
    expect(a.kind).toBe('resource');
    expect(a.site).toBe('hot');
    expect(a.title).toBe('hot-web-1 CPU above 50% for 10s');
    expect(a.lines[0]).toContain('CPU 99% now, peak 100%');
    expect(a.openedAt).toBe(1_000_000);
    expect(routeSubject(a).kind).toBe('resource');
    // Staying above changes nothing: one alert, not one per sample.
    t.every(2000, [99, 99, 99, 99]);
    expect(t.alerts('opened')).toHaveLength(1);
  });

  it('a spike (one sample below in the window) starts the window over: no alert', () => {
    const t = setup();
    t.sample(99);
    t.every(2000, [99, 99, 99, 10, 99, 99, 99, 99]);
    expect(t.alerts('opened')).toHaveLength(0);
    t.every(2000, [99]); // 8 s above since the dip
    expect(t.alerts('opened')).toHaveLength(0);
    t.every(2000, [99]); // 10 s
    expect(t.alerts('opened')).toHaveLength(1);
  });

  it('exactly at the threshold is not above it', () => {
    const t = setup();
    t.sample(50);
    t.every(2000, Array(10).fill(50));
    expect(t.alerts('opened')).toHaveLength(0);
  });

  it('recovers once, after the usage is below for the recover time; a dip shorter than that does not', () => {
    const t = setup({ recoverAfterMs: 5_000 });
    t.sample(99);
    t.every(2000, [99, 99, 99, 99, 99]);
    expect(t.alerts('opened')).toHaveLength(1);
    t.every(2000, [5, 5, 99]); // below for 2 s only
    expect(t.alerts('resolved')).toHaveLength(0);
    t.every(2000, [5, 5, 5]);
    expect(t.alerts('resolved')).toHaveLength(0); // 4 s below
    t.every(2000, [5]); // 6 s below
    const resolved = t.alerts('resolved');
    expect(resolved).toHaveLength(1);
    expect(resolved[0]!.reply).toMatch(/hot-web-1 CPU is back below 50% \(5%\) after/);
    t.every(2000, [5, 5, 5]);
    expect(t.alerts('resolved')).toHaveLength(1);
    expect(t.engine.openAlerts()).toHaveLength(0);
  });

  it('a repeated sample (the same engine reading) does not count as time above', () => {
    const t = setup();
    t.sample(99);
    // The site changed for other reasons 20 s long; no new sample was taken.
    const s: ResourceSample = { container: 'hot-web-1', metric: 'cpu', rule: cpu50, percent: 99, at: 1 };
    for (let i = 0; i < 10; i++) {
      t.clock.t += 2000;
      t.engine.resourceSamples('local', 'hot', [s]);
    }
    // The next real sample is above: the window counts from the first one (samples at 0 and now).
    expect(t.engine.drain().filter((e) => e.type === 'alert')).toHaveLength(0);
    t.sample(99);
    expect(t.alerts('opened')).toHaveLength(1);
  });

  it('a container that stops counts as below; one removed (or whose rule is gone) resolves its alert', () => {
    const t = setup({ recoverAfterMs: 0 });
    t.sample(99);
    t.every(5000, [99, 99]);
    expect(t.alerts('opened')).toHaveLength(1);
    t.every(5000, [null]);
    expect(t.alerts('resolved')).toHaveLength(1);
    expect(t.alerts('resolved')[0]!.reply).toContain('(not running)');
    t.every(5000, [99, 99, 99]);
    expect(t.alerts('opened')).toHaveLength(2);
    t.clock.t += 1000;
    t.engine.resourceSamples('local', 'hot', []);
    t.effects.push(...t.engine.drain());
    expect(t.alerts('resolved')).toHaveLength(2);
    expect(t.engine.openAlerts()).toHaveLength(0);
  });

  it('memory has its own rule and alert next to CPU', () => {
    const t = setup();
    const mem: ResourceRule = { percent: 90, windowMs: 4_000 };
    for (let i = 0; i < 4; i++) {
      t.clock.t += 2000;
      t.engine.resourceSamples('local', 'hot', [
        { container: 'hot-db-1', metric: 'memory', rule: mem, percent: 95, at: i + 1 },
        { container: 'hot-db-1', metric: 'cpu', rule: cpu50, percent: 1, at: i + 1 },
      ]);
      t.effects.push(...t.engine.drain());
    }
    const opened = t.alerts('opened');
    expect(opened).toHaveLength(1);
    expect(opened[0]!.alert.title).toBe('hot-db-1 memory above 90% for 4s');
    expect(opened[0]!.alert.lines[0]).toContain('of its memory limit, or the host memory without one');
  });

  it("no alert while SiteFlow's own operation on the site runs, nor in its grace", () => {
    const t = setup();
    t.engine.intentStarted({
      operationId: 'op1',
      host: 'local',
      site: 'hot',
      kind: 'pull',
      actor: 'ann',
      startedAt: t.clock.t,
    });
    t.sample(99);
    t.every(2000, Array(10).fill(99));
    expect(t.alerts('opened')).toHaveLength(0);
    t.engine.intentEnded('op1', t.clock.t);
    t.every(2000, Array(14).fill(99)); // 28 s: inside the default 30 s grace
    expect(t.alerts('opened')).toHaveLength(0);
    t.every(2000, [99, 99]);
    expect(t.alerts('opened')).toHaveLength(1);
  });

  it('a silenced site records the alert without posting it', () => {
    const t = setup();
    t.engine.setSilences([
      { id: 'si_1', host: 'local', site: 'hot', until: t.clock.t + 3_600_000, by: 'ann', reason: null },
    ]);
    t.sample(99);
    t.every(2000, Array(5).fill(99));
    const opened = t.alerts('opened');
    expect(opened).toHaveLength(1);
    expect(opened[0]!.post).toBe(false);
    expect(opened[0]!.alert.silenced).toBe(true);
  });
});

describe('routing resource alerts', () => {
  it('ALERT_ROUTES_FILE matches them by kind: resource', () => {
    const routes = parseAlertRoutes(
      'routes:\n  - match: { kind: resource }\n    to: [email]\ndefault: [discord]\n',
    );
    if (!routes.ok) throw new Error(routes.error.join('; '));
    const t = setup();
    t.sample(99);
    t.every(5000, [99, 99]);
    const a = t.alerts('opened')[0]!.alert;
    expect(routeChannels(routes.value, routeSubject(a), ['discord', 'email'])).toEqual(['email']);
    // A site alert of the same site still takes the default.
    expect(routeChannels(routes.value, routeSubject({ ...a, kind: 'site' }), ['discord', 'email'])).toEqual([
      'discord',
    ]);
  });
});

describe('resource rule labels', () => {
  it('parses PERCENT%/WINDOW', () => {
    expect(labelResourceRule({ 'siteflow.alerts.cpu': '90%/5m' }, 'cpu')).toEqual({
      ok: true,
      value: { percent: 90, windowMs: 300_000 },
    });
    expect(labelResourceRule({ 'siteflow.alerts.memory': ' 85.5% / 30s ' }, 'memory')).toEqual({
      ok: true,
      value: { percent: 85.5, windowMs: 30_000 },
    });
    // CPU is in percent of one core: 250% is two and a half cores.
    expect(labelResourceRule({ 'siteflow.alerts.cpu': '250%/1m' }, 'cpu')).toEqual({
      ok: true,
      value: { percent: 250, windowMs: 60_000 },
    });
    expect(labelResourceRule({}, 'cpu')).toEqual({ ok: true, value: null });
    // Each metric reads its own label.
    expect(labelResourceRule({ 'siteflow.alerts.cpu': '90%/5m' }, 'memory')).toEqual({
      ok: true,
      value: null,
    });
  });

  it('rejects bad values with a clear message', () => {
    for (const [metric, v] of [
      ['cpu', '90'],
      ['cpu', '90%'],
      ['cpu', '/5m'],
      ['cpu', '0%/5m'],
      ['cpu', '90%/0s'],
      ['cpu', '90%/2d'],
      ['cpu', '90%/soon'],
      ['cpu', '9000%/5m'],
      ['memory', '150%/5m'],
      ['memory', '$(reboot)'],
      ['memory', ''],
    ] as const) {
      const r = labelResourceRule({ [`siteflow.alerts.${metric}`]: v }, metric);
      expect(r.ok, `${metric}=${v}`).toBe(false);
      if (!r.ok) expect(r.error).toContain(`siteflow.alerts.${metric}=`);
      if (!r.ok) expect(r.error).toContain('expected PERCENT%/WINDOW such as 90%/5m');
    }
  });
});
