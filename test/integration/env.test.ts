/**
 * Proves the real test environment is real: the Docker engine, the loopback registry, compose v1,
 * label-based cleanup of dead runs, a private sshd with SFTP, and a private caddy with reloadable sites.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, utils as sshUtils } from 'ssh2';
import { describe, expect, inject, it } from 'vitest';
import {
  cleanupStale,
  createComposeProject,
  freePort,
  isRunAlive,
  registryDigest,
  registryRunImage,
  registryRunPrefix,
  runId,
  startCaddy,
  startSshd,
  TEST_LABEL,
  testDocker,
  testLabels,
} from '../env/harness.js';

const env = inject('siteflowTestEnv');
const docker = testDocker(env);

async function followDone(stream: NodeJS.ReadableStream): Promise<Array<Record<string, unknown>>> {
  const events = await new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
    docker.modem.followProgress(stream, (err, out) => (err ? reject(err) : resolve(out)));
  });
  const failed = events.find((e) => e.error || e.errorDetail);
  if (failed) throw new Error(`docker stream error: ${JSON.stringify(failed)}`);
  return events;
}

/** Runs a labelled container to completion and returns its exit code and output. */
async function runToEnd(image: string, cmd: string[]): Promise<{ code: number; output: string }> {
  const c = await docker.createContainer({ Image: image, Cmd: cmd, Labels: testLabels(), Tty: true });
  try {
    await c.start();
    const { StatusCode } = (await c.wait()) as { StatusCode: number };
    const logs = (await c.logs({ stdout: true, stderr: true })) as unknown as Buffer;
    return { code: StatusCode, output: logs.toString('utf8') };
  } finally {
    await c.remove({ force: true });
  }
}

async function exists(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

describe('test environment', () => {
  it('provides its facts to tests and child processes', () => {
    expect(env.runId).toBe(runId);
    expect(runId).toMatch(/^\d+-\d+$/);
    expect(isRunAlive(runId)).toBe(true);
    expect(process.env.DOCKER_HOST).toBe(env.dockerHost);
    expect(env.registry).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(env.images.registryBusybox).toBe(`${env.registry}/${env.images.busybox}`);
    expect(testLabels()).toEqual({ [TEST_LABEL]: runId });
  });

  it('has a Docker engine that answers and runs the busybox test image', async () => {
    expect((await docker.ping()).toString()).toBe('OK');
    const info = await docker.getImage(env.images.busybox).inspect();
    expect(info.Config.Labels?.['siteflow.test.image']).toBe('1');
    const res = await runToEnd(env.images.busybox, ['sh', '-c', `echo hello-$((40+2))-${runId}`]);
    expect(res.code).toBe(0);
    expect(res.output).toContain(`hello-42-${runId}`);
  });

  it('has a loopback registry that serves the image and takes pushes of new layers', async () => {
    const baseDigest = await registryDigest(env.registry, 'siteflow-test/busybox', '1');
    expect(baseDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

    await followDone(await docker.pull(env.images.registryBusybox));
    const pulled = await docker.getImage(env.images.registryBusybox).inspect();
    expect(pulled.RepoDigests).toContain(`${env.registry}/siteflow-test/busybox@${baseDigest}`);

    // Re-tag the base image into this run's repo and push it: same content, same digest.
    const ref = registryRunImage('app', env);
    const repoPath = `${registryRunPrefix()}/app`;
    await docker.getImage(env.images.busybox).tag({ repo: ref, tag: 'v1' });
    await followDone(await docker.getImage(`${ref}:v1`).push({ authconfig: {} }));
    const d1 = await registryDigest(env.registry, repoPath, 'v1');
    expect(d1).toBe(baseDigest);

    // A new layer (container commit, labelled for this run) pushed to the same tag changes the digest.
    const c = await docker.createContainer({
      Image: env.images.busybox,
      Cmd: ['sh', '-c', `echo layer-${runId} > /added.txt`],
      Labels: testLabels(),
    });
    await c.start();
    await c.wait();
    await c.commit({ repo: ref, tag: 'v1' });
    await c.remove({ force: true });
    await followDone(await docker.getImage(`${ref}:v1`).push({ authconfig: {} }));
    const d2 = await registryDigest(env.registry, repoPath, 'v1');
    expect(d2).toMatch(/^sha256:/);
    expect(d2).not.toBe(d1);

    // Drop the local copy and pull it back: the new layer comes from the registry.
    await docker.getImage(`${ref}:v1`).remove({ force: true });
    expect(await exists(() => docker.getImage(`${ref}:v1`).inspect())).toBe(false);
    await followDone(await docker.pull(`${ref}:v1`));
    const back = await docker.getImage(`${ref}:v1`).inspect();
    expect(back.Config.Labels?.[TEST_LABEL]).toBe(runId);
    const res = await runToEnd(`${ref}:v1`, ['cat', '/added.txt']);
    expect(res.output).toContain(`layer-${runId}`);
  });

  it('brings a labelled two-service compose v1 project up and down', async () => {
    const project = createComposeProject(
      {
        name: 'envcheck',
        services: {
          web: {
            command: ['httpd', '-f', '-p', '8080', '-h', '/var/www'],
            ports: ['127.0.0.1::8080'],
            volumes: ['data:/data'],
          },
          worker: { command: ['sleep', '3600'] },
        },
        volumes: ['data'],
      },
      env,
    );
    const byProject = { label: [`com.docker.compose.project=${project.name}`] };
    try {
      await project.up();
      const containers = await docker.listContainers({ all: true, filters: byProject });
      expect(containers.map((c) => c.Labels['com.docker.compose.service']).sort()).toEqual(['web', 'worker']);
      for (const c of containers) {
        expect(c.State).toBe('running');
        expect(c.Labels[TEST_LABEL]).toBe(runId);
      }
      const net = await docker.getNetwork(`${project.name}_default`).inspect();
      expect(net.Labels?.[TEST_LABEL]).toBe(runId);
      const vol = await docker.getVolume(`${project.name}_data`).inspect();
      expect(vol.Labels?.[TEST_LABEL]).toBe(runId);

      const web = containers.find((c) => c.Labels['com.docker.compose.service'] === 'web')!;
      const published = web.Ports.find((p) => p.PrivatePort === 8080 && p.PublicPort);
      expect(published?.IP).toBe('127.0.0.1');
      const res = await fetch(`http://127.0.0.1:${published!.PublicPort}/`);
      expect(await res.text()).toContain('siteflow test image');
    } finally {
      await project.down();
    }
    expect(await docker.listContainers({ all: true, filters: byProject })).toHaveLength(0);
    expect(await exists(() => docker.getNetwork(`${project.name}_default`).inspect())).toBe(false);
    expect(await exists(() => docker.getVolume(`${project.name}_data`).inspect())).toBe(false);
  });

  it('cleanupStale removes objects of dead runs only and keeps those of live runs', async () => {
    const child = spawn('true');
    const deadPid = await new Promise<number>((resolve) => child.once('exit', () => resolve(child.pid!)));
    const deadRun = `${deadPid}-${Date.now()}`;
    expect(isRunAlive(deadRun)).toBe(false);
    const dead = { [TEST_LABEL]: deadRun };
    const suffix = `${process.pid}-${Date.now()}`;

    const deadContainer = await docker.createContainer({
      Image: env.images.busybox,
      Cmd: ['sleep', '3600'],
      Labels: dead,
    });
    const deadNet = await docker.createNetwork({ Name: `sft-stale-net-${suffix}`, Labels: dead });
    const deadVol = await docker.createVolume({ Name: `sft-stale-vol-${suffix}`, Labels: dead });
    const deadTmp = mkdtempSync(path.join(os.tmpdir(), `siteflow-env-${deadRun}-fake-`));

    const liveContainer = await docker.createContainer({
      Image: env.images.busybox,
      Cmd: ['sleep', '3600'],
      Labels: testLabels(),
    });
    const liveVol = await docker.createVolume({ Name: `sft-live-vol-${suffix}`, Labels: testLabels() });
    // A label value that is no run id is never touched.
    const oddNet = await docker.createNetwork({
      Name: `sft-odd-net-${suffix}`,
      Labels: { [TEST_LABEL]: `manual-${suffix}` },
    });

    try {
      const removed = await cleanupStale(docker);
      expect(removed).toContain(deadRun);
      expect(removed).not.toContain(runId);

      expect(await exists(() => deadContainer.inspect())).toBe(false);
      expect(await exists(() => deadNet.inspect())).toBe(false);
      expect(await exists(() => docker.getVolume(deadVol.name).inspect())).toBe(false);
      expect(existsSync(deadTmp)).toBe(false);

      expect(await exists(() => liveContainer.inspect())).toBe(true);
      expect(await exists(() => docker.getVolume(liveVol.name).inspect())).toBe(true);
      expect(await exists(() => oddNet.inspect())).toBe(true);
    } finally {
      await liveContainer.remove({ force: true }).catch(() => {});
      await docker
        .getVolume(liveVol.name)
        .remove()
        .catch(() => {});
      await oddNet.remove().catch(() => {});
      await deadContainer.remove({ force: true }).catch(() => {});
      await deadNet.remove().catch(() => {});
      await docker
        .getVolume(deadVol.name)
        .remove()
        .catch(() => {});
    }
  });

  it('starts a private sshd that accepts the test key and serves SFTP', async () => {
    const sshd = await startSshd(env);
    try {
      expect(sshd.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      const home = statSync(sshd.homeDir);
      const file = path.join(sshd.homeDir, 'hello.txt');
      writeFileSync(file, `hi ${runId}\n`);
      chownSync(file, home.uid, home.gid);

      let seenFingerprint = '';
      const conn = new Client();
      const names = await new Promise<string[]>((resolve, reject) => {
        conn.once('error', reject);
        conn.once('ready', () => {
          conn.sftp((err, sftp) => {
            if (err) return reject(err);
            sftp.readdir(sshd.homeDir, (err2, list) =>
              err2 ? reject(err2) : resolve(list.map((e) => e.filename)),
            );
          });
        });
        conn.connect({
          host: sshd.host,
          port: sshd.port,
          username: sshd.user,
          privateKey: readFileSync(sshd.privateKeyPath),
          hostVerifier: (key: Buffer) => {
            seenFingerprint = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
            return seenFingerprint === sshd.hostKeyFingerprint;
          },
          readyTimeout: 20_000,
        });
      }).finally(() => conn.end());
      expect(seenFingerprint).toBe(sshd.hostKeyFingerprint);
      expect(names).toContain('hello.txt');

      // Any other key is refused.
      const other = sshUtils.generateKeyPairSync('ed25519');
      const refused = new Client();
      const outcome = await new Promise<string>((resolve) => {
        refused.once('ready', () => resolve('ready'));
        refused.once('error', (e) => resolve(`error: ${e.message}`));
        refused.connect({
          host: sshd.host,
          port: sshd.port,
          username: sshd.user,
          privateKey: other.private,
          readyTimeout: 20_000,
        });
      }).finally(() => refused.end());
      expect(outcome).toMatch(/^error: All configured authentication methods failed/);
    } finally {
      await sshd.stop();
    }
    expect(readFileSync('/etc/passwd', 'utf8')).not.toContain(`${sshd.user}:`);
  });

  it('starts a private caddy that serves a site from sites/ after caddy reload', async () => {
    const caddy = await startCaddy(env);
    try {
      const sitePort = await freePort();
      const url = `http://127.0.0.1:${sitePort}/`;
      await expect(fetch(url)).rejects.toThrow();

      caddy.writeSite('hello', `http://127.0.0.1:${sitePort} {\n\trespond "hello ${runId}" 200\n}\n`);
      await caddy.reload();
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(`hello ${runId}`);

      // The site listens on loopback only.
      const config = (await (await fetch(`http://${caddy.adminAddress}/config/`)).json()) as {
        apps: { http: { servers: Record<string, { listen: string[] }> } };
      };
      const listens = Object.values(config.apps.http.servers).flatMap((srv) => srv.listen);
      expect(listens).toEqual([`127.0.0.1:${sitePort}`]);
    } finally {
      await caddy.stop();
    }
  });
});
