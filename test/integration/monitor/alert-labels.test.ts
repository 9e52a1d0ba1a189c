/**
 * Per-container alert labels against the real engine: a container labelled
 * `siteflow.alerts=off` never alerts (a control site killed after it does), and
 * `siteflow.alerts.down_after=3s` holds its site's alert back that long; a bad value is
 * ignored and reported in the log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { alertsOff, labelDownAfterMs } from '../../../src/core/alert-labels.js';
import { type ComposeProject, createComposeProject, run, testDocker, waitFor } from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
let docker: Docker;
let dir: string;
let sf: TestSiteFlow;
const p: Record<string, ComposeProject> = {};
const sleeper = { command: ['sleep', '3600'] };

async function killAll(pr: ComposeProject): Promise<void> {
  const list = await docker.listContainers({ filters: { label: [`com.docker.compose.project=${pr.name}`] } });
  await run('docker', ['kill', ...list.map((c) => c.Id)], { env: cliEnv });
}

beforeAll(async () => {
  docker = testDocker(env);
  p.off = createComposeProject(
    { name: 'loff', services: { web: { ...sleeper, labels: { 'siteflow.alerts': 'off' } } } },
    env,
  );
  p.ctl = createComposeProject({ name: 'lctl', services: { web: sleeper } }, env);
  p.slow = createComposeProject(
    { name: 'lslow', services: { web: { ...sleeper, labels: { 'siteflow.alerts.down_after': '3s' } } } },
    env,
  );
  p.bad = createComposeProject(
    { name: 'lbad', services: { web: { ...sleeper, labels: { 'siteflow.alerts.down_after': 'soon' } } } },
    env,
  );
  await Promise.all(Object.values(p).map((x) => x.up()));
  dir = mkdtempSync(join(tmpdir(), 'sf-labels-'));
  sf = await startTestSiteFlow({ DOCKER_HOSTS: env.dockerHost, ALERT_STORM_THRESHOLD: '1000' }, { dir });
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

describe('alert labels', () => {
  it('siteflow.alerts=off: a killed container never alerts (a control site killed after it does)', async () => {
    const from = sf.driver.transcript.length;
    await killAll(p.off!);
    await waitFor(
      'off site seen down',
      () => sf.app.live.site('local', p.off!.name)?.state === 'down',
      10_000,
    );
    await killAll(p.ctl!);
    await sf.driver.waitFor(new RegExp(`ALERT .*${p.ctl!.name} is down`), from, 10_000);
    expect(sf.driver.transcript.slice(from)).not.toContain(`${p.off!.name} is down`);
    expect(sf.app.monitor!.openAlerts().some((a) => a.site === p.off!.name)).toBe(false);
  });

  it('siteflow.alerts.down_after=3s holds the alert back 3 s; a bad value is ignored and logged', async () => {
    const from = sf.driver.transcript.length;
    const t0 = Date.now();
    await Promise.all([killAll(p.slow!), killAll(p.bad!)]);
    await sf.driver.waitFor(new RegExp(`ALERT .*${p.bad!.name} is down`), from, 10_000);
    await sf.driver.waitFor(new RegExp(`ALERT .*${p.slow!.name} is down`), from, 15_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
    expect(sf.driver.transcript.slice(from).indexOf(p.bad!.name)).toBeLessThan(
      sf.driver.transcript.slice(from).indexOf(`${p.slow!.name} is down`),
    );
    expect(sf.logLines.join('\n')).toContain('siteflow.alerts.down_after=soon: expected a duration');
  });

  it('label values are validated', () => {
    expect(alertsOff({ 'siteflow.alerts': 'OFF' })).toEqual({ ok: true, value: true });
    expect(alertsOff({})).toEqual({ ok: true, value: false });
    expect(alertsOff({ 'siteflow.alerts': 'maybe' }).ok).toBe(false);
    expect(labelDownAfterMs({ 'siteflow.alerts.down_after': '120s' })).toEqual({ ok: true, value: 120_000 });
    expect(labelDownAfterMs({ 'siteflow.alerts.down_after': '2d' }).ok).toBe(false);
    expect(labelDownAfterMs({ 'siteflow.alerts.down_after': '$(rm -rf /)' }).ok).toBe(false);
  });
});
