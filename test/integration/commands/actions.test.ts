/**
 * /status, /restart, /pull, /logs and /cancel through the console surface against the real
 * engine, compose and local registry of the test environment.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ComposeProject,
  createComposeProject,
  registryRunImage,
  run,
  runId,
  testDocker,
  testLabels,
  waitFor,
} from '../../env/harness.js';
import { statusAnswer } from '../../support/console-driver.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };

let docker: Docker;
let sf: TestSiteFlow;
let site: ComposeProject;
let stubborn: ComposeProject;

async function startedAt(project: string, service: string): Promise<string> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
  });
  const info = await docker.getContainer(list[0]!.Id).inspect();
  return info.State.StartedAt;
}

const opId = (out: string) => /\((op_[0-9a-z]{26})\)/.exec(out)?.[1] ?? '';

beforeAll(async () => {
  docker = testDocker(env);
  site = createComposeProject(
    {
      name: 'three',
      services: {
        web: {
          command: ['httpd', '-f', '-p', '8080', '-h', '/etc'],
          healthcheck: {
            test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/hostname'],
            interval: '1s',
            retries: 5,
          },
        },
        // $$ escapes compose interpolation; the colour codes must not reach the chat.
        worker: {
          command: [
            'sh',
            '-c',
            'i=0; while true; do i=$$((i+1)); printf "\\033[31mtick %s\\033[0m\\n" $$i; sleep 0.2; done',
          ],
        },
        init: { command: ['sh', '-c', 'echo migrated'], restart: 'no' },
      },
    },
    env,
  );
  // A container that ignores SIGTERM: its restart takes the whole stop timeout (10 s).
  stubborn = createComposeProject(
    {
      name: 'stubborn',
      services: { app: { init: false, command: ['sh', '-c', 'trap "" TERM; while true; do sleep 1; done'] } },
    },
    env,
  );
  await Promise.all([site.up(), stubborn.up()]);
  sf = await startTestSiteFlow({
    MONITOR_ENABLED: 'false',
    DOCKER_HOSTS: env.dockerHost,
    ACTION_TIMEOUT_SECONDS: '8',
    HEALTH_TIMEOUT_SECONDS: '30',
  });
  await waitFor('web healthy', async () =>
    (await sf.driver.type(`/status ${site.name}`, statusAnswer(site.name))).includes('healthy'),
  );
});

afterAll(async () => {
  await sf?.stop();
  // A cancelled restart goes on inside the engine (the API cannot take it back).
  await Promise.all([site?.down(), stubborn?.forceDown()]);
});

describe('actions through the console', () => {
  it('/status lists the site with its services; the one-shot init counts as completed', async () => {
    const all = await sf.driver.type('/status', /site\s+state/);
    expect(all).toMatch(new RegExp(`${site.name}\\s+up\\s+3/3`));
    const one = await sf.driver.type(`/status ${site.name}`, statusAnswer(site.name));
    expect(one).toMatch(/init\s+completed/);
    expect(one).toMatch(/web\s+up\s+healthy/);
    expect(one).toMatch(/worker\s+up/);
  });

  it('/restart restarts every running container and reports health', async () => {
    const before = { web: await startedAt(site.name, 'web'), worker: await startedAt(site.name, 'worker') };
    const init = await startedAt(site.name, 'init');
    const out = await sf.driver.type(`/restart ${site.name}`, /op_\w+ (succeeded|failed)/, 60_000);
    expect(out).toContain('web: started');
    expect(out).toContain('worker: started');
    expect(out).toMatch(/web: up \(healthy\)/);
    expect(out).toMatch(/succeeded, exit 0/);
    expect(await startedAt(site.name, 'web')).not.toBe(before.web);
    expect(await startedAt(site.name, 'worker')).not.toBe(before.worker);
    expect(await startedAt(site.name, 'init')).toBe(init); // a finished one-shot is not re-run
    const status = await sf.driver.type(`/status ${site.name}`, statusAnswer(site.name));
    expect(status).toMatch(/web\s+up\s+healthy/);
  });

  it('/restart site service restarts only that service', async () => {
    const before = { web: await startedAt(site.name, 'web'), worker: await startedAt(site.name, 'worker') };
    const out = await sf.driver.type(`/restart ${site.name} web`, /op_\w+ (succeeded|failed)/, 60_000);
    expect(out).not.toContain('worker: stopping');
    expect(await startedAt(site.name, 'web')).not.toBe(before.web);
    expect(await startedAt(site.name, 'worker')).toBe(before.worker);
  });

  it('refuses a second /restart while one runs, naming it; /status still answers', async () => {
    const first = await sf.driver.type(`/restart ${stubborn.name}`, 'Restarting');
    const id = opId(first);
    expect(id).not.toBe('');
    const second = await sf.driver.type(`/restart ${stubborn.name}`, 'is busy');
    expect(second).toContain(id);
    expect(second).toMatch(/restart by local \(console\)/);
    const status = await sf.driver.type(`/status ${stubborn.name}`, statusAnswer(stubborn.name));
    expect(status).toMatch(/app\s+/);
    // The stubborn container outlives the 8 s action limit: the run times out and frees the site.
    await sf.driver.waitFor(new RegExp(`${id} timed out`), 0, 30_000);
    const op = sf.app.services.operations.get(id)!;
    expect(op.status).toBe('timed_out');
    const log = readFileSync(join(sf.dir, 'data', 'logs', op.logPath!), 'utf8');
    expect(log).toContain('app: stopping');
    expect(log).toMatch(/Timed out/);
    const again = await sf.driver.type(`/restart ${stubborn.name}`, 'Restarting');
    expect(again).not.toContain('is busy');
    const againId = opId(again);
    const cancel = await sf.driver.type(`/cancel ${againId}`, 'Cancelling');
    expect(cancel).toContain(againId);
    await sf.driver.waitFor(new RegExp(`${againId} cancelled`), 0, 30_000);
    expect(sf.app.services.operations.get(againId)!.status).toBe('cancelled');
    const audit = sf.app.services.audit.query({ action: 'restart', site: stubborn.name, limit: 10 });
    expect(audit.entries.map((e) => e.outcome)).toEqual(
      expect.arrayContaining(['rejected', 'timed_out', 'cancelled']),
    );
  });

  it('/logs shows the last lines with control sequences stripped, and follows for a bounded time', async () => {
    const out = await sf.driver.type(`/logs ${site.name} worker lines:3`, /op_\w+ succeeded/);
    expect(out.match(/│ tick \d+\n/g)).toHaveLength(3);
    expect(out).not.toContain('\u001b');
    const follow = await sf.driver.type(
      `/logs ${site.name} worker lines:1 follow:2s`,
      /op_\w+ succeeded/,
      20_000,
    );
    expect(follow).toContain('Stopped following after 2 s');
    expect((follow.match(/│ tick \d+/g) ?? []).length).toBeGreaterThan(3);
  });

  it('asks for a confirmation before /pull when CONFIRM_PULL is on, and runs only once confirmed', async () => {
    const strict = await startTestSiteFlow({
      MONITOR_ENABLED: 'false',
      DOCKER_HOSTS: env.dockerHost,
      CONFIRM_PULL: 'true',
    });
    try {
      const ask = await strict.driver.type(`/pull ${site.name} worker`, /Type \/confirm (cf_[0-9a-f]{16})/);
      const id = /\/confirm (cf_[0-9a-f]{16})/.exec(ask)![1]!;
      expect(strict.app.services.operations.list({ limit: 10 })).toHaveLength(0);
      expect(await strict.driver.type(`/confirm ${id} no`, 'Called off')).toContain('nothing was done');
      expect(await strict.driver.type(`/confirm ${id}`, 'Nothing was done')).toMatch(/no longer open/);
      expect(strict.app.services.operations.list({ limit: 10 })).toHaveLength(0);
      const again = await strict.driver.type(`/pull ${site.name} worker`, /Type \/confirm (cf_[0-9a-f]{16})/);
      const id2 = /\/confirm (cf_[0-9a-f]{16})/.exec(again)![1]!;
      const ran = await strict.driver.type(`/confirm ${id2}`, /op_\w+ (succeeded|failed)/, 60_000);
      expect(ran).toMatch(/Pulling worker of/);
      expect(strict.app.services.operations.list({ limit: 10 })).toHaveLength(1);
    } finally {
      await strict.stop();
    }
  });

  it('rejects bad input with a clear error, runs nothing, and audits it as rejected', async () => {
    const before = sf.app.services.operations.list({ limit: 500 }).length;
    expect(await sf.driver.type('/restart ../x', 'Invalid input')).toContain('site:');
    expect(await sf.driver.type('/restart no-such-site', 'No site')).toContain('/status');
    expect(await sf.driver.type(`/restart ${site.name} db`, 'No service "db"')).toMatch(/Services: .*web/);
    expect(await sf.driver.type(`/restart ${'a'.repeat(10_000)}`, 'Invalid input')).toContain('too long');
    expect(sf.app.services.operations.list({ limit: 500 }).length).toBe(before);
    const rejected = sf.app.services.audit.query({ action: 'restart', outcome: 'rejected', limit: 50 });
    expect(rejected.entries.length).toBeGreaterThanOrEqual(4);
  });
});

describe('/pull against the local registry', () => {
  let app: ComposeProject;
  const ref = `${registryRunImage('pullsite', env)}:v1`;

  beforeAll(async () => {
    await docker.getImage(env.images.busybox).tag({ repo: ref.replace(/:v1$/, ''), tag: 'v1' });
    await run('docker', ['push', ref], { env: cliEnv });
    app = createComposeProject(
      {
        name: 'pull',
        services: { web: { image: ref, command: ['sleep', '3600'] }, side: { command: ['sleep', '3600'] } },
      },
      env,
    );
    await app.up();
  });

  afterAll(async () => {
    await app?.down();
  });

  it('pulls a newer image pushed under the same tag, recreates the service and reports digests', async () => {
    const oldId = (
      await docker.listContainers({
        filters: { label: [`com.docker.compose.project=${app.name}`, 'com.docker.compose.service=web'] },
      })
    )[0]!.Id;
    // A new layer under the same tag, pushed, and the local copy of the tag dropped back to the old one.
    const c = await docker.createContainer({
      Image: ref,
      Cmd: ['sh', '-c', `echo ${runId} > /new.txt`],
      Labels: testLabels(),
    });
    await c.start();
    await c.wait();
    await c.commit({ repo: ref.replace(/:v1$/, ''), tag: 'v2' });
    await c.remove({ force: true });
    await docker.getImage(`${ref.replace(/:v1$/, '')}:v2`).tag({ repo: ref.replace(/:v1$/, ''), tag: 'v1' });
    await run('docker', ['push', ref], { env: cliEnv });
    await docker
      .getImage(ref)
      .remove({ force: true })
      .catch(() => undefined);
    await docker
      .getImage(`${ref.replace(/:v1$/, '')}:v2`)
      .remove({ force: true })
      .catch(() => undefined);

    const out = await sf.driver.type(`/pull ${app.name} web`, /op_\w+ (succeeded|failed)/, 120_000);
    expect(out).toMatch(/» .*pullsite:v1: .*layers/); // aggregated progress, one line per image
    expect(out).toContain('downloaded newer image');
    expect(out).toMatch(/Recreating web/);
    expect(out).toMatch(/web: [0-9a-f]{12} -> [0-9a-f]{12}/);
    expect(out).toMatch(/succeeded, exit 0/);
    const [oldD, newD] = /web: ([0-9a-f]{12}) -> ([0-9a-f]{12})/.exec(out)!.slice(1);
    expect(oldD).not.toBe(newD);
    const now = (
      await docker.listContainers({
        filters: { label: [`com.docker.compose.project=${app.name}`, 'com.docker.compose.service=web'] },
      })
    )[0]!;
    expect(now.Id).not.toBe(oldId);
    // The progress was not thousands of lines: the log keeps one line per progress state change at most.
    const id = opId(out);
    const op = sf.app.services.operations.get(id)!;
    expect(op.status).toBe('succeeded');
    expect(existsSync(join(sf.dir, 'data', 'logs', op.logPath!))).toBe(true);
  });
});
