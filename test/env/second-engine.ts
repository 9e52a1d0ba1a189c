/**
 * A second Docker engine for multi-host and engine-outage tests, on its own bridge and
 * state folders (see shared/test-environment.md). Never `--bridge none`: a daemon started
 * with it deletes the first engine's docker0. Root only. Everything is removed by stop().
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import Docker from 'dockerode';
import { loadTestEnv, run, type TestEnvState, waitFor } from './harness.js';

/** A running second engine. */
export interface SecondEngine {
  /** `unix:///tmp/sfd2-.../docker.sock` */
  dockerHost: string;
  socketPath: string;
  docker: Docker;
  /** Stops the daemon, keeping its data (for outage tests). */
  pause(): Promise<void>;
  /** Starts it again on the same data. */
  resume(): Promise<void>;
  /** Stops the daemon and removes its bridge and folders. */
  stop(): Promise<void>;
}

/** Starts a second dockerd with the busybox test image loaded into it. */
export async function startSecondEngine(
  env: TestEnvState = loadTestEnv(),
  opts: {
    /** Group that owns the engine socket (dockerd --group), e.g. an sshd test user's group. */
    socketGroup?: string;
  } = {},
): Promise<SecondEngine> {
  if (process.getuid?.() !== 0) throw new Error('a second Docker engine needs root');
  const tag = `${process.pid % 100000}${Math.floor(Math.random() * 90 + 10)}`;
  const dir = `/tmp/sfd2-${tag}`;
  const bridge = `sfbr${tag}`.slice(0, 15);
  const octet = 100 + (Number(tag) % 150);
  const socketPath = `${dir}/docker.sock`;
  mkdirSync(`${dir}/data`, { recursive: true });
  mkdirSync(`${dir}/exec`, { recursive: true });
  await run('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
  await run('ip', ['addr', 'add', `172.29.${octet}.1/24`, 'dev', bridge]);
  await run('ip', ['link', 'set', bridge, 'up']);

  let daemon: ChildProcess | null = null;
  const docker = new Docker({ socketPath });
  const start = async () => {
    daemon = spawn(
      'dockerd',
      [
        '--host',
        `unix://${socketPath}`,
        '--data-root',
        `${dir}/data`,
        '--exec-root',
        `${dir}/exec`,
        '--pidfile',
        `${dir}/docker.pid`,
        '--bridge',
        bridge,
        '--iptables=false',
        ...(opts.socketGroup ? ['--group', opts.socketGroup] : []),
      ],
      { stdio: 'ignore' },
    );
    await waitFor('second dockerd', async () => (await docker.ping()).toString() === 'OK', 60_000);
  };
  const halt = async () => {
    const d = daemon;
    daemon = null;
    if (!d || d.exitCode !== null) return;
    const exited = new Promise((r) => d.once('exit', r));
    d.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (d.exitCode === null) d.kill('SIGKILL');
  };

  await start();
  // Load the test image: docker save from the main engine into the second one.
  const tar = `${dir}/busybox.tar`;
  const mainEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
  await run('docker', ['save', '-o', tar, env.images.busybox], { env: mainEnv });
  await run('docker', ['load', '-i', tar], { env: { ...process.env, DOCKER_HOST: `unix://${socketPath}` } });

  return {
    dockerHost: `unix://${socketPath}`,
    socketPath,
    docker,
    pause: halt,
    resume: start,
    async stop() {
      // Everything on this private engine is the test's own. Remove its containers and networks
      // while the daemon still runs: a network left in the deleted data folder keeps its host
      // bridge (and its address pool) forever, until the main engine cannot create networks.
      if (!daemon) await start().catch(() => undefined); // paused by the test: back up to clean
      if (daemon) {
        for (const c of await docker.listContainers({ all: true }).catch(() => []))
          await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined);
        for (const n of await docker.listNetworks().catch(() => []))
          if (!['bridge', 'host', 'none'].includes(n.Name))
            await docker
              .getNetwork(n.Id)
              .remove()
              .catch(() => undefined);
      }
      await halt();
      await run('ip', ['link', 'del', bridge]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
