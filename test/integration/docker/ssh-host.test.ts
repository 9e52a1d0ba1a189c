/**
 * A remote Docker host over SSH for real: a second dockerd whose socket only the sshd test user's
 * group can open, reached by SiteFlow only through a real sshd on loopback (ssh2, one connection,
 * the pinned host key). SiteFlow runs with an empty HOME and an `ssh` on PATH that records any
 * call: no system ssh and no known_hosts may be consulted.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ComposeProject,
  createComposeProject,
  registryRunImage,
  run,
  type SshdHandle,
  testDocker,
  testLabels,
  waitFor,
} from '../../env/harness.js';
import type { SecondEngine } from '../../env/second-engine.js';
import { pushImage } from '../../support/images.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';
import { type SshEdge, startSshEdge } from '../../support/ssh-edge.js';

const env = inject('siteflowTestEnv');

let edge: SshEdge;
let sshd: SshdHandle;
let e2: SecondEngine;
let site: ComposeProject;
let sf: TestSiteFlow;
let home: string;
/** edge's folder tree (SITES_ROOTS), owned by the ssh user: it stands in for that host's disk. */
let edgeRoot: string;
let pullSite: ComposeProject;
let pullFirst: { id: string; digest: string };
let docker: Docker;

/** The configuration that names edge over SSH, with `pin` as its pinned host key. */
function edgeEnv(pin: string): Record<string, string> {
  return {
    ...edge.env(pin),
    CONFIRM_PULL: 'false',
    HEALTH_TIMEOUT_SECONDS: '30',
    DOCKER_RETRY_SECONDS: '1',
    ALERT_HOST_DOWN_AFTER_SECONDS: '2',
    ALERT_RECOVER_AFTER_SECONDS: '1',
  };
}

async function startedAt(): Promise<string[]> {
  const list = await e2.docker.listContainers({
    filters: { label: [`com.docker.compose.project=${site.name}`] },
  });
  return Promise.all(list.map(async (c) => (await e2.docker.getContainer(c.Id).inspect()).State.StartedAt));
}

/** sshd log lines of logins accepted since `from` (characters into the log). */
function acceptedSince(from: number): string[] {
  return readFileSync(sshd.logPath, 'utf8')
    .slice(from)
    .split('\n')
    .filter((l) => l.includes('Accepted publickey'));
}

beforeAll(async () => {
  edge = await startSshEdge(env);
  ({ sshd, engine: e2, home, root: edgeRoot } = edge);
  docker = testDocker(env);
  // A site folder on edge with no containers yet; its bind mount is relative to the folder.
  const folder = join(edgeRoot, 'folderonly');
  mkdirSync(folder);
  writeFileSync(
    join(folder, 'docker-compose.yml'),
    JSON.stringify({
      version: '2.4',
      services: {
        web: {
          image: env.images.busybox,
          init: true,
          command: ['sh', '-c', 'echo written-on-edge > /data/out; echo folder-up; exec sleep 3600'],
          volumes: ['./data:/data'],
          labels: testLabels({ 'siteflow.manage': 'true' }),
        },
      },
      networks: { default: { labels: testLabels() } },
    }),
  );
  edge.own(folder);
  edge.own(join(folder, 'docker-compose.yml'));
  // A running site on edge whose image /pull replaces (the busybox image with a layer of its own).
  const ref = `${registryRunImage('edgepull', env)}:1`;
  pullFirst = await pushImage(docker, env, ref, 'one', ['CMD ["sleep", "3600"]']);
  pullSite = createComposeProject(
    { name: 'edgepull', services: { web: { image: ref } } },
    { ...env, dockerHost: e2.dockerHost },
  );
  await pullSite.up();
  // Compose on edge runs as the ssh user: it reads the project folder there.
  chmodSync(pullSite.dir, 0o755);
  chmodSync(pullSite.file, 0o644);
  site = createComposeProject(
    {
      name: 'edgeweb',
      services: {
        web: { command: ['sh', '-c', 'echo edge-hello-$$HOSTNAME; exec sleep 3600'], restart: 'always' },
        worker: { command: ['sleep', '3600'], restart: 'always' },
      },
    },
    { ...env, dockerHost: e2.dockerHost },
  );
  await site.up();
  chmodSync(site.dir, 0o755);
  chmodSync(site.file, 0o644);
  edge.isolate();
  sf = await startTestSiteFlow(edgeEnv(sshd.hostKeyFingerprint));
}, 300_000);

afterAll(async () => {
  await sf?.stop();
  await site?.down().catch(() => undefined);
  await pullSite?.down().catch(() => undefined);
  await edge?.stop();
});

describe('a Docker host over SSH (second dockerd behind a real sshd)', () => {
  it('has no direct way to the engine: the socket is the ssh user group’s', async () => {
    const r = await run('stat', ['-c', '%G', e2.socketPath]);
    expect(r.stdout.trim()).toBe(sshd.user);
    const edge = (edgeEnv('x').DOCKER_HOSTS ?? '').split(',').find((h) => h.startsWith('edge='));
    expect(edge).toMatch(/^edge=ssh:\/\//);
  });

  it('/status lists edge/<site>; /restart edge/<site> restarts it; /logs edge/<site> shows its lines', async () => {
    const status = await sf.driver.type('/status', /site\s+state|No sites/, 30_000);
    expect(status).toContain(`edge/${site.name}`);
    expect(status).not.toMatch(/edge: not reachable/);

    const before = await startedAt();
    expect(before).toHaveLength(2);
    const out = await sf.driver.type(`/restart edge/${site.name}`, /op_\w+ (succeeded|failed)/, 90_000);
    expect(out).toMatch(/Restarting 2 containers on edge/);
    expect(out).toMatch(/op_\w+ succeeded/);
    const after = await startedAt();
    for (const t of after) expect(before).not.toContain(t);

    const logs = await sf.driver.type(
      `/logs edge/${site.name} web lines:5`,
      /op_\w+ (succeeded|failed)/,
      30_000,
    );
    expect(logs).toMatch(/edge-hello-/);
  });

  it('sshd stopped: one host-unreachable incident, edge commands answer at once, then it works again', async () => {
    const from = sf.driver.transcript.length;
    await sshd.pause();
    await sf.driver.waitFor(/(ALERT|✎ al_\w+:) 🔴 Host edge is unreachable/, from, 60_000).catch((e) => {
      console.log(
        sf.logLines
          .filter((l) => l.includes('edge'))
          .slice(-30)
          .join(''),
      );
      console.log(sf.driver.transcript.slice(from));
      throw e;
    });

    const t0 = Date.now();
    const refused = await sf.driver.type(
      `/restart edge/${site.name}`,
      /unreachable|not reachable|No site/,
      10_000,
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(refused).toMatch(/edge/);
    const status = await sf.driver.type('/status', /site\s+state|No sites/, 15_000);
    expect(status).toMatch(/edge: not reachable \(host edge: host unreachable/);

    await sshd.resume();
    await sf.driver.waitFor(/Host edge answers again/, from, 60_000);
    const part = sf.driver.transcript.slice(from);
    const alerts = part
      .split('\n')
      .filter((l) => l.startsWith('» ALERT') && l.includes('Host edge is unreachable'));
    expect(alerts).toHaveLength(1);

    const again = await sf.driver.type(`/restart edge/${site.name}`, /op_\w+ (succeeded|failed)/, 90_000);
    expect(again).toMatch(/op_\w+ succeeded/);
  });

  it('a changed host key: edge is refused with "host key changed" and nothing runs there', async () => {
    // Another key's fingerprint stands for the pin of the key edge had before it changed.
    const other = join(home, 'other_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const oldPin = (await run('ssh-keygen', ['-lf', `${other}.pub`])).stdout.split(/\s+/)[1]!;
    rmSync(other, { force: true });
    rmSync(`${other}.pub`, { force: true });
    const logFrom = readFileSync(sshd.logPath, 'utf8').length;
    const before = await startedAt();
    const changed = await startTestSiteFlow(edgeEnv(oldPin));
    try {
      const status = await changed.driver.type('/status', /site\s+state|No sites/, 30_000);
      expect(status).toMatch(/edge: not reachable \(host edge: host key changed: .* presented SHA256:/);
      expect(status).toContain(sshd.hostKeyFingerprint);
      expect(status).not.toContain(`edge/${site.name}`);
      const refused = await changed.driver.type(
        `/restart edge/${site.name}`,
        /host key changed|No site/,
        15_000,
      );
      expect(refused).toMatch(/host key changed|not reachable: edge/);
    } finally {
      await changed.stop();
    }
    expect(acceptedSince(logFrom)).toEqual([]);
    expect(await startedAt()).toEqual(before);
  });

  it('a key edge does not accept: "authentication failed", nothing runs there', async () => {
    const wrong = join(home, 'wrong_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrong]);
    const logFrom = readFileSync(sshd.logPath, 'utf8').length;
    const refused = await startTestSiteFlow({
      ...edgeEnv(sshd.hostKeyFingerprint),
      DOCKER_SSH_KEY_PATH: wrong,
    });
    try {
      const status = await refused.driver.type('/status', /site\s+state|No sites/, 30_000);
      expect(status).toMatch(/edge: not reachable \(host edge: authentication failed: .* refused the key/);
    } finally {
      await refused.stop();
      rmSync(wrong, { force: true });
      rmSync(`${wrong}.pub`, { force: true });
    }
    expect(acceptedSince(logFrom)).toEqual([]);
  });

  it('never ran a system ssh nor read a known_hosts file', () => {
    expect(edge.sshCalled()).toBe(false);
    expect(existsSync(join(home, '.ssh'))).toBe(false);
  });
});

describe('compose and site folders on the SSH host (through the same connection)', () => {
  const composeOnEdge = () => sf.app.services.hosts.composeEnv('edge');

  it('lists edge’s site folders over SFTP, merged with its compose projects', async () => {
    const status = await sf.driver.type('/status', /site\s+state|No sites/, 30_000);
    expect(status).toContain('edge/folderonly');
    expect(status).toContain(`edge/${site.name}`);
    expect(status).toContain(`edge/${pullSite.name}`);
  });

  it('runs compose in the folder on edge: bind mounts resolve there, output streams, down cleans up', async () => {
    const dir = join(edgeRoot, 'folderonly');
    const lines: string[] = [];
    const { compose } = sf.app.services;
    expect(composeOnEdge().DOCKER_HOST).toMatch(/^ssh:\/\//);
    await compose.run(dir, 'folderonly', ['up', '-d'], {
      env: composeOnEdge(),
      onLine: (l) => lines.push(l),
    });
    expect(lines.join('\n')).toMatch(/folderonly_web_1|folderonly-web-1/);
    await waitFor('the container wrote into edge’s folder', async () => existsSync(join(dir, 'data', 'out')));
    expect(readFileSync(join(dir, 'data', 'out'), 'utf8')).toBe('written-on-edge\n');
    const onEdge = await e2.docker.listContainers({
      filters: { label: ['com.docker.compose.project=folderonly'] },
    });
    expect(onEdge).toHaveLength(1);
    await compose.run(dir, 'folderonly', ['down', '-v'], { env: composeOnEdge() });
    const left = await e2.docker.listContainers({
      all: true,
      filters: { label: ['com.docker.compose.project=folderonly'] },
    });
    expect(left).toHaveLength(0);
  });

  it('a cancelled compose run on edge: COMPOSE_CANCELLED, and the remote process is gone', async () => {
    const ac = new AbortController();
    const lines: string[] = [];
    const running = sf.app.services.compose.run(site.dir, site.name, ['logs', '-f', '--no-color'], {
      env: composeOnEdge(),
      signal: ac.signal,
      onLine: (l) => {
        lines.push(l);
        if (l.includes('edge-hello')) ac.abort();
      },
    });
    await expect(running).rejects.toMatchObject({ code: 'COMPOSE_CANCELLED' });
    expect(lines.join('\n')).toContain('edge-hello');
    const composeProcs = async () => {
      const r = await run('ps', ['-u', sshd.user, '-o', 'pid=,args=']).catch(() => ({ stdout: '' }));
      return r.stdout.split('\n').filter((l) => /compose/.test(l));
    };
    await waitFor(
      'no compose process of the ssh user left',
      async () => (await composeProcs()).length === 0,
      15_000,
    );
  });

  it('/pull edge/<site>: the engine pulls over the connection, compose recreates on edge', async () => {
    const ref = `${registryRunImage('edgepull', env)}:1`;
    const second = await pushImage(docker, env, ref, 'two', ['CMD ["sleep", "3600"]'], {
      restore: pullFirst.id,
    });
    const out = await sf.driver.type(`/pull edge/${pullSite.name}`, /op_\w+ (succeeded|failed)/, 180_000);
    expect(out).toContain(`web: ${pullFirst.digest.slice(7, 19)} -> ${second.digest.slice(7, 19)}`);
    expect(out).toMatch(/op_\w+ succeeded/);
    const list = await e2.docker.listContainers({
      filters: { label: [`com.docker.compose.project=${pullSite.name}`] },
    });
    expect(list.map((c) => c.ImageID)).toEqual([second.id]);
  });
});
