/**
 * The monitor against the real engine, through the console surface: a kill alerts once and
 * recovers once, a restart loop is one flapping alert, twenty containers killed at once are
 * one alert with the twenty in its thread, SiteFlow's own /restart is quiet (its events land
 * in the operation's output), silences suppress, and a restart of SiteFlow neither duplicates
 * an open alert nor loses its recovery. "Nothing more happened" is asserted after a condition
 * and `sf.settled()` (every event so far judged, every delivery attempted), never after a sleep;
 * the grace window of SiteFlow's own /restart is passed by moving SiteFlow's clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ComposeProject,
  createComposeProject,
  killContainer,
  run,
  testDocker,
  waitFor,
} from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
const sfEnv = {
  DOCKER_HOSTS: env.dockerHost,
  // Other test files share this engine: keep their churn from folding our sites into a storm.
  ALERT_STORM_THRESHOLD: '1000',
  ALERT_RECOVER_AFTER_SECONDS: '1',
  ALERT_FLAP_CHANGES: '4',
  ALERT_ACTION_GRACE_SECONDS: '5',
  HEALTH_TIMEOUT_SECONDS: '30',
};

let docker: Docker;
let dir: string;
let sf: TestSiteFlow;
const projects: Record<string, ComposeProject> = {};

function project(
  name: string,
  services: Parameters<typeof createComposeProject>[0]['services'],
): ComposeProject {
  const p = createComposeProject({ name, services }, env);
  projects[name] = p;
  return p;
}

async function containerIds(p: ComposeProject): Promise<string[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${p.name}`] },
  });
  return list.map((c) => c.Id);
}

/** Top-level alert messages about a site in the transcript. */
function alertsFor(transcript: string, site: string): string[] {
  return transcript.split('\n').filter((l) => l.startsWith('» ALERT') && l.includes(`${site} is`));
}

function alertId(transcript: string, site: string): string {
  const line = alertsFor(transcript, site)[0] ?? '';
  return /(al_[0-9a-z]+)\]/.exec(line)?.[1] ?? 'none';
}

beforeAll(async () => {
  docker = testDocker(env);
  const sleeper = { command: ['sleep', '3600'], restart: 'unless-stopped' };
  project('mkill', { web: sleeper });
  project('mloop', { worker: { command: ['sh', '-c', 'sleep 0.3; exit 1'], restart: 'always' } });
  project('mmany', { web: { ...sleeper, scale: 20 } });
  project('mrestart', { web: sleeper, init: { command: ['sh', '-c', 'echo done'], restart: 'no' } });
  project('msilent', { web: sleeper });
  project('mpersist', { web: sleeper });
  // The loop starts in its own test, so Docker's restart backoff (doubling up to a minute) is short there.
  await Promise.all(
    Object.values(projects)
      .filter((p) => p !== projects.mloop)
      .map((p) => p.up()),
  );
  dir = mkdtempSync(join(tmpdir(), 'sf-monitor-'));
  sf = await startTestSiteFlow(sfEnv, { dir });
  await waitFor('sites listed', async () =>
    (await sf.driver.type('/status', /site\s+state/)).includes(projects.mpersist!.name),
  );
}, 240_000);

afterAll(async () => {
  await sf?.stop();
  await Promise.all(Object.values(projects).map((p) => p.down().catch(() => undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('monitor against the real engine', () => {
  it('a kill: one alert within 2 s of the death; its return: one recovery', async () => {
    const p = projects.mkill!;
    const [id] = await containerIds(p);
    const from = sf.driver.transcript.length;
    const died = await killContainer(docker, id!);
    await sf.driver.waitFor(new RegExp(`ALERT .*${p.name} is down`), from, 5000);
    expect(Date.now() - died).toBeLessThan(2000);
    await run('docker', ['start', id!], { env: cliEnv });
    await sf.driver.waitFor(new RegExp(`${p.name} recovered after`), from, 15_000);
    // Every event of the kill and the start judged, every delivery attempted: still one of each.
    await sf.settled();
    const part = sf.driver.transcript.slice(from);
    expect(alertsFor(part, p.name)).toHaveLength(1);
    expect(part.match(new RegExp(`${p.name} recovered after`, 'g'))).toHaveLength(1);
  });

  it('a container restarting in a loop: one flapping alert, not one per restart', async () => {
    const p = projects.mloop!;
    const from = sf.driver.transcript.length;
    await p.up();
    await sf.driver.waitFor(new RegExp(`Now flapping: ${p.name}`), from, 30_000);
    // It loops on: two more restarts, judged with all before them; an alert per restart would
    // be posted by then.
    const [id0] = await containerIds(p);
    const restarts = async () => (await docker.getContainer(id0!).inspect()).RestartCount;
    const base = await restarts();
    await waitFor('two more restarts', async () => (await restarts()) >= base + 2, 60_000);
    await sf.settled();
    const transcript = sf.driver.transcript.slice(from);
    expect(alertsFor(transcript, p.name)).toHaveLength(1);
    expect(transcript.match(/Now flapping/g)?.length).toBeGreaterThanOrEqual(1);
    const id = alertId(transcript, p.name);
    expect(transcript.split('\n').filter((l) => l.includes(`${id}: Now flapping`))).toHaveLength(1);
  });

  it('twenty containers killed at once: one alert, the twenty listed in its thread', async () => {
    const p = projects.mmany!;
    const ids = await containerIds(p);
    expect(ids).toHaveLength(20);
    const from = sf.driver.transcript.length;
    await run('docker', ['kill', ...ids], { env: cliEnv });
    // The kills land over a few hundred milliseconds: the one alert may open as "degraded" (some
    // containers still up) and is then edited to "down", or open as "down" directly.
    await sf.driver.waitFor(new RegExp(`(ALERT|✎ al_[0-9a-z]+:) .*${p.name} is down`), from, 10_000);
    const id = alertId(sf.driver.transcript.slice(from), p.name);
    const thread = () =>
      sf.driver.transcript
        .slice(from)
        .split('\n')
        .filter((l) => l.includes(`↳ ${id}:`))
        .join('\n');
    const listed = (n: number) => new RegExp(`${p.name}_web_${n}\\b`).test(thread());
    await waitFor(
      'the twenty listed in the thread',
      () => Array.from({ length: 20 }, (_, i) => i + 1).every(listed),
      15_000,
    );
    // All twenty deaths judged: still the one alert.
    await sf.settled();
    expect(alertsFor(sf.driver.transcript.slice(from), p.name)).toHaveLength(1);
    await run('docker', ['start', ...ids], { env: cliEnv });
    await sf.driver.waitFor(new RegExp(`${id}: ${p.name} recovered after`), from, 20_000);
    await sf.settled();
    expect(sf.driver.transcript.slice(from).match(new RegExp(`${p.name} recovered after`, 'g'))).toHaveLength(
      1,
    );
  });

  it('/restart through SiteFlow: zero alerts, the events appear in the operation output', async () => {
    const p = projects.mrestart!;
    const from = sf.driver.transcript.length;
    const out = await sf.driver.type(`/restart ${p.name}`, /op_\w+ (succeeded|failed)/, 60_000);
    expect(out).toMatch(/succeeded/);
    expect(out).toMatch(/expected: .*web.* (stopped|killed|exited|started).*: restart by @local/);
    // Its events judged (as notes), then SiteFlow's clock moved past the action's grace window:
    // the rule tick of settled() would open (and deliver) an alert for a site still bad by then.
    await sf.settled();
    sf.clock.advance((Number(sfEnv.ALERT_ACTION_GRACE_SECONDS) + 1) * 1000);
    await sf.settled();
    expect(alertsFor(sf.driver.transcript.slice(from), p.name)).toHaveLength(0);
  });

  it('a silence suppresses (still recorded); its end re-enables alerts', async () => {
    const p = projects.msilent!;
    const [id] = await containerIds(p);
    const from = sf.driver.transcript.length;
    await sf.driver.type(`/silence ${p.name} 1h "planned work"`, /Silenced .* until/);
    expect(await sf.driver.type('/silences', /silence/)).toContain('planned work');
    await run('docker', ['kill', id!], { env: cliEnv });
    // The alert opens (recorded in the audit log) but is not posted.
    await waitFor(
      'the silenced alert recorded',
      () => sf.app.services.audit.query({ action: 'alert-open', site: p.name }).entries.length > 0,
      10_000,
    );
    await sf.settled();
    expect(alertsFor(sf.driver.transcript.slice(from), p.name)).toHaveLength(0);
    const audit = await sf.driver.type('/audit action:alert-open limit:20', /audit|entries|no /i);
    expect(audit).toContain(p.name);
    await sf.driver.type(`/unsilence ${p.name}`, /Unsilenced/);
    await sf.driver.waitFor(new RegExp(`ALERT .*${p.name} is down`), from, 5000);
    await run('docker', ['start', id!], { env: cliEnv });
    await sf.driver.waitFor(new RegExp(`${p.name} recovered after`), from, 15_000);
    expect(alertsFor(sf.driver.transcript.slice(from), p.name)).toHaveLength(1);
  });

  it('SiteFlow restarted while an alert is open: no duplicate, and the recovery still arrives', async () => {
    const p = projects.mpersist!;
    const [id] = await containerIds(p);
    const from = sf.driver.transcript.length;
    await run('docker', ['kill', id!], { env: cliEnv });
    await sf.driver.waitFor(new RegExp(`ALERT .*${p.name} is down`), from, 5000);
    const first = alertId(sf.driver.transcript.slice(from), p.name);
    await sf.stop();
    // The same clock (it may have been moved ahead): time goes on across the restart.
    sf = await startTestSiteFlow(sfEnv, { dir, clock: sf.clock });
    await waitFor('sites listed again', async () =>
      (await sf.driver.type('/status', /site\s+state/)).includes(p.name),
    );
    // The restored alert judged against the fresh listing: nothing posted, nothing waiting to be.
    await sf.settled();
    expect(alertsFor(sf.driver.transcript, p.name)).toHaveLength(0);
    expect(sf.app.monitor!.queueLength()).toBe(0);
    expect(await sf.driver.type('/silences', /open alert/)).toContain(first);
    await run('docker', ['start', id!], { env: cliEnv });
    await sf.driver.waitFor(new RegExp(`${first}: ${p.name} recovered after`), 0, 15_000);
    expect(alertsFor(sf.driver.transcript, p.name)).toHaveLength(0);
  });
});
