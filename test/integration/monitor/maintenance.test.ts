/**
 * Maintenance windows against the real engine, through the console: a window open over a
 * kill (and the container's return) posts nothing, while the kill is in the audit and in
 * /silences; a window ending while the container is still down posts one alert. The windows
 * open at a cron second a few seconds ahead (node-cron's 6-field form), so no test waits minutes.
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
let back: ComposeProject;
let stays: ComposeProject;

async function ids(p: ComposeProject): Promise<string[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${p.name}`] },
  });
  return list.map((c) => c.Id);
}

const alertLines = (text: string, site: string) =>
  text.split('\n').filter((l) => l.startsWith('» ALERT') && l.includes(`${site} is down`));

beforeAll(async () => {
  docker = testDocker(env);
  const sleeper = { command: ['sleep', '3600'] };
  back = createComposeProject({ name: 'mwback', services: { web: sleeper } }, env);
  stays = createComposeProject({ name: 'mwstays', services: { web: sleeper } }, env);
  await Promise.all([back.up(), stays.up()]);
  dir = mkdtempSync(join(tmpdir(), 'sf-maint-'));
  sf = await startTestSiteFlow(
    { DOCKER_HOSTS: env.dockerHost, ALERT_STORM_THRESHOLD: '1000', ALERT_RECOVER_AFTER_SECONDS: '1' },
    { dir },
  );
  await waitFor('sites listed', async () => {
    const s = await sf.driver.type('/status', /site\s+state/);
    return s.includes(back.name) && s.includes(stays.name);
  });
}, 240_000);

afterAll(async () => {
  await sf?.stop();
  await Promise.all([back?.down(), stays?.down()].map((p) => p?.catch(() => undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('maintenance windows', () => {
  it('a window over a kill posts nothing (recorded in the audit and /silences); one ending while still down posts one alert', async () => {
    const from = sf.driver.transcript.length;
    const second = new Date(Date.now() + 4000).getSeconds();
    const cron = `"${second} * * * * *"`;
    const added = await sf.driver.type(
      `/maintenance add ${back.name} ${cron} 8s "nightly backup"`,
      /Maintenance window mw_|Cannot/,
    );
    expect(added).toContain('Maintenance window mw_');
    await sf.driver.type(`/maintenance add ${stays.name} ${cron} 8s`, /Maintenance window mw_|Cannot/);
    // Bad input changes nothing.
    const bad = await sf.driver.type(`/maintenance add ${back.name} "61 * * *" 8s`, /Cannot add/);
    expect(bad).toMatch(/not a cron expression/);
    expect(sf.app.monitor!.maintenance()).toHaveLength(2);

    await waitFor('windows open', () => sf.app.monitor!.maintenance().every((w) => w.open), 15_000);
    const openedAt = Date.now();
    const [b] = await ids(back);
    const [s] = await ids(stays);
    await run('docker', ['kill', b!, s!], { env: cliEnv });
    // Recorded, not posted.
    const audited = (site: string, action: string) =>
      sf.app.services.audit.query({ site, action, since: openedAt - 1000, limit: 10 }).entries;
    await waitFor(
      'both recorded',
      () => audited(back.name, 'alert-open').length === 1 && audited(stays.name, 'alert-open').length === 1,
      10_000,
    );
    expect(audited(back.name, 'alert-open')[0]!.details).toMatchObject({ silenced: true });
    const silences = await sf.driver.type('/silences', /open alert|No active/);
    expect(silences).toContain('maintenance mw_');
    expect(silences).toContain('nightly backup');
    expect(silences).toContain(`${back.name} is down`);
    const list = await sf.driver.type('/maintenance list', /maintenance window/);
    expect(list).toMatch(/open until/);

    // One comes back within the window, the other stays down.
    await run('docker', ['start', b!], { env: cliEnv });
    await waitFor('back resolved', () => audited(back.name, 'alert-resolve').length === 1, 15_000);
    expect(alertLines(sf.driver.transcript.slice(from), back.name)).toEqual([]);
    expect(alertLines(sf.driver.transcript.slice(from), stays.name)).toEqual([]);

    // The window ends: what is still broken alerts, once.
    await sf.driver.waitFor(new RegExp(`ALERT .*${stays.name} is down`), from, 20_000);
    expect(sf.app.monitor!.maintenance().some((w) => w.open)).toBe(false);
    await sf.settled();
    expect(sf.app.monitor!.queueLength()).toBe(0);
    const part = sf.driver.transcript.slice(from);
    expect(alertLines(part, stays.name)).toHaveLength(1);
    expect(alertLines(part, back.name)).toEqual([]);

    // Removing a window; an unknown id is refused.
    const id = sf.app.monitor!.maintenance()[0]!.id;
    expect(await sf.driver.type(`/maintenance remove ${id}`, /Removed|Cannot/)).toContain(
      `Removed maintenance window ${id}`,
    );
    expect(await sf.driver.type('/maintenance remove mw_nope', /Removed|Cannot/)).toContain(
      'No maintenance window mw_nope',
    );
    expect(sf.app.monitor!.maintenance()).toHaveLength(1);
  }, 90_000);
});
