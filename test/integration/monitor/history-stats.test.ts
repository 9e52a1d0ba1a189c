/**
 * History and /stats against the real engine, compose and registry, through the console
 * surface: a killed and recovered site shows uptime below 100% and its incident with a
 * duration; restarts and a failed pull show in the operations statistics (and /api/stats).
 */
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { formatDuration } from '../../../src/core/format.js';
import type { StatsReport } from '../../../src/core/stats.js';
import {
  type ComposeProject,
  createComposeProject,
  registryRunImage,
  testDocker,
  waitFor,
} from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
let docker: Docker;
let sf: TestSiteFlow;
let hist: ComposeProject;
let ops: ComposeProject;
const noPullRef = `${registryRunImage('nopull', env)}:v1`;

beforeAll(async () => {
  docker = testDocker(env);
  // Tagged locally only, never pushed: `up` works.
  await docker.getImage(env.images.busybox).tag({ repo: noPullRef.replace(/:v1$/, ''), tag: 'v1' });
  hist = createComposeProject({ name: 'hist', services: { web: { command: ['sleep', '3600'] } } }, env);
  ops = createComposeProject(
    { name: 'histops', services: { web: { image: noPullRef, command: ['sleep', '3600'] } } },
    env,
  );
  await Promise.all([hist.up(), ops.up()]);
  // Then the tag goes: the container runs on, but its image is neither local by that name nor in
  // the registry, so a pull fails (a local-only tag would be reported as local and not pulled).
  await docker.getImage(noPullRef).remove();
  sf = await startTestSiteFlow({
    DOCKER_HOSTS: env.dockerHost,
    ALERT_RECOVER_AFTER_SECONDS: '1',
    ALERT_ACTION_GRACE_SECONDS: '1',
    ALERT_STORM_THRESHOLD: '1000',
    HEALTH_TIMEOUT_SECONDS: '20',
  });
}, 120_000);

afterAll(async () => {
  await sf?.stop();
  await Promise.all([hist?.down(), ops?.down()]);
  await docker
    .getImage(noPullRef)
    .remove({ noprune: true })
    .catch(() => undefined);
});

const site = (name: string) => `local/${name}`;

describe('history and /stats', () => {
  it('after a kill and a recovery, /stats shows uptime below 100% and the incident with its duration', async () => {
    const { app, driver } = sf;
    await waitFor(
      'site recorded up',
      () => app.services.history!.stats({ since: 0, now: Date.now(), site: hist.name }).sites.length > 0,
      20_000,
    );
    const [c] = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${hist.name}`] },
    });
    await docker.getContainer(c!.Id).kill();
    await waitFor('alert opened', () => app.monitor!.openAlerts().some((a) => a.site === hist.name), 20_000);
    await driver.type(`/restart ${site(hist.name)}`, /op_\w+ succeeded/, 60_000);
    await waitFor(
      'alert resolved',
      () => !app.monitor!.openAlerts().some((a) => a.site === hist.name),
      20_000,
    );

    const r = app.services.history!.stats({
      since: Date.now() - 86_400_000,
      now: Date.now(),
      site: hist.name,
    });
    const s = r.sites[0]!;
    expect(s.uptime['24h']).toBeGreaterThan(0);
    expect(s.uptime['24h']).toBeLessThan(100);
    expect(s.incidents).toHaveLength(1);
    expect(s.incidents[0]!.resolvedAt).not.toBeNull();
    expect(s.incidents[0]!.durationMs).toBeGreaterThan(0);
    expect(s.containerExits).toBeGreaterThanOrEqual(1);

    const out = await driver.type(`/stats ${hist.name}`, /incident/);
    const row = out.split('\n').find((l) => l.includes(`local/${hist.name}`))!;
    expect(row).toMatch(/\d{1,2}\.\d\d%/);
    expect(out).toContain(`${hist.name} is down`);
    expect(out).toContain(formatDuration(s.incidents[0]!.durationMs));
  });

  it('after three restarts and one failed pull, operations statistics show counts, success rate and durations', async () => {
    const { app, driver } = sf;
    for (let i = 0; i < 3; i++) await driver.type(`/restart ${site(ops.name)}`, /op_\w+ succeeded/, 60_000);
    const pull = await driver.type(`/pull ${site(ops.name)}`, /op_\w+ (succeeded|failed)/, 60_000);
    expect(pull).toMatch(/op_\w+ failed/);
    const list = app.services.operations.list({ site: ops.name, limit: 10 });
    const dur = (kind: string) =>
      list.filter((o) => o.kind === kind).map((o) => o.finishedAt! - o.startedAt!);
    const restarts = dur('restart');
    expect(restarts).toHaveLength(3);
    const avg = restarts.reduce((a, b) => a + b, 0) / 3;

    const res = await fetch(`${app.webUrl}/api/stats?site=${ops.name}&since=1h`);
    expect(res.status).toBe(200);
    const api = (await res.json()) as StatsReport;
    const byKind = Object.fromEntries(api.operations.map((o) => [o.kind, o]));
    expect(byKind.restart).toMatchObject({ count: 3, succeeded: 3, failed: 0, successRate: 100 });
    expect(byKind.restart!.avgMs).toBeCloseTo(avg, 6);
    expect(byKind.restart!.p95Ms).toBe(Math.max(...restarts));
    expect(byKind.pull).toMatchObject({ count: 1, succeeded: 0, failed: 1, successRate: 0 });
    expect(byKind.pull!.avgMs).toBe(dur('pull')[0]);
    expect(api.sites.find((s) => s.site === ops.name)?.restartOperations).toBe(3);

    const out = await driver.type(`/stats ${ops.name} 1h`, /operation/);
    const restartRow = out.split('\n').find((l) => /\brestart\b/.test(l) && l.includes('100%'))!;
    expect(restartRow).toContain('3');
    expect(restartRow).toContain(formatDuration(avg));
    expect(out.split('\n').find((l) => /\bpull\b/.test(l) && l.includes('0.00%'))).toBeDefined();

    const bad = await fetch(`${app.webUrl}/api/stats?since=soon`);
    expect(bad.status).toBe(400);
  });
});
