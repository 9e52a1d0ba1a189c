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
import { statusAnswer } from '../../support/console-driver.js';
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
  edited = createComposeProject({ name: 'edit', services: { web: sleeper, side: sleeper } }, env);
  await Promise.all([site.up(), edited.up()]);
  sf = await startTestSiteFlow({
    DOCKER_HOSTS: env.dockerHost,
    HEALTH_TIMEOUT_SECONDS: '20',
    // Other test files share this engine: keep their churn from folding our sites into a storm.
    ALERT_STORM_THRESHOLD: '1000',
    ALERT_ACTION_GRACE_SECONDS: String(GRACE_S),
    // Every site on the shared engine would be checked on a schedule: this file checks its own.
    DRIFT_CHECK_CRON: 'off',
  });
  await waitFor('sites listed', async () =>
    (
      await sf.driver.type(
        `/status ${edited.name}`,
        new RegExp(`${statusAnswer(edited.name).source}|No site`),
      )
    ).includes(' up) on local'),
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

    const status = await sf.driver.type(`/status ${site.name}`, statusAnswer(site.name));
    expect(status).toMatch(/stopped by local/);
    expect(status).toContain('no alerts until /start');
    const overview = await sf.driver.type('/status', /site\s+state/);
    expect(overview).toMatch(new RegExp(`${site.name}\\s+stopped by local`));

    // Past the end of the stop and its grace period (SiteFlow's clock moved there), the monitor
    // has judged the site: no alert.
    const ended = sf.app.services.operations.get(opId)!.finishedAt!;
    await sf.settled();
    sf.clock.advance(Math.max(0, ended + GRACE_S * 1000 + 1500 - sf.clock.now()));
    await sf.settled();
    expect(sf.app.monitor!.openAlerts().filter((a) => a.site === site.name)).toEqual([]);
    expect(sf.driver.transcript.slice(from)).not.toMatch(new RegExp(`ALERT .*${site.name}`));
  });

  it('/start starts it again and waits for it; both are audited', async () => {
    const out = await sf.driver.type(`/start ${site.name}`, opDone, 60_000);
    expect(out).toMatch(/web: up/);
    expect(out).toMatch(/op_\w+ succeeded/);
    expect((await containers(site.name)).every((c) => c.State.Running)).toBe(true);
    const status = await sf.driver.type(`/status ${site.name}`, statusAnswer(site.name));
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

async function apiDrift(project: string): Promise<Record<string, boolean>> {
  const res = await fetch(`${sf.app.webUrl}/api/status`);
  const body = (await res.json()) as {
    hosts: Array<{ sites: Array<{ name: string; containers: Array<{ service: string; drift: boolean }> }> }>;
  };
  const s = body.hosts.flatMap((h) => h.sites).find((x) => x.name === project);
  return Object.fromEntries((s?.containers ?? []).map((c) => [c.service, c.drift]));
}

describe('drift and /up', () => {
  it('an environment variable added to the compose file: drift in /status, /api/status and one notice; /up (confirmed) recreates it and the drift is gone', async () => {
    const nothing = await sf.driver.type(`/up ${edited.name}`, /nothing to change|Confirm/);
    expect(nothing).toContain('nothing to change');
    const spec = JSON.parse(readFileSync(edited.file, 'utf8'));
    spec.services.web.environment = { GREETING: 'hello' };
    writeFileSync(edited.file, JSON.stringify(spec, null, 2));
    const before = (await containers(edited.name)).find(
      (c) => c.Config.Labels['com.docker.compose.service'] === 'side',
    )!;

    const status = await sf.driver.type(`/status ${edited.name}`, statusAnswer(edited.name));
    expect(status).toMatch(/web\s+up \(drift\)/);
    expect(status).toMatch(/side\s+up\s/);
    expect(status).toMatch(/Drift: web \(compose file or \.env changed\)/);
    // The drift check (what the schedule runs, here for this site only) fills the page and API,
    // and announces the drift once, with an Up button.
    const from = sf.driver.transcript.length;
    const live = () => sf.app.live.site('local', edited.name)!;
    await sf.app.drift.checkSite(live());
    expect(await apiDrift(edited.name)).toEqual({ side: false, web: true });
    const page = await (await fetch(sf.app.webUrl)).text();
    expect(page).toMatch(/data-role="drift"[^>]*>drift</);
    await sf.driver.waitFor(
      new RegExp(`ALERT .*${edited.name} has drifted from its compose file`),
      from,
      10_000,
    );
    await sf.app.drift.checkSite(live());
    const notices = sf.driver.transcript
      .slice(from)
      .split('\n')
      .filter((l) => l.includes('has drifted'));
    expect(notices).toHaveLength(1);
    expect(sf.driver.transcript.slice(from)).toMatch(/\[Up: \/up local\/\S+edit\]/);
    expect(await sf.driver.type('/status', /site\s+state/)).toMatch(
      new RegExp(`${edited.name}\\s+up \\(drift\\)`),
    );

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
    // The end of the /up checks the site again: the drift is gone everywhere, and its notice resolves.
    await waitFor('drift gone from the API', async () => (await apiDrift(edited.name)).web === false);
    expect(await sf.driver.type(`/status ${edited.name}`, statusAnswer(edited.name))).not.toMatch(
      /\(drift\)|Drift:/,
    );
    await sf.driver.waitFor(`${edited.name} matches its compose file again`, from, 10_000);
  });
});
