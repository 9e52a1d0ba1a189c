/**
 * Safe /pull through the console against the real engine, compose and test registry: a broken
 * image pushed under the running tag (its command exits 1, or its healthcheck fails) is rolled
 * back to the previous digest with one alert; a good one replaces the old image, which is removed.
 * The images are the busybox test image committed with a layer and CMD of their own (stand-ins
 * for real application images).
 */
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ComposeProject,
  createComposeProject,
  registryRunImage,
  testDocker,
  waitFor,
} from '../../env/harness.js';
import { pushImage } from '../../support/images.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');

let docker: Docker;
let sf: TestSiteFlow;
const projects: ComposeProject[] = [];

async function running(project: string, service: string) {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
  });
  expect(list).toHaveLength(1);
  return docker.getContainer(list[0]!.Id).inspect();
}

const alertLines = (part: string, site: string) =>
  part.split('\n').filter((l) => l.startsWith('» ALERT') && l.includes(site));

beforeAll(async () => {
  docker = testDocker(env);
  sf = await startTestSiteFlow({
    DOCKER_HOSTS: env.dockerHost,
    HEALTH_TIMEOUT_SECONDS: '20',
    // Other test files share this engine: keep their churn from folding our sites into a storm.
    ALERT_STORM_THRESHOLD: '1000',
    // The default grace: a crash loop inside the pull (before its rollback) stays the pull's own.
    ALERT_ACTION_GRACE_SECONDS: '30',
  });
}, 60_000);

afterAll(async () => {
  await sf?.stop();
  await Promise.all(projects.map((p) => p.down().catch(() => undefined)));
});

async function siteOn(name: string, ref: string, service: Record<string, unknown> = {}) {
  const p = createComposeProject({ name, services: { web: { image: ref, ...service } } }, env);
  projects.push(p);
  await p.up();
  return p;
}

describe('safe /pull (busybox stand-in images, test registry)', () => {
  it('a new image whose command exits 1: the pull fails, rolls back to the previous digest, one alert', async () => {
    const ref = `${registryRunImage('crashy', env)}:1`;
    const good = await pushImage(docker, env, ref, 'good', ['CMD ["sleep", "3600"]']);
    const p = await siteOn('crashy', ref, { restart: 'unless-stopped' });
    const bad = await pushImage(docker, env, ref, 'bad', ['CMD ["sh", "-c", "exit 1"]'], {
      restore: good.id,
    });
    expect(bad.digest).not.toBe(good.digest);
    expect((await running(p.name, 'web')).Image).toBe(good.id);

    // Brought up while SiteFlow watches: compose's create-then-start is no alert of its own.
    await waitFor('crashy up in the live state', () => sf.app.live.site('local', p.name)?.state === 'up');
    await sf.settled();
    expect(sf.app.monitor!.openAlerts().filter((a) => a.site === p.name)).toEqual([]);

    const from = sf.driver.transcript.length;
    const out = await sf.driver.type(`/pull ${p.name}`, /op_\w+ (succeeded|failed)/, 120_000);
    expect(out).toContain('downloaded newer image');
    expect(out).toMatch(/Not healthy after the pull: web/);
    expect(out).toContain(`web: rolled back to ${good.digest}`);
    expect(out).toMatch(/op_\w+ failed/);

    const now = await running(p.name, 'web');
    expect(now.Image).toBe(good.id);
    expect(now.State.Running).toBe(true);
    expect(now.RestartCount).toBe(0);
    // The local tag is the previous image again; the broken one is gone, and so is the keep tag.
    expect((await docker.getImage(ref).inspect()).Id).toBe(good.id);
    await expect(docker.getImage(bad.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect((await docker.getImage(good.id).inspect()).RepoTags).toEqual([ref]);

    // One notice says what happened, with Logs and Ack buttons; no site alert on top.
    await sf.driver.waitFor(/ALERT .*Pull of .*crashy failed; rolled back/, from, 10_000);
    const notices = sf.app.monitor!.openAlerts().filter((a) => a.site === p.name);
    expect(notices.map((a) => a.kind)).toEqual(['notice']);
    expect(notices[0]!.lines.join('\n')).toContain(`rolled back to ${good.digest}`);
    expect(alertLines(sf.driver.transcript.slice(from), p.name)).toHaveLength(1);
    expect(sf.driver.transcript.slice(from)).toMatch(/\[Logs: \/logs local\/\S+crashy\]/);

    const audit = sf.app.services.audit.query({ action: 'pull', site: p.name, limit: 5 });
    expect(audit.entries[0]!.outcome).toBe('failed');
  });

  it('a new image whose healthcheck fails is rolled back too', async () => {
    const ref = `${registryRunImage('sick', env)}:1`;
    const good = await pushImage(docker, env, ref, 'good', ['CMD ["sleep", "3600"]'], { healthy: true });
    const p = await siteOn('sick', ref);
    const bad = await pushImage(docker, env, ref, 'bad', ['CMD ["sleep", "3600"]'], {
      restore: good.id,
      healthy: false,
    });
    const out = await sf.driver.type(`/pull ${p.name}`, /op_\w+ (succeeded|failed)/, 120_000);
    expect(out).toMatch(/web: unhealthy/);
    expect(out).toContain(`web: rolled back to ${good.digest}`);
    expect(out).toMatch(/op_\w+ failed/);
    const now = await running(p.name, 'web');
    expect(now.Image).toBe(good.id);
    expect(now.State.Health?.Status).toBe('healthy');
    expect(bad.id).not.toBe(good.id);
  });

  it('a good new image: the pull succeeds after the health wait and the superseded image is removed', async () => {
    const ref = `${registryRunImage('fine', env)}:1`;
    const first = await pushImage(docker, env, ref, 'one', ['CMD ["sleep", "3600"]']);
    const p = await siteOn('fine', ref);
    const second = await pushImage(docker, env, ref, 'two', ['CMD ["sleep", "3600"]'], { restore: first.id });
    const out = await sf.driver.type(`/pull ${p.name}`, /op_\w+ (succeeded|failed)/, 120_000);
    expect(out).toMatch(/web: up/);
    expect(out).toContain(`web: ${first.digest.slice(7, 19)} -> ${second.digest.slice(7, 19)}`);
    expect(out).toContain(`Removed unused image ${first.id.slice(7, 19)}`);
    expect(out).toMatch(/op_\w+ succeeded/);
    expect((await running(p.name, 'web')).Image).toBe(second.id);
    await expect(docker.getImage(first.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});
