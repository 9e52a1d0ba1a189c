/**
 * A second dockerd, stopped and started again under a running SiteFlow: one "host
 * unreachable" incident, one recovery, no per-site alerts, and the monitor serving again
 * (a kill on that engine alerts) without a restart of SiteFlow.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, run, waitFor } from '../../env/harness.js';
import { type SecondEngine, startSecondEngine } from '../../env/second-engine.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');

let e2: SecondEngine;
let site: ComposeProject;
let sf: TestSiteFlow;

beforeAll(async () => {
  e2 = await startSecondEngine(env);
  site = createComposeProject(
    { name: 'outage', services: { web: { command: ['sleep', '3600'], restart: 'always' } } },
    { ...env, dockerHost: e2.dockerHost },
  );
  await site.up();
  sf = await startTestSiteFlow({
    DOCKER_HOSTS: `d2=${e2.dockerHost}`,
    ALERT_HOST_DOWN_AFTER_SECONDS: '2',
    ALERT_RECOVER_AFTER_SECONDS: '1',
  });
  await waitFor('site on d2 listed', async () =>
    (await sf.driver.type('/status', /site\s+state|No sites/)).includes(site.name),
  );
}, 240_000);

afterAll(async () => {
  await sf?.stop();
  await site?.down().catch(() => undefined);
  await e2?.stop();
});

describe('engine outage', () => {
  it('one host-unreachable incident, one recovery, then alerts work again', async () => {
    const from = sf.driver.transcript.length;
    await e2.pause();
    await sf.driver.waitFor(/(ALERT|✎ al_\w+:) 🔴 Host d2 is unreachable/, from, 30_000);
    // Still down through one more listing, its probes and deliveries: nothing new is posted.
    await sf.settled();
    await e2.resume();
    await sf.driver.waitFor(/Host d2 answers again/, from, 60_000);
    // The recovery's listing and events judged, every delivery attempted: then count.
    await sf.settled();
    const part = sf.driver.transcript.slice(from);
    const alerts = part.split('\n').filter((l) => l.startsWith('» ALERT'));
    if (alerts.length !== 1) console.log(part);
    // One incident message: either posted as such, or (when dockerd stopped its containers
    // before it stopped answering) the site alert of that moment edited into it.
    expect(alerts).toHaveLength(1);
    const id = /(al_[0-9a-z]+)\]/.exec(alerts[0]!)![1]!;
    const headlines = part
      .split('\n')
      .filter((l) => l.startsWith('» ALERT') || l.includes(`✎ ${id}:`))
      .filter((l) => l.includes('Host d2 is unreachable'));
    expect(headlines.filter((l) => !l.includes('RESOLVED'))).toHaveLength(1);
    expect(part.match(/Host d2 answers again/g)).toHaveLength(1);
    expect(part.match(/recovered after/g)).toBeNull();

    // Serving again without a restart of SiteFlow: a kill on d2 alerts.
    const list = await e2.docker.listContainers({
      filters: { label: [`com.docker.compose.project=${site.name}`] },
    });
    expect(list).toHaveLength(1);
    const from2 = sf.driver.transcript.length;
    await run('docker', ['kill', list[0]!.Id], { env: { ...process.env, DOCKER_HOST: e2.dockerHost } });
    await sf.driver.waitFor(new RegExp(`ALERT .*${site.name} is`), from2, 10_000);
  });
});
