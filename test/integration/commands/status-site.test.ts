/**
 * /status <site> against the real engine, reached through a proxy that records every request
 * line: the container table's CPU and memory come from the live state's recent sample, with no
 * stats request of its own (a new sample makes the engine wait a second for two readings).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, waitFor } from '../../env/harness.js';
import { type DockerProxy, startDockerProxy } from '../../support/docker-proxy.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
let proxy: DockerProxy;
let site: ComposeProject;
let sf: TestSiteFlow;

beforeAll(async () => {
  proxy = await startDockerProxy(env.dockerHost);
  site = createComposeProject({ name: 'stsite', services: { web: { command: ['sleep', '3600'] } } }, env);
  await site.up();
  sf = await startTestSiteFlow({
    DOCKER_HOSTS: proxy.dockerHost,
    MONITOR_ENABLED: 'false',
    // The next background sample is 20 s after the one the test waits for: none during /status.
    STATS_INTERVAL_SECONDS: '20',
  });
}, 120_000);

afterAll(async () => {
  await sf?.stop();
  await proxy?.stop();
  await site?.down().catch(() => undefined);
});

describe('/status <site>', () => {
  it('shows CPU and memory from the live state’s recent sample, without a stats request of its own', async () => {
    await waitFor(
      'a sample of the site’s container in the live state',
      () => sf.app.live.site('local', site.name)?.containers[0]?.stats != null,
      60_000,
    );
    const from = proxy.requests.length;
    const out = await sf.driver.type(`/status ${site.name}`, /service\s+status/, 15_000);
    expect(out).toMatch(/web\s+up\s+-\s+\d+\s+\d+\.\d%\s+\d+ MB/);
    const during = proxy.requests.slice(from);
    expect(during.some((r) => /\/containers\/json/.test(r))).toBe(true);
    expect(during.filter((r) => /\/stats\b/.test(r))).toEqual([]);
  });
});
