/**
 * Resource alerts against the real engine, with the console alert channel: a busybox container
 * (standing in for a site's busy app) labelled `siteflow.alerts.cpu=5%/6s` running a busy loop,
 * capped at half a core so it does not slow the other tests on the shared engine, gives exactly
 * one resource alert from the stats the reconciler samples (every 1 s here), and one recovery
 * once the loop ends; an idle container with the same rule never alerts, and a bad label value
 * is ignored and logged once. The threshold is low because the machine running the tests may
 * be loaded: the loop's share of a core is far above 5% there too, an idle sleep stays at 0%.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, run, testDocker, waitFor } from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
let docker: Docker;
let dir: string;
let sf: TestSiteFlow;
const p: Record<string, ComposeProject> = {};
const rule = { 'siteflow.alerts.cpu': '5%/6s' };

beforeAll(async () => {
  docker = testDocker(env);
  // Busy until /tmp/stop exists, then idle: the test ends the load without stopping the container.
  p.hot = createComposeProject(
    {
      name: 'rhot',
      services: {
        web: {
          command: ['sh', '-c', 'while [ ! -e /tmp/stop ]; do :; done; exec sleep 3600'],
          // Half a core at most: the loop shows ~50% without slowing the other tests on the engine.
          cpus: 0.5,
          labels: rule,
        },
      },
    },
    env,
  );
  p.idle = createComposeProject(
    { name: 'ridle', services: { web: { command: ['sleep', '3600'], labels: rule } } },
    env,
  );
  p.bad = createComposeProject(
    {
      name: 'rbad',
      services: { web: { command: ['sleep', '3600'], labels: { 'siteflow.alerts.cpu': 'lots' } } },
    },
    env,
  );
  await Promise.all(Object.values(p).map((x) => x.up()));
  dir = mkdtempSync(join(tmpdir(), 'sf-resource-'));
  sf = await startTestSiteFlow(
    {
      DOCKER_HOSTS: env.dockerHost,
      ALERT_STORM_THRESHOLD: '1000',
      STATS_INTERVAL_SECONDS: '1',
      ALERT_RECOVER_AFTER_SECONDS: '2',
    },
    { dir },
  );
  await waitFor('sites listed', async () => {
    const s = await sf.driver.type('/status', /site\s+state/);
    return Object.values(p).every((x) => s.includes(x.name));
  });
}, 240_000);

afterAll(async () => {
  await sf?.stop();
  await Promise.all(Object.values(p).map((x) => x.down().catch(() => undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('resource alerts (busybox busy loop as the stand-in for a busy site)', () => {
  it('siteflow.alerts.cpu=5%/6s: a busybox busy loop gives one resource alert, one recovery after it ends; an idle container none', async () => {
    const hot = p.hot!.name;
    const opened = await sf.driver.waitFor(
      new RegExp(`ALERT .*${hot}[-_]web[-_]1 CPU above 5% for \\d+s`),
      0,
      // Generous: on a loaded machine the loop's share can dip below the threshold, restarting the window.
      90_000,
    );
    const id = /\[local\/[^,]+, (al_[0-9a-z]+)\]/.exec(opened.slice(opened.lastIndexOf('ALERT')))?.[1];
    expect(id).toBeTruthy();
    const alert = sf.app.monitor!.openAlerts().find((a) => a.id === id);
    expect(alert?.kind).toBe('resource');
    expect(alert?.site).toBe(hot);
    // The rule measured the samples the status page shows.
    expect(sf.app.live.site('local', hot)?.containers[0]?.stats?.cpuPercent).toBeTypeOf('number');

    // End the load (the container keeps running): one recovery.
    const [c] = await docker.listContainers({ filters: { label: [`com.docker.compose.project=${hot}`] } });
    await run('docker', ['exec', c!.Id, 'touch', '/tmp/stop'], { env: cliEnv });
    await sf.driver.waitFor(
      new RegExp(`${id}: ${hot}[-_]web[-_]1 CPU is back below 5% \\(\\d+%\\)`),
      0,
      30_000,
    );
    await waitFor('resolved', () => !sf.app.monitor!.openAlerts().some((a) => a.id === id), 10_000);

    const text = sf.driver.transcript;
    expect(text.match(new RegExp(`ALERT .*${hot}[-_]web[-_]1 CPU above`, 'g'))).toHaveLength(1);
    expect(text.match(new RegExp(`${id}: ${hot}[-_]web[-_]1 CPU is back below`, 'g'))).toHaveLength(1);
    // The idle container, sampled just as long, never went above its rule.
    expect(text).not.toMatch(new RegExp(`${p.idle!.name}\\S* CPU above`));
    expect(sf.app.live.site('local', p.idle!.name)?.containers[0]?.stats).not.toBeNull();
    // Opened and resolved are in the audit as the monitor's.
    const audit = sf.app.services.audit
      .query({ site: hot, limit: 50 })
      .entries.filter((e) => e.details?.alertId === id)
      .map((e) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['alert-open', 'alert-resolve']));
  }, 180_000);

  it('a bad siteflow.alerts.cpu value is ignored and logged once', () => {
    const logged = sf.logLines.filter((l) =>
      l.includes('siteflow.alerts.cpu=lots: expected PERCENT%/WINDOW'),
    );
    expect(logged).toHaveLength(1);
    expect(sf.driver.transcript).not.toMatch(new RegExp(`${p.bad!.name}\\S* CPU above`));
  });
});
