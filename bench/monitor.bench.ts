/**
 * The monitor: time from `docker kill` to the alert arriving at an alert channel, p50/p95 over
 * 50 kills, against the time the engine's own event stream (dockerode getEvents, directly)
 * delivers the `die` event in the same run; then CPU and memory of SiteFlow following 200
 * labelled busybox containers with the monitor on, against the same with MONITOR_ENABLED=false.
 * Needs the test environment (`bash test/env/setup.sh`); removes what it created.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { loadConfig } from '../src/config.js';
import type { AlertChannel, AlertRecord } from '../src/core/alerts.js';
import { startSiteFlow } from '../src/main.js';
import { createComposeProject, loadTestEnv, runId, testDocker, testLabels } from '../test/env/harness.js';
import { testLogger } from '../test/support/siteflow.js';
import { percentile as pct } from './stats.js';
import type { BenchResult } from './types.js';

const KILLS = 50;
const FOLLOWED = 200;
const IDLE_MS = 20_000;

/** An alert channel that records when each post arrives. */
class TimingChannel implements AlertChannel {
  readonly name = 'bench';
  readonly posts: Array<{ at: number; alert: AlertRecord }> = [];
  async post(alert: AlertRecord) {
    this.posts.push({ at: performance.now(), alert });
    return { id: alert.id };
  }
  async reply() {}
  async update() {}
}

async function startApp(dir: string, dockerHost: string, extra: Record<string, string>) {
  return startSiteFlow(
    loadConfig(
      {
        DATA_DIR: join(dir, 'data'),
        SITES_ROOT: join(dir, 'sites'),
        WEB_PORT: '0',
        DOCKER_HOSTS: dockerHost,
        ALERT_RECOVER_AFTER_SECONDS: '0.2',
        ALERT_FLAP_CHANGES: '1000',
        ALERT_STORM_THRESHOLD: '1000',
        ...extra,
      },
      { envFile: null },
    ),
    { logger: testLogger(), console: false },
  );
}

async function latency(env: ReturnType<typeof loadTestEnv>, docker: Docker, log: (l: string) => void) {
  const project = createComposeProject(
    { name: 'benchmon', services: { web: { command: ['sleep', '3600'] } } },
    env,
  );
  await project.up();
  const dir = mkdtempSync(join(tmpdir(), 'sf-bench-mon-'));
  const app = await startApp(dir, env.dockerHost, {});
  const ch = new TimingChannel();
  app.monitor!.addChannel(ch);
  const dies: number[] = [];
  const events = (await docker.getEvents({
    filters: { event: ['die'], label: [`com.docker.compose.project=${project.name}`] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  events.on('data', () => dies.push(performance.now()));
  const result = { alert: [] as number[], engine: [] as number[], gap: [] as number[] };
  try {
    const [c] = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${project.name}`] },
    });
    const container = docker.getContainer(c!.Id);
    const until = async (f: () => boolean, ms = 10_000) => {
      const end = Date.now() + ms;
      while (!f()) {
        if (Date.now() > end) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    for (let i = 0; i < KILLS; i++) {
      const posts = ch.posts.length;
      const died = dies.length;
      const t0 = performance.now();
      await container.kill();
      await until(() => ch.posts.length > posts && dies.length > died);
      const tAlert = ch.posts[posts]!.at;
      const tDie = dies[died]!;
      result.alert.push(tAlert - t0);
      result.engine.push(tDie - t0);
      result.gap.push(tAlert - tDie);
      await container.start();
      await until(() => app.monitor!.openAlerts().every((a) => a.site !== project.name), 15_000);
    }
    log(
      `${KILLS} kills: alert p50 ${pct(result.alert, 50).toFixed(0)} ms p95 ${pct(result.alert, 95).toFixed(0)} ms; engine die event p50 ${pct(result.engine, 50).toFixed(0)} ms`,
    );
  } finally {
    events.destroy();
    await app.stop('bench done');
    await project.down().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

async function following(env: ReturnType<typeof loadTestEnv>, docker: Docker, log: (l: string) => void) {
  const project = `sft-${runId}-bench200`;
  const ids: string[] = [];
  log(`creating ${FOLLOWED} containers`);
  for (let i = 0; i < FOLLOWED; i++) {
    const c = await docker.createContainer({
      Image: env.images.busybox,
      Cmd: ['sleep', '3600'],
      name: `${project}-web-${i}`,
      Labels: testLabels({
        'com.docker.compose.project': `${project}-${i % 20}`,
        'com.docker.compose.service': 'web',
      }),
      HostConfig: { Init: true, NetworkMode: 'none' },
    });
    ids.push(c.id);
  }
  for (let i = 0; i < ids.length; i += 10)
    await Promise.all(ids.slice(i, i + 10).map((id) => docker.getContainer(id).start()));
  const measure = async (monitor: boolean) => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-bench-mon-'));
    const app = await startApp(dir, env.dockerHost, { MONITOR_ENABLED: String(monitor) });
    try {
      await new Promise((r) => setTimeout(r, 3000));
      global.gc?.();
      const heap0 = process.memoryUsage().heapUsed;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const cpu = process.cpuUsage(cpu0);
      const wall = performance.now() - t0;
      return {
        cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100,
        rssMb: process.memoryUsage().rss / 1048576,
        heapMb: process.memoryUsage().heapUsed / 1048576,
        heapGrowthMb: (process.memoryUsage().heapUsed - heap0) / 1048576,
        sites: app.live
          .snapshot()
          .hosts.flatMap((h) => h.sites)
          .filter((s) => s.name.startsWith(project)).length,
      };
    } finally {
      await app.stop('bench done');
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const off = await measure(false);
    const on = await measure(true);
    log(
      `followed ${on.sites} sites (${FOLLOWED} containers); monitor on: ${on.cpuPercent.toFixed(2)}% CPU, heap ${on.heapMb.toFixed(1)} MB; off: ${off.cpuPercent.toFixed(2)}% CPU, heap ${off.heapMb.toFixed(1)} MB`,
    );
    return { on, off };
  } finally {
    for (let i = 0; i < ids.length; i += 20)
      await Promise.all(
        ids.slice(i, i + 20).map((id) =>
          docker
            .getContainer(id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
      );
  }
}

export async function run(log: (line: string) => void = () => {}): Promise<BenchResult[]> {
  const env = loadTestEnv();
  const docker = testDocker(env);
  const l = await latency(env, docker, log);
  const f = await following(env, docker, log);
  return [
    {
      name: 'kill -> alert p50',
      value: pct(l.alert, 50),
      unit: 'ms',
      baseline: { name: 'engine die event p50', value: pct(l.engine, 50) },
    },
    {
      name: 'kill -> alert p95',
      value: pct(l.alert, 95),
      unit: 'ms',
      baseline: { name: 'engine die event p95', value: pct(l.engine, 95) },
      target: '< 1000 ms',
    },
    { name: 'alert after die event p95', value: pct(l.gap, 95), unit: 'ms', target: '< 200 ms' },
    {
      name: `CPU following ${FOLLOWED} containers`,
      value: f.on.cpuPercent,
      unit: '%',
      baseline: { name: 'monitor off', value: f.off.cpuPercent },
    },
    {
      name: 'heap used',
      value: f.on.heapMb,
      unit: 'MB',
      baseline: { name: 'monitor off', value: f.off.heapMb },
    },
    { name: 'RSS', value: f.on.rssMb, unit: 'MB', baseline: { name: 'monitor off', value: f.off.rssMb } },
  ];
}
