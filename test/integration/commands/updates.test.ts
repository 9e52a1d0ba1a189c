/**
 * Update checks against the real test registry, through the console surface: /updates compares
 * the running digest with the tag's digest in the registry (busybox stand-in images), the
 * scheduled check announces a new digest once with Pull / Skip this version / Logs, and its
 * Pull command recreates the service on the new digest. A registry that does not answer only
 * makes its own images "not checked".
 */
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ComposeProject,
  createComposeProject,
  registryRunImage,
  runId,
  testDocker,
} from '../../env/harness.js';
import { pushImage } from '../../support/images.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const short = (d: string) => d.slice(7, 19);

let docker: Docker;
let sf: TestSiteFlow;
let site: ComposeProject;
let auto: ComposeProject;
const autoRef = `${registryRunImage('updauto', env)}:1`;
let autoFirst: { id: string; digest: string };
let first: { id: string; digest: string };
const ref = `${registryRunImage('upd', env)}:1`;
const deadRef = `127.0.0.1:1/siteflow-test/run-${runId}/none:1`;

beforeAll(async () => {
  docker = testDocker(env);
  first = await pushImage(docker, env, ref, 'one', ['CMD ["sleep", "3600"]']);
  site = createComposeProject(
    {
      name: 'upd',
      services: {
        web: { image: ref },
        // Its registry is a loopback port nothing listens on: it must not hold up the others.
        dead: { image: deadRef, command: ['sleep', '3600'] },
      },
    },
    env,
  );
  // The "dead" service runs the busybox test image under a name whose registry does not answer;
  await docker.getImage(env.images.busybox).tag({ repo: deadRef.slice(0, -2), tag: '1' });
  autoFirst = await pushImage(docker, env, autoRef, 'one', ['CMD ["sleep", "3600"]']);
  auto = createComposeProject(
    { name: 'updauto', services: { web: { image: autoRef, labels: { 'siteflow.update': 'auto' } } } },
    env,
  );
  await Promise.all([site.up(), auto.up()]);
  sf = await startTestSiteFlow({
    DOCKER_HOSTS: env.dockerHost,
    HEALTH_TIMEOUT_SECONDS: '20',
    ALERT_STORM_THRESHOLD: '1000',
    // The schedule is driven by the test (runOnce is what the cron calls).
    UPDATE_CHECK_CRON: 'off',
    DRIFT_CHECK_CRON: 'off',
    REGISTRY_TIMEOUT_SECONDS: '3',
    // A window that does not come during the test: runWindow is what it runs.
    UPDATE_WINDOW_CRON: '0 0 1 1 *',
  });
}, 120_000);

afterAll(async () => {
  await sf?.stop();
  await Promise.all([site?.down(), auto?.down()]);
  await docker
    ?.getImage(deadRef)
    .remove()
    .catch(() => undefined);
});

describe('update checks (busybox stand-in images, test registry)', () => {
  it('/updates: up to date, then "update available" with both short digests once a new image is pushed', async () => {
    const now = await sf.driver.type(`/updates ${site.name}`, /updates? available/);
    expect(now).toMatch(
      new RegExp(`web\\s+\\S+upd:1\\s+${short(first.digest)}\\s+${short(first.digest)}\\s+up to date`),
    );
    const second = await pushImage(docker, env, ref, 'two', ['CMD ["sleep", "3600"]'], { restore: first.id });
    const out = await sf.driver.type(`/updates ${site.name}`, /updates? available/);
    expect(out).toContain('1 update available');
    expect(out).toMatch(
      new RegExp(`web\\s+\\S+upd:1\\s+${short(first.digest)}\\s+${short(second.digest)}\\s+update available`),
    );
    // The other service's registry never answers: not checked, with the reason, and no delay for web.
    expect(out).toMatch(/dead\s+.*not checked: /);
  });

  it('the scheduled check posts one notice with Pull / Skip / Logs; a second check posts nothing; Pull recreates on the new digest', async () => {
    const from = sf.driver.transcript.length;
    const results = await sf.app.updates.runOnce();
    const web = results.find((u) => u.site === site.name && u.service === 'web')!;
    expect(web.status).toBe('update available');
    await sf.driver.waitFor(new RegExp(`ALERT .*Update available for ${site.name}: web`), from, 10_000);
    await sf.app.updates.runOnce();
    const part = sf.driver.transcript.slice(from);
    expect(part.split('\n').filter((l) => l.startsWith('» ALERT') && l.includes(site.name))).toHaveLength(1);
    expect(part).not.toMatch(/↳ al_\w+: Update available/);
    // This site's notice: other test files' sites on the shared engine get notices of their own.
    const pull = new RegExp(`\\[Pull: /pull (\\S*${site.name}) web\\]`).exec(part);
    expect(pull).not.toBeNull();
    expect(part).toMatch(/\[Skip this version: \/ack al_\w+\]/);
    expect(part).toMatch(/\[Logs: \/logs \S+ web\]/);

    const out = await sf.driver.type(`/pull ${pull![1]} web`, /op_\w+ (succeeded|failed)/, 120_000);
    expect(out).toMatch(/op_\w+ succeeded/);
    const list = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${site.name}`, 'com.docker.compose.service=web'] },
    });
    const img = await docker.getImage(list[0]!.ImageID).inspect();
    expect(img.RepoDigests).toContain(`${ref.slice(0, ref.lastIndexOf(':'))}@${web.remote}`);
    const after = await sf.driver.type(`/updates ${site.name}`, /updates? available/);
    expect(after).toMatch(/web\s+.*up to date/);
  });

  it('siteflow.update=auto: not announced, but pulled in the update window (health wait as /pull) and reported', async () => {
    const second = await pushImage(docker, env, autoRef, 'two', ['CMD ["sleep", "3600"]'], {
      restore: autoFirst.id,
    });
    const from = sf.driver.transcript.length;
    const checked = await sf.app.updates.runOnce();
    expect(checked.find((u) => u.site === auto.name)).toMatchObject({
      policy: 'auto',
      status: 'update available',
    });
    await sf.app.updates.runWindow();
    const op = sf.app.services.operations.list({ site: auto.name, limit: 5 })[0]!;
    expect(op).toMatchObject({ kind: 'pull', status: 'succeeded' });
    expect(op.requestedBy.name).toBe('update window');
    const [c] = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${auto.name}`, 'com.docker.compose.service=web'] },
    });
    expect(c!.ImageID).toBe(second.id);
    await sf.driver.waitFor(
      new RegExp(`ALERT .*Updated ${auto.name}: web \\(siteflow.update=auto\\)`),
      from,
      10_000,
    );
    const part = sf.driver.transcript.slice(from);
    expect(part).not.toMatch(new RegExp(`Update available for ${auto.name}`));
  });
});
