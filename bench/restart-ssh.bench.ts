/**
 * /restart of a three-container site on a host reached over SSH (a second dockerd behind a real
 * sshd on loopback, SiteFlow's one ssh2 connection) against `docker -H ssh://... restart` of the
 * same containers, in the same run. The docker CLI runs the system ssh: it gets a config file of
 * its own (the pinned host key as its only known_hosts line, the test key), never the user's.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.js';
import { startSiteFlow } from '../src/main.js';
import { createComposeProject, run as exec, loadTestEnv, startSshd } from '../test/env/harness.js';
import { startSecondEngine } from '../test/env/second-engine.js';
import { testLogger } from '../test/support/siteflow.js';
import { median } from './stats.js';
import type { BenchResult } from './types.js';

const ROUNDS = 7;

export async function run(log: (line: string) => void = () => {}): Promise<BenchResult[]> {
  const env = loadTestEnv();
  const e2 = await startSecondEngine(env);
  const socket = e2.socketPath;
  // The docker CLI on the far side needs to find the second engine: sshd sets DOCKER_HOST for it.
  const sshd2 = await startSshd(env, { extraConfig: [`SetEnv DOCKER_HOST=unix://${socket}`] });
  await exec('chgrp', [sshd2.user, socket]);
  const project = createComposeProject(
    {
      name: 'benchsshrestart',
      services: {
        web: { command: ['httpd', '-f', '-p', '8080'] },
        worker: { command: ['sleep', '3600'] },
        cache: { command: ['sleep', '3600'] },
      },
    },
    { ...env, dockerHost: e2.dockerHost },
  );
  await project.up();
  const dir = mkdtempSync(join(tmpdir(), 'sf-bench-ssh-'));
  // The CLI's ssh: a wrapper with its own config, known_hosts and key (never ~/.ssh).
  const bin = join(dir, 'bin');
  const sshDir = join(dir, 'ssh');
  mkdirSync(bin);
  mkdirSync(sshDir, { mode: 0o700 });
  copyFileSync(sshd2.privateKeyPath, join(sshDir, 'id'));
  chmodSync(join(sshDir, 'id'), 0o600);
  const hostKey = sshd2.hostPublicKey.split(/\s+/).slice(0, 2).join(' ');
  writeFileSync(join(sshDir, 'known_hosts'), `[127.0.0.1]:${sshd2.port} ${hostKey}\n`);
  writeFileSync(
    join(sshDir, 'config'),
    [
      'Host *',
      `  IdentityFile ${join(sshDir, 'id')}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${join(sshDir, 'known_hosts')}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '',
    ].join('\n'),
  );
  writeFileSync(join(bin, 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F ${join(sshDir, 'config')} "$@"\n`);
  chmodSync(join(bin, 'ssh'), 0o755);
  const url = `ssh://${sshd2.user}@127.0.0.1:${sshd2.port}`;
  const app = await startSiteFlow(
    loadConfig(
      {
        DATA_DIR: join(dir, 'data'),
        SITES_ROOT: join(dir, 'sites'),
        WEB_PORT: '0',
        // Only edge: the shared test engine's churn (other test runs) stays out of the measurement.
        DOCKER_HOSTS: `edge=${url}?socket=${socket}`,
        DOCKER_SSH_HOST_KEYS: `edge=${sshd2.hostKeyFingerprint}`,
        DOCKER_SSH_KEY_PATH: sshd2.privateKeyPath,
        MONITOR_ENABLED: 'false',
      },
      { envFile: null },
    ),
    { logger: testLogger(), console: false },
  );
  try {
    const list = await e2.docker.listContainers({
      filters: { label: [`com.docker.compose.project=${project.name}`] },
    });
    const ids = list.map((c) => c.Id);
    const cliEnv = { PATH: `${bin}:${process.env.PATH}`, HOME: dir };
    const timings = { cli: [] as number[], raw: [] as number[], siteflow: [] as number[] };
    const engine = app.services.hosts.get('edge')!;
    for (let i = 0; i < ROUNDS; i++) {
      let t = performance.now();
      await exec('docker', ['-H', url, 'restart', ...ids], { env: cliEnv });
      timings.cli.push(performance.now() - t);

      t = performance.now();
      await Promise.all(ids.map((id) => engine.restartContainer(id)));
      timings.raw.push(performance.now() - t);

      t = performance.now();
      const r = await app.dispatcher.dispatch({
        platform: 'console',
        user: { id: 'bench', name: 'bench', roles: [] },
        channelId: 'bench',
        command: 'restart',
        args: { site: `edge/${project.name}` },
        receivedAt: Date.now(),
      });
      if (!r.operationId) throw new Error(`restart not started: ${r.title}`);
      const op = await app.services.runner.wait(r.operationId);
      timings.siteflow.push(performance.now() - t);
      if (op?.status !== 'succeeded') throw new Error(`restart ${op?.status}: ${op?.error}`);
      log(
        `round ${i + 1}: docker -H ssh:// restart ${timings.cli.at(-1)!.toFixed(0)} ms, engine calls over the ssh2 connection ${timings.raw.at(-1)!.toFixed(0)} ms, SiteFlow /restart ${timings.siteflow.at(-1)!.toFixed(0)} ms`,
      );
    }
    return [
      {
        name: '/restart of 3 containers on an SSH host via SiteFlow vs `docker -H ssh:// restart` (median)',
        value: median(timings.siteflow),
        unit: 'ms',
        baseline: { name: 'docker -H ssh:// restart', value: median(timings.cli) },
        target: '<= 1.2x of docker -H ssh:// restart',
      },
      {
        name: '3 parallel engine restarts over the one ssh2 connection vs `docker -H ssh:// restart` (median)',
        value: median(timings.raw),
        unit: 'ms',
        baseline: { name: 'docker -H ssh:// restart', value: median(timings.cli) },
      },
    ];
  } finally {
    await app.stop('bench done');
    await project.down().catch(() => undefined);
    await e2.stop();
    await sshd2.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await run((l) => console.log(l));
  console.table(results);
}
