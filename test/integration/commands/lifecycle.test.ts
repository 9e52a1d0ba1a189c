/**
 * /stop, /start and /up through the console surface against the real engine and compose (v1
 * here), with the monitor on: a confirmed stop is "stopped by" and not alerted on, a start
 * brings the site back, and /up applies an edit of the compose file after a confirmation that
 * lists what it will recreate.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, testDocker, waitFor } from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const GRACE_S = 2;

let docker: Docker;
let sf: TestSiteFlow;
let site: ComposeProject;
let edited: ComposeProject;

const confirmId = (out: string) => /\/confirm (cf_[0-9a-f]{16})/.exec(out)?.[1] ?? '';
const opDone = /op_\w+ (succeeded|failed|timed out|cancelled)/;

async function containers(project: string) {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`] },
  });
  return Promise.all(list.map((c) => docker.getContainer(c.Id).inspect()));
}

beforeAll(async () => {
  docker = testDocker(env);
  const sleeper = { command: ['sleep', '3600'], restart: 'unless-stopped' };
  site = createComposeProject({ name: 'life', services: { web: sleeper, worker: sleeper } }, env);
  edited = createComposeProject({ name: 'drift', services: { web: sleeper, side: sleeper } }, env);
  await Promise.all([site.up(), edited.up()]);
  sf = await startTestSiteFlow({
    DOCKER_HOSTS: env.dockerHost,
    HEALTH_TIMEOUT_SECONDS: '20',
    // Other test files share this engine: keep their churn from folding our sites into a storm.
    ALERT_STORM_THRESHOLD: '1000',
    ALERT_ACTION_GRACE_SECONDS: String(GRACE_S),
  });
  await waitFor('sites listed', async () =>
    (await sf.driver.type(`/status ${edited.name}`, /on local|No site/)).includes('on local'),
  );
}, 120_000);

afterAll(async () => {
  await sf?.stop();
  await Promise.all([site?.down(), edited?.down()]);
});

describe('/stop and /start', () => {
  it('/stop asks first, then stops the site; it is "stopped by" the user and never alerted on', async () => {
    const from = sf.driver.transcript.length;
    const ask = await sf.driver.type(`/stop ${site.name}`, /Type \/confirm (cf_[0-9a-f]{16})/);
    expect(ask).toMatch(/Stop .*life; it stays stopped \(no alerts\) until \/start/);
    expect((await containers(site.name)).every((c) => c.State.Running)).toBe(true);
    const out = await sf.driver.type(`/confirm ${confirmId(ask)}`, opDone, 60_000);
    expect(out).toMatch(/op_\w+ succeeded/);
    const opId = /(op_[0-9a-z]{26})/.exec(out)![1]!;
    expect((await containers(site.name)).some((c) => c.State.Running)).toBe(false);

    const status = await sf.driver.type(`/status ${site.name}`, 'on local');
    expect(status).toMatch(/stopped by local/);
    expect(status).toContain('no alerts until /start');
    const overview = await sf.driver.type('/status', /site\s+state/);
    expect(overview).toMatch(new RegExp(`${site.name}\\s+stopped by local`));

    // Past the end of the stop and its grace period, the monitor has judged the site: no alert.
    const ended = sf.app.services.operations.get(opId)!.finishedAt!;
    await waitFor('the stop grace period is over', async () => Date.now() > ended + GRACE_S * 1000 + 1500);
    expect(sf.app.monitor!.openAlerts().filter((a) => a.site === site.name)).toEqual([]);
    expect(sf.driver.transcript.slice(from)).not.toMatch(new RegExp(`ALERT .*${site.name}`));
  });

  it('/start starts it again and waits for it; both are audited', async () => {
    const out = await sf.driver.type(`/start ${site.name}`, opDone, 60_000);
    expect(out).toMatch(/web: up/);
    expect(out).toMatch(/op_\w+ succeeded/);
    expect((await containers(site.name)).every((c) => c.State.Running)).toBe(true);
    const status = await sf.driver.type(`/status ${site.name}`, 'on local');
    expect(status).not.toContain('stopped by');
    const audit = (action: string) =>
      sf.app.services.audit.query({ action, site: site.name, limit: 10 }).entries.map((e) => e.outcome);
    expect(audit('stop')).toContain('ok');
    expect(audit('start')).toContain('ok');
    expect(sf.app.services.operations.list({ site: site.name, limit: 5 }).map((o) => o.kind)).toEqual(
      expect.arrayContaining(['stop', 'start']),
    );
  });

  it('rejects an unknown service and runs nothing', async () => {
    const before = sf.app.services.operations.list({ limit: 500 }).length;
    expect(await sf.driver.type(`/stop ${site.name} db`, 'No service "db"')).toMatch(/Services: /);
    expect(await sf.driver.type(`/start ${site.name} db`, 'No service "db"')).toMatch(/Services: /);
    expect(sf.app.services.operations.list({ limit: 500 }).length).toBe(before);
  });
});

describe('/up', () => {
  it('an environment variable added to the compose file: /up lists the recreate, applies it, and then has nothing to do', async () => {
    const nothing = await sf.driver.type(`/up ${edited.name}`, /nothing to change|Confirm/);
    expect(nothing).toContain('nothing to change');
    const spec = JSON.parse(readFileSync(edited.file, 'utf8'));
    spec.services.web.environment = { GREETING: 'hello' };
    writeFileSync(edited.file, JSON.stringify(spec, null, 2));
    const before = (await containers(edited.name)).find(
      (c) => c.Config.Labels['com.docker.compose.service'] === 'side',
    )!;

    const ask = await sf.driver.type(`/up ${edited.name}`, /Type \/confirm (cf_[0-9a-f]{16})/);
    expect(ask).toMatch(/recreate web \(compose file or \.env changed\)/);
    expect(ask).not.toMatch(/side/);
    const out = await sf.driver.type(`/confirm ${confirmId(ask)}`, opDone, 90_000);
    expect(out).toMatch(/web: recreated/);
    expect(out).toMatch(/op_\w+ succeeded/);
    const now = await containers(edited.name);
    const web = now.find((c) => c.Config.Labels['com.docker.compose.service'] === 'web')!;
    expect(web.Config.Env).toContain('GREETING=hello');
    expect(web.State.Running).toBe(true);
    // The untouched service kept its container.
    expect(now.find((c) => c.Config.Labels['com.docker.compose.service'] === 'side')!.Id).toBe(before.Id);
    expect(await sf.driver.type(`/up ${edited.name}`, /nothing to change|Confirm/)).toContain(
      'nothing to change',
    );
  });
});
