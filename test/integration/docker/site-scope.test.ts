/**
 * Managed scope against the real engine, through the console and the web server: a compose
 * project outside SITES_ROOT without `siteflow.manage=true` is invisible (status, API, metrics,
 * graph, autocomplete), untouchable (/restart, /logs: "no such site") and silent (a kill posts no
 * alert); the same kind of project with the label is a site.
 */
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { completionSource } from '../../../src/chat/completions.js';
import { type ComposeProject, createComposeProject, run, testDocker, waitFor } from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
const sleeper = { command: ['sleep', '3600'], restart: 'no' };

let docker: Docker;
let sf: TestSiteFlow;
let outside: ComposeProject;
let inside: ComposeProject;

async function onlyContainer(p: ComposeProject): Promise<string> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${p.name}`] },
  });
  expect(list).toHaveLength(1);
  return list[0]!.Id;
}

beforeAll(async () => {
  docker = testDocker(env);
  outside = createComposeProject({ name: 'scope-out', services: { web: sleeper }, manage: false }, env);
  inside = createComposeProject({ name: 'scope-in', services: { web: sleeper } }, env);
  await Promise.all([outside.up(), inside.up()]);
  sf = await startTestSiteFlow({
    DOCKER_HOSTS: env.dockerHost,
    ALERT_STORM_THRESHOLD: '1000',
    ALERT_RECOVER_AFTER_SECONDS: '1',
  });
  await waitFor('labelled project listed', async () =>
    (await sf.driver.type('/status', /site\s+state/)).includes(inside.name),
  );
}, 240_000);

afterAll(async () => {
  await sf?.stop();
  await Promise.all([outside?.down().catch(() => undefined), inside?.down().catch(() => undefined)]);
});

describe('managed scope (real engine)', () => {
  it('an unlabelled project outside SITES_ROOT is absent from /status, the API, metrics, graph and autocomplete', async () => {
    const status = await sf.driver.type('/status', /site\s+state/);
    expect(status).toContain(inside.name);
    expect(status).not.toContain(outside.name);
    for (const path of ['/api/status', '/metrics', '/graph', '/api/graph', '/']) {
      const body = await (await fetch(`${sf.app.webUrl}${path}`)).text();
      expect(body, path).not.toContain(outside.name);
      if (path !== '/metrics' && path !== '/graph') expect(body, path).toContain(inside.name);
    }
    const complete = completionSource({ state: sf.app.live, operations: () => [], templates: () => [] });
    const names = await complete('site', 'scope-', {});
    expect(names).toContain(inside.name);
    expect(names).not.toContain(outside.name);
  });

  it('/restart and /logs of it answer "no such site" and touch nothing', async () => {
    const id = await onlyContainer(outside);
    const before = (await docker.getContainer(id).inspect()).State.StartedAt;
    const restart = await sf.driver.type(`/restart ${outside.name}`, /No site/);
    expect(restart).toContain(`No site "${outside.name}"`);
    const logs = await sf.driver.type(`/logs ${outside.name}`, /No site/);
    expect(logs).toContain(`No site "${outside.name}"`);
    expect(await sf.driver.type(`/status ${outside.name}`, /No site/)).toContain('No site');
    expect((await docker.getContainer(id).inspect()).State.StartedAt).toBe(before);
  });

  it('a kill of its container posts no alert (a labelled one killed after it does)', async () => {
    const from = sf.driver.transcript.length;
    const out = await onlyContainer(outside);
    const inn = await onlyContainer(inside);
    // Events arrive in order: once the labelled site's alert is out, the first kill was seen.
    await run('docker', ['kill', out], { env: cliEnv });
    await run('docker', ['kill', inn], { env: cliEnv });
    await sf.driver.waitFor(new RegExp(`ALERT .*${inside.name} is down`), from, 15_000);
    const part = sf.driver.transcript.slice(from);
    expect(part).not.toContain(outside.name);
    expect(sf.app.live.site('local', outside.name)).toBeUndefined();
  });
});
