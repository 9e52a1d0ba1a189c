/**
 * Host health and /prune against the real engine, through the console surface. The prune is
 * restricted (PRUNE_ONLY_LABEL) to a label only this test's image carries: on the shared test
 * engine it must never remove anybody else's dangling images, and with a label it leaves the
 * build cache alone.
 */
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testDocker, testLabels, waitFor } from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const PRUNE_LABEL = `siteflow.test.prune=${randomBytes(6).toString('hex')}`;
let docker: Docker;
let sf: TestSiteFlow;
let imageId = '';

beforeAll(async () => {
  docker = testDocker(env);
  // A dangling image of our own: a labelled container with a 3 MB file, committed without a tag.
  const c = await docker.createContainer({
    Image: env.images.busybox,
    Cmd: ['sh', '-c', 'dd if=/dev/urandom of=/blob bs=1024 count=3072 2>/dev/null'],
    Labels: testLabels(),
  });
  await c.start();
  await c.wait();
  const [k, v] = PRUNE_LABEL.split('=') as [string, string];
  const [tk, tv] = Object.entries(testLabels())[0]!;
  const img = (await c.commit({ changes: [`LABEL ${tk}=${tv}`, `LABEL ${k}=${v}`] })) as { Id: string };
  imageId = img.Id;
  await c.remove({ force: true });
  sf = await startTestSiteFlow({
    MONITOR_ENABLED: 'false',
    DOCKER_HOSTS: env.dockerHost,
    ADMINS: 'console:*',
    PRUNE_ONLY_LABEL: PRUNE_LABEL,
  });
}, 120_000);

afterAll(async () => {
  await sf?.stop();
  if (imageId)
    await docker
      .getImage(imageId)
      .remove({ force: true })
      .catch(() => undefined);
});

describe('host health and /prune', () => {
  it('/status, the page and /metrics show the host disk use, memory, load and system df', async () => {
    await waitFor(
      'first host measurement',
      () => sf.app.services.hostHealth!.latest('local') !== null,
      30_000,
    );
    const out = await sf.driver.type('/status', /Host local:/);
    expect(out).toMatch(
      /Host local: disk docker \d+%, sites \d+%; memory \d+%; load \d+\.\d\d; \d+ images, \d+ containers, \d+ volumes, [\d.]+ [KMGT]?B reclaimable/,
    );
    const page = await (await fetch(`${sf.app.webUrl}/`)).text();
    expect(page).toMatch(/data-role="host-health">local: disk docker \d+%/);
    const metrics = await (await fetch(`${sf.app.webUrl}/metrics`)).text();
    expect(metrics).toMatch(/siteflow_host_disk_used_ratio\{host="local",what="docker"\} 0\.\d+/);
    expect(metrics).toMatch(/siteflow_host_reclaimable_bytes\{host="local"\} \d+/);
  });

  it('a dangling image created by the test: /prune (confirmed) removes it, reports the space, and is audited', async () => {
    const before = (await docker.getImage(imageId).inspect()) as { Size: number; RepoTags: string[] };
    expect(before.RepoTags ?? []).toHaveLength(0);
    const ask = await sf.driver.type('/prune local', /Type \/confirm (cf_[0-9a-f]{16})/, 60_000);
    expect(ask).toContain(`dangling images labelled ${PRUNE_LABEL}`);
    expect(ask).toMatch(/about [\d.]+ [KMGT]?B reclaimable now/);
    expect(ask).toMatch(/volumes and containers are never touched/);
    const id = /\/confirm (cf_[0-9a-f]{16})/.exec(ask)![1]!;
    const ran = await sf.driver.type(`/confirm ${id}`, /op_\w+ (succeeded|failed)/, 60_000);
    expect(ran).toMatch(/op_\w+ succeeded/);
    expect(ran).toMatch(/Removed [1-9]\d* image layer\(s\): [\d.]+ MB\./);
    expect(ran).toContain('Build cache left alone');
    await expect(docker.getImage(imageId).inspect()).rejects.toMatchObject({ statusCode: 404 });
    imageId = '';
    const audit = sf.app.services.audit.query({ action: 'prune', limit: 5 }).entries;
    expect(audit.find((e) => e.outcome === 'ok')?.host).toBe('local');
  });

  it('refuses an unknown host and asks nothing', async () => {
    const out = await sf.driver.type('/prune nowhere', 'Unknown host');
    expect(out).not.toContain('/confirm');
  });
});
