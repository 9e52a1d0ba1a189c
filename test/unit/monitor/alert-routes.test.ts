/**
 * Alert routing: the routes file (YAML, zod-validated, problems by line), route matching
 * (first match wins unless `continue`, `default` for the rest, `webhook` = every webhook,
 * unconfigured channels left out), per-route thresholds through the AlertEngine's tune hook,
 * and a broken file stopping the configuration with its line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import {
  type AlertRoutes,
  describeRoutes,
  routeChannels,
  routeSubject,
  routeTuning,
} from '../../../src/core/alert-routes.js';
import { type AlertEffect, AlertEngine } from '../../../src/core/monitor.js';
import { parseAlertRoutes } from '../../../src/monitor/alert-routes-file.js';

const ISSUE_EXAMPLE = `routes:
  - match: { site: shop }            # site, host, severity, kind
    to: [webhook:client-shop, email]
    continue: false
  - match: { severity: critical }
    to: [discord, ntfy]
    down_after_seconds: 30
default: [discord, slack, console]
`;

function parsed(text: string): AlertRoutes {
  const r = parseAlertRoutes(text);
  if (!r.ok) throw new Error(r.error.join('\n'));
  return r.value;
}

const all = ['console', 'discord', 'slack', 'webhook:client-shop', 'webhook:ops', 'ntfy', 'email'];
const subj = (over: Partial<Parameters<typeof routeSubject>[0]> = {}) =>
  routeSubject({ site: 'blog', host: 'local', severity: 'warning', kind: 'site', ...over });

describe('routes file', () => {
  it('parses the example of the issue, with each route line', () => {
    const r = parsed(ISSUE_EXAMPLE);
    expect(r.routes).toHaveLength(2);
    expect(r.routes[0]).toMatchObject({
      match: { site: ['shop'] },
      to: ['webhook:client-shop', 'email'],
      line: 2,
    });
    expect(r.routes[1]).toMatchObject({ match: { severity: ['critical'] }, downAfterSeconds: 30, line: 5 });
    expect(r.default).toEqual(['discord', 'slack', 'console']);
  });

  it('reports every problem with its line', () => {
    const r = parseAlertRoutes(`routes:
  - match: { site: shop }
    to: [webhook:client-shop]
  - match: { severity: urgent }
    to: [pager]
    colour: red
`);
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.error;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^line 4: routes\.1\.match\.severity(\.0)?: expected info, warning or critical/,
        ),
        expect.stringMatching(/^line 5: routes\.1\.to\.0: expected a channel/),
      ]),
    );
    const unknown = parseAlertRoutes('routes:\n  - to: [console]\n    colour: red\n');
    expect(unknown.ok ? [] : unknown.error).toEqual([expect.stringMatching(/^line 2: routes\.0: .*colour/)]);
    const syntax = parseAlertRoutes('routes:\n  - match: { site: shop\n    to: [x]\n');
    expect(syntax.ok ? [] : syntax.error).toEqual([expect.stringMatching(/^line \d: /)]);
  });

  it('a broken file stops the configuration with the line; an unknown webhook too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-routes-'));
    try {
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'routes:\n  - match: { site: shop }\n    to: discord\n');
      expect(() => loadConfig({ ALERT_ROUTES_FILE: bad }, { envFile: null })).toThrowError(
        /ALERT_ROUTES_FILE: line 3: routes\.0\.to: expected a list of channels/,
      );
      const hook = join(dir, 'hook.yaml');
      writeFileSync(hook, 'routes:\n  - match: { site: shop }\n    to: [webhook:nope]\n');
      let e: unknown;
      try {
        loadConfig(
          { ALERT_ROUTES_FILE: hook, NOTIFY_WEBHOOK_URLS: 'ops=http://127.0.0.1:9/x' },
          { envFile: null },
        );
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toContain('line 2: webhook:nope is not in NOTIFY_WEBHOOK_URLS');
      expect(() =>
        loadConfig({ ALERT_ROUTES_FILE: join(dir, 'missing.yaml') }, { envFile: null }),
      ).toThrowError(/ALERT_ROUTES_FILE: cannot read .*ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('routeChannels', () => {
  const r = parsed(ISSUE_EXAMPLE);

  it('first match wins; default for the rest; only configured channels', () => {
    expect(routeChannels(r, subj({ site: 'shop', severity: 'critical' }), all)).toEqual([
      'webhook:client-shop',
      'email',
    ]);
    expect(routeChannels(r, subj({ severity: 'critical' }), all)).toEqual(['discord', 'ntfy']);
    expect(routeChannels(r, subj(), all)).toEqual(['discord', 'slack', 'console']);
    expect(routeChannels(r, subj(), ['console'])).toEqual(['console']);
    expect(routeChannels(null, subj(), all)).toEqual(all);
  });

  it('continue: true goes on to later routes; webhook means every webhook; kinds map from alert kinds', () => {
    const c = parsed(`routes:
  - match: { kind: host }
    to: [webhook]
    continue: true
  - match: { host: local }
    to: [console]
`);
    expect(routeChannels(c, subj({ kind: 'host', site: null }), all)).toEqual([
      'webhook:client-shop',
      'webhook:ops',
      'console',
    ]);
    expect(routeChannels(c, subj(), all)).toEqual(['console']);
    // No default in the file: what no route matched goes everywhere.
    expect(routeChannels(c, subj({ host: 'edge' }), all)).toEqual(all);
    expect(describeRoutes(c, ['console'])).toEqual([
      '1. kind=host -> (none) (then continue)',
      '2. host=local -> console',
      'otherwise -> console',
    ]);
  });

  it('per-route thresholds reach the alert rules', () => {
    const t = parsed(`routes:
  - match: { site: slow }
    to: [console]
    down_after_seconds: 10
`);
    expect(routeTuning(t, subj({ site: 'slow' }))).toEqual({ downAfterMs: 10_000 });
    expect(routeTuning(t, subj())).toBeNull();
    let now = 1_000_000;
    const engine = new AlertEngine(
      { now: () => now },
      { reminderMs: 0, downAfterMs: 0 },
      { tune: (s) => routeTuning(t, routeSubject(s)) },
    );
    const effects: AlertEffect[] = [];
    const down = {
      state: 'down' as const,
      containers: [{ id: 'c', name: 'web', status: 'down' as const, exitCode: 1, restartPolicy: 'always' }],
    };
    const pump = () => {
      for (const e of engine.drain()) {
        effects.push(e);
        if (e.type === 'probe') engine.hostAnswered(e.host, true);
      }
    };
    engine.observeHost('local', true);
    engine.observeSite('local', 'slow', down);
    engine.observeSite('local', 'fast', down);
    for (let i = 0; i < 30; i++) {
      now += 250;
      engine.tick();
      pump();
    }
    const opened = () =>
      effects
        .filter((e) => e.type === 'alert' && e.change === 'opened')
        .map((e) => (e.type === 'alert' ? e.alert.site : ''));
    expect(opened()).toEqual(['fast']);
    now += 3000;
    engine.tick();
    pump();
    pump();
    expect(opened()).toEqual(['fast', 'slow']);
  });
});
