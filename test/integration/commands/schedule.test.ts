/**
 * Schedules against the real engine, through the console: a schedule of `restart SITE web`
 * every 4 seconds (node-cron's 6-field form stands in for "every minute", so no test waits
 * minutes) runs once per firing as "schedule #ID, added by @local", each run audited as the
 * schedule; while a manual restart of another service holds the site, a firing is refused
 * (busy) and audited so; each firing is shown in the console, the alert channel there, with its
 * run streamed under it; only allowlisted commands can be scheduled, and only by admins.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, waitFor } from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
let dir: string;
let sf: TestSiteFlow;
let site: ComposeProject;

beforeAll(async () => {
  site = createComposeProject(
    {
      name: 'sched',
      services: {
        web: { command: ['sleep', '3600'] },
        // Ignores SIGTERM: a restart of it takes its whole stop grace period, holding the site.
        slow: {
          command: ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done'],
          init: false,
          stop_grace_period: '8s',
        },
      },
    },
    env,
  );
  await site.up();
  dir = mkdtempSync(join(tmpdir(), 'sf-sched-'));
  sf = await startTestSiteFlow(
    {
      DOCKER_HOSTS: env.dockerHost,
      ALERT_STORM_THRESHOLD: '1000',
      ADMINS: 'console:user:local',
      OPERATORS: 'console:user:op',
    },
    { dir },
  );
  await waitFor('site listed', async () =>
    (await sf.driver.type('/status', /site\s+state/)).includes(site.name),
  );
}, 240_000);

afterAll(async () => {
  await sf?.stop();
  await site?.forceDown().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('schedules', () => {
  it('runs once per firing as the schedule, audited; a busy site refuses it; bad input changes nothing', async () => {
    const bad = await sf.driver.type(
      '/schedule add "*/4 * * * * *" "deprovision blog"',
      /Cannot add|Schedule sc_/,
    );
    // The allowlist (restart, pull, prune, up), all of which exist now.
    expect(bad).toMatch(/only \/restart, \/pull, \/prune, \/up can be scheduled, not "deprovision"/);
    const badCron = await sf.driver.type(
      `/schedule add "every day" "restart ${site.name}"`,
      /Cannot add|Schedule sc_|Invalid/,
    );
    expect(badCron).not.toContain('Schedule sc_');
    expect(sf.app.services.schedules!.list()).toHaveLength(0);

    const added = await sf.driver.type(
      `/schedule add "*/4 * * * * *" "restart ${site.name} web"`,
      /Cannot add|Schedule sc_/,
    );
    expect(added).toContain('Schedule sc_');
    const sched = sf.app.services.schedules!.list()[0]!;
    const as = `schedule #${sched.id}, added by @local`;
    const mine = () =>
      sf.app.services.operations
        .list({ site: site.name, limit: 50 })
        .filter((o) => o.requestedBy.name === as);
    await waitFor(
      'two scheduled runs',
      () => mine().filter((o) => o.status === 'succeeded').length >= 2,
      30_000,
    );
    const runs = mine()
      .filter((o) => o.status === 'succeeded')
      .map((o) => o.startedAt ?? 0)
      .sort((a, b) => a - b);
    // One run per firing: consecutive runs are a firing (4 s) apart, never doubled.
    for (let i = 1; i < runs.length; i++) expect(runs[i]! - runs[i - 1]!).toBeGreaterThan(2500);
    // Each firing shows in the console (the alert channel here), its run streamed under it.
    await sf.driver.waitFor(`schedule #${sched.id} (added by @local): /restart ${site.name} web`, 0, 10_000);
    expect(sf.driver.transcript).toMatch(/All restarted containers are up\./);
    const audited = sf.app.services.audit.query({ site: site.name, action: 'restart', limit: 50 }).entries;
    expect(audited.filter((e) => e.actor.name === as && e.outcome === 'ok').length).toBeGreaterThanOrEqual(2);

    // A manual restart of the slow service holds the site for its 8 s grace: a firing is refused.
    const before = Date.now();
    await sf.driver.type(`/restart ${site.name} slow`, /Restarting/);
    await waitFor(
      'a refused firing',
      () =>
        sf.app.services.audit
          .query({ site: site.name, action: 'restart', since: before, limit: 50 })
          .entries.some((e) => e.actor.name === as && e.outcome === 'rejected'),
      15_000,
    );

    // An operator may not add schedules; the admin lists and removes it.
    const denied = await sf.app.dispatcher.dispatch({
      platform: 'console',
      user: { id: 'op', name: 'op', roles: [] },
      channelId: 'console',
      command: 'schedule',
      args: { action: 'list' },
      receivedAt: Date.now(),
    });
    expect(denied.status).toBe('denied');
    expect(await sf.driver.type('/schedule list', /1 schedule/)).toContain(as);
    expect(await sf.driver.type(`/schedule remove ${sched.id}`, /Removed|Cannot/)).toContain(
      `Removed schedule ${sched.id}`,
    );
    expect(sf.app.services.schedules!.list()).toHaveLength(0);
  }, 90_000);
});
