/**
 * Restart of a three-container site through SiteFlow (dispatcher -> runner -> engine) against
 * the same containers restarted with `docker restart` and with raw parallel engine calls, in
 * the same run. Needs the test environment (`bash test/env/setup.sh`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.js';
import { startSiteFlow } from '../src/main.js';
import {
  cleanupRun,
  createComposeProject,
  run as exec,
  loadTestEnv,
  runId,
  testDocker,
} from '../test/env/harness.js';
import { testLogger } from '../test/support/siteflow.js';
import { median } from './stats.js';
import type { BenchResult } from './types.js';

const ROUNDS = 7;

export async function run(log: (line: string) => void = () => {}): Promise<BenchResult[]> {
  const env = loadTestEnv();
  const docker = testDocker(env);
  const project = createComposeProject(
    {
      name: 'benchrestart',
      services: {
        web: { command: ['httpd', '-f', '-p', '8080'] },
        worker: { command: ['sleep', '3600'] },
        cache: { command: ['sleep', '3600'] },
      },
    },
    env,
  );
  await project.up();
  const dir = mkdtempSync(join(tmpdir(), 'sf-bench-'));
  const app = await startSiteFlow(
    loadConfig(
      { DATA_DIR: dir, SITES_ROOT: join(dir, 'sites'), WEB_PORT: '0', DOCKER_HOSTS: env.dockerHost },
      { envFile: null },
    ),
    { logger: testLogger(), console: false },
  );
  try {
    const list = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${project.name}`] },
    });
    const ids = list.map((c) => c.Id);
    const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
    const timings = { cli: [] as number[], raw: [] as number[], siteflow: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      let t = performance.now();
      await exec('docker', ['restart', ...ids], { env: cliEnv });
      timings.cli.push(performance.now() - t);

      t = performance.now();
      await Promise.all(ids.map((id) => docker.getContainer(id).restart()));
      timings.raw.push(performance.now() - t);

      t = performance.now();
      const r = await app.dispatcher.dispatch({
        platform: 'console',
        user: { id: 'bench', name: 'bench', roles: [] },
        channelId: 'bench',
        command: 'restart',
        args: { site: project.name },
        receivedAt: Date.now(),
      });
      if (!r.operationId) throw new Error(`restart not started: ${r.title}`);
      const op = await app.services.runner.wait(r.operationId);
      timings.siteflow.push(performance.now() - t);
      if (op?.status !== 'succeeded') throw new Error(`restart ${op?.status}: ${op?.error}`);
      log(
        `round ${i + 1}: docker restart ${timings.cli.at(-1)!.toFixed(0)} ms, raw engine ${timings.raw.at(-1)!.toFixed(0)} ms, SiteFlow ${timings.siteflow.at(-1)!.toFixed(0)} ms`,
      );
    }
    const sf = median(timings.siteflow);
    return [
      {
        name: 'restart 3 containers via SiteFlow vs `docker restart` (median)',
        value: sf,
        unit: 'ms',
        baseline: { name: 'docker restart', value: median(timings.cli) },
        target: '<= 1.1x of docker restart',
      },
      {
        name: 'restart 3 containers via SiteFlow vs raw parallel engine calls (median)',
        value: sf,
        unit: 'ms',
        baseline: { name: 'dockerode restart x3 in parallel', value: median(timings.raw) },
      },
    ];
  } finally {
    await app.stop('bench done');
    await project.down().catch(() => undefined);
    await cleanupRun(runId, docker).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await run((l) => console.log(l));
  console.table(
    results.map((r) => ({
      ...r,
      baseline: r.baseline ? `${r.baseline.name}: ${r.baseline.value.toFixed(1)}` : '',
    })),
  );
}
