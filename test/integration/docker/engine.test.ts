/**
 * DockerodeEngine against the real engine: a labelled three-service compose project as a site,
 * restart, stats, logs (tail and follow), events, a stopped site folder and error codes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ContainerEvent, LogLine } from '../../../src/core/engine.js';
import { DockerodeEngine } from '../../../src/docker/dockerode-engine.js';
import { dockerOptionsFor, parseDockerHosts } from '../../../src/docker/hosts.js';
import {
  type ComposeProject,
  createComposeProject,
  freePort,
  runId,
  tempDir,
  testDocker,
  testLabels,
  waitFor,
} from '../../env/harness.js';

const env = inject('siteflowTestEnv');
const SECRET = `hunter2-${runId}`;

function engineFor(sitesRoot: string | null = null): DockerodeEngine {
  const parsed = parseDockerHosts(env.dockerHost);
  if (!parsed.ok) throw new Error(parsed.error.join('; '));
  return new DockerodeEngine({ name: 'local', docker: dockerOptionsFor(parsed.value[0]!), sitesRoot });
}

/** Containers this file created; removed in afterAll (never the whole run: other files share it). */
const created: Docker.Container[] = [];

/** Runs a labelled busybox container with `sh -c script`. */
async function runContainer(docker: Docker, script: string, extra: Docker.ContainerCreateOptions = {}) {
  const c = await docker.createContainer({
    Image: env.images.busybox,
    Cmd: ['sh', '-c', script],
    Labels: testLabels(),
    ...extra,
  });
  created.push(c);
  await c.start();
  return c;
}

async function collect(it: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

describe('DockerodeEngine (real engine)', () => {
  const docker = testDocker(env);
  const engine = engineFor();
  let project: ComposeProject;

  beforeAll(async () => {
    project = createComposeProject(
      {
        name: 'site',
        services: {
          web: {
            command: ['httpd', '-f', '-p', '8080', '-h', '/var/www'],
            restart: 'unless-stopped',
            environment: { SECRET_TOKEN: SECRET },
            healthcheck: {
              test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/'],
              interval: '1s',
              timeout: '2s',
              retries: 30,
            },
          },
          worker: { command: ['sleep', '3600'], restart: 'unless-stopped', ports: ['127.0.0.1::9000'] },
          init: { command: ['true'], restart: 'no' },
        },
      },
      env,
    );
    await project.up();
    // Wait for the healthcheck to pass and the one-shot to finish.
    await waitFor(
      'web healthy and init exited',
      async () => {
        const cs = await engine.containers(project.name);
        return (
          cs.find((c) => c.service === 'web')?.health === 'healthy' &&
          cs.find((c) => c.service === 'init')?.state === 'exited'
        );
      },
      60_000,
    );
  });

  afterAll(async () => {
    await project?.down().catch(() => undefined);
    for (const c of created) await c.remove({ force: true }).catch(() => undefined);
  });

  it('answers ping', async () => {
    await expect(engine.ping()).resolves.toBeUndefined();
  });

  it('lists the compose project as an up site with services, states and health', async () => {
    const site = await engine.site(project.name);
    expect(site).not.toBeNull();
    if (!site) return;
    expect(site.host).toBe('local');
    expect(site.state).toBe('up');
    expect(site.projectDir).toBe(project.dir);
    expect(site.composeFiles).toEqual([project.file]);
    const byService = Object.fromEntries(site.containers.map((c) => [c.service, c]));
    expect(Object.keys(byService).sort()).toEqual(['init', 'web', 'worker']);
    expect(byService.web).toMatchObject({
      state: 'running',
      health: 'healthy',
      status: 'up',
      project: project.name,
    });
    expect(byService.worker).toMatchObject({
      state: 'running',
      health: null,
      status: 'up',
      restartPolicy: 'unless-stopped',
    });
    expect(byService.init).toMatchObject({
      state: 'exited',
      exitCode: 0,
      restartPolicy: 'no',
      status: 'completed',
    });
    expect(byService.init?.finishedAt).toBeGreaterThan(0);
    expect(byService.worker?.ports).toEqual([
      { host: '127.0.0.1', hostPort: expect.any(Number), containerPort: 9000, protocol: 'tcp' },
    ]);
    expect(byService.web?.labels['siteflow.test']).toBe(runId);
    expect(byService.web?.image).toBe(env.images.busybox);
    // The container's environment never shows up anywhere.
    expect(JSON.stringify(site)).not.toContain(SECRET);
    expect(JSON.stringify(await engine.inspect(byService.web!.id))).not.toContain(SECRET);

    const all = await engine.listSites();
    const listed = all.find((s) => s.name === project.name);
    expect(listed?.state).toBe('up');
    expect(listed?.containers).toHaveLength(3);
  });

  it('restartContainer gives the container a new StartedAt', async () => {
    const worker = (await engine.containers(project.name)).find((c) => c.service === 'worker')!;
    await engine.restartContainer(worker.id, { timeoutSec: 0 });
    const after = await engine.inspect(worker.id);
    expect(after.state).toBe('running');
    expect(after.startedAt).not.toBeNull();
    expect(after.startedAt!).toBeGreaterThan(worker.startedAt!);
  });

  it('a killed long-running service makes the site degraded, not the one-shot', async () => {
    const worker = (await engine.containers(project.name)).find((c) => c.service === 'worker')!;
    await docker.getContainer(worker.id).stop({ t: 0 });
    const site = await engine.site(project.name);
    expect(site?.state).toBe('degraded');
    const w = site?.containers.find((c) => c.service === 'worker');
    expect(w).toMatchObject({ state: 'exited', status: 'down' });
    expect(w?.exitCode).not.toBe(0);
    expect(site?.containers.find((c) => c.service === 'init')?.status).toBe('completed');
    await docker.getContainer(worker.id).start();
    expect((await engine.site(project.name))?.state).toBe('up');
  });

  it('takes a one-shot CPU and memory sample', async () => {
    const web = (await engine.containers(project.name)).find((c) => c.service === 'web')!;
    const s = await engine.stats(web.id);
    expect(s.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(s.memoryBytes).toBeGreaterThan(0);
    expect(s.memoryLimitBytes).toBeGreaterThanOrEqual(s.memoryBytes);
    expect(s.at).toBeGreaterThan(0);
  });

  it('tails logs, demultiplexing stdout and stderr and stripping nothing', async () => {
    const c = await runContainer(
      docker,
      'for i in 1 2 3 4 5; do echo "out $i"; echo "err $i" >&2; done; printf "\\033[32mgreen\\033[0m\\n"; printf "no newline"',
    );
    await c.wait();
    const all = await collect(engine.logs(c.id));
    expect(all.filter((l) => l.stream === 'stdout').map((l) => l.text)).toEqual([
      'out 1',
      'out 2',
      'out 3',
      'out 4',
      'out 5',
      '\u001b[32mgreen\u001b[0m',
      'no newline',
    ]);
    expect(all.filter((l) => l.stream === 'stderr').map((l) => l.text)).toEqual([
      'err 1',
      'err 2',
      'err 3',
      'err 4',
      'err 5',
    ]);
    // stdout and stderr are logged by separate copiers, so `tail` is tested on one stream.
    const t = await runContainer(docker, 'for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i"; done');
    await t.wait();
    const tail = await collect(engine.logs(t.id, { tail: 3 }));
    expect(tail).toEqual([8, 9, 10].map((i) => ({ stream: 'stdout', text: `line ${i}` })));
  });

  it('follows logs until aborted', async () => {
    const c = await runContainer(docker, 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.2; done');
    const ac = new AbortController();
    const seen: LogLine[] = [];
    for await (const l of engine.logs(c.id, { follow: true, signal: ac.signal })) {
      seen.push(l);
      if (seen.length === 4) ac.abort();
      // Reaching a much later tick would mean the abort did not end the stream.
      expect(seen.length).toBeLessThan(50);
    }
    expect(seen.slice(0, 4)).toEqual([0, 1, 2, 3].map((i) => ({ stream: 'stdout', text: `tick ${i}` })));
    await c.remove({ force: true });
  });

  it('tty containers are read raw', async () => {
    const c = await runContainer(docker, 'echo one; echo two >&2', { Tty: true });
    await c.wait();
    const lines = await collect(engine.logs(c.id));
    // With a TTY both go to stdout and lines end in \r\n; nothing is stripped.
    expect(lines).toEqual([
      { stream: 'stdout', text: 'one\r' },
      { stream: 'stdout', text: 'two\r' },
    ]);
  });

  it('streams container events until aborted', async () => {
    const ac = new AbortController();
    const events: ContainerEvent[] = [];
    let id = '';
    // `since` replays from just before now, so no event is missed however late the stream connects.
    const since = Date.now() - 2_000;
    const reading = (async () => {
      for await (const e of engine.events({ signal: ac.signal, since })) {
        if (id && e.containerId === id) events.push(e);
        if (events.some((x) => x.action === 'die')) ac.abort();
      }
    })();
    const c = await docker.createContainer({
      Image: env.images.busybox,
      Cmd: ['sh', '-c', 'exit 3'],
      Labels: testLabels(),
    });
    created.push(c);
    id = c.id;
    await c.start();
    await reading;
    expect(events.map((e) => e.action)).toContain('start');
    const die = events.find((e) => e.action === 'die');
    expect(die).toMatchObject({ containerId: c.id, exitCode: 3 });
    expect(die?.at).toBeGreaterThan(0);
  });

  it('a site folder with a compose file and no containers is a stopped site', async () => {
    const root = tempDir('sites');
    const name = `sft-${runId}-stopped`;
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, 'compose.yaml'), 'services:\n  web:\n    image: nowhere\n');
    mkdirSync(join(root, 'no-compose-here'));
    const e = engineFor(root);
    const site = await e.site(name);
    expect(site).toEqual({
      host: 'local',
      name,
      projectDir: join(root, name),
      composeFiles: [join(root, name, 'compose.yaml')],
      containers: [],
      state: 'stopped',
    });
    expect(await e.site('no-compose-here')).toBeNull();
    const listed = await e.listSites();
    expect(listed.find((s) => s.name === name)?.state).toBe('stopped');
    expect(listed.some((s) => s.name === 'no-compose-here')).toBe(false);
    // The running project is listed alongside, with the folder-less project dir from its label.
    expect(listed.find((s) => s.name === project.name)?.projectDir).toBe(project.dir);
  });

  it('reports missing containers, bad names and unreachable engines by code', async () => {
    await expect(engine.inspect(`sft-${runId}-no-such-container`)).rejects.toMatchObject({
      code: 'DOCKER_NOT_FOUND',
    });
    await expect(engine.site('../etc')).rejects.toMatchObject({ code: 'INPUT_INVALID' });
    await expect(engine.containers('x,label=y')).rejects.toMatchObject({ code: 'INPUT_INVALID' });
    await expect(engine.pullImage('bad ref?')).rejects.toMatchObject({ code: 'INPUT_INVALID' });
    expect(await engine.site(`sft-${runId}-absent`)).toBeNull();

    const gone = new DockerodeEngine({
      name: 'gone',
      docker: { socketPath: join(tempDir('nosock'), 'docker.sock') },
    });
    await expect(gone.ping()).rejects.toMatchObject({ code: 'DOCKER_UNREACHABLE' });
    await expect(gone.listSites()).rejects.toMatchObject({ code: 'DOCKER_UNREACHABLE' });
    const port = await freePort();
    const refused = new DockerodeEngine({
      name: 'refused',
      docker: { host: '127.0.0.1', port, protocol: 'http' },
    });
    await expect(refused.site('blog')).rejects.toMatchObject({ code: 'DOCKER_UNREACHABLE' });
  });
});
