/**
 * Provision of a two-service site through SiteFlow (dispatcher -> runner -> render, files,
 * Caddy reload through the admin API, compose up, health check) against the same compose
 * file brought up by hand with `docker-compose up -d`, in the same run. The health wait is
 * excluded from both (the hand-run baseline has none; SiteFlow's reported wait is subtracted).
 * Needs the test environment (`bash test/env/setup.sh`) and caddy.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.js';
import type { Invocation } from '../src/core/command.js';
import { startSiteFlow } from '../src/main.js';
import {
  cleanupRun,
  run as exec,
  freePort,
  loadTestEnv,
  runId,
  startCaddy,
  TEST_LABEL,
  testDocker,
} from '../test/env/harness.js';
import { testLogger } from '../test/support/siteflow.js';
import { median } from './stats.js';
import type { BenchResult } from './types.js';

const ROUNDS = 5;
const PINNED = 'example.invalid/siteflow/bench:1.0';

function writeBenchTemplate(dir: string): void {
  const d = join(dir, 'bench');
  mkdirSync(d, { recursive: true });
  writeFileSync(
    join(d, 'template.json'),
    JSON.stringify({
      description: 'Two-service bench site',
      stack: 'busybox httpd + worker',
      images: { app: PINNED },
      services: [
        { name: 'web', role: 'web' },
        { name: 'worker', role: 'worker' },
      ],
      web: { service: 'web', port: 8080 },
      adminPath: '/',
      parameters: [{ name: 'APP_SECRET', secret: true, generate: 'token' }],
      health: { containers: true, http: [{ path: '/', expect: [200] }] },
      dirs: ['www'],
      files: [{ path: 'www/index.html', template: 'index.html.hbs' }],
    }),
  );
  writeFileSync(
    join(d, 'compose.yml.hbs'),
    `services:
  web:
    image: {{images.app}}
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: ["127.0.0.1:{{port}}:8080"]
    volumes: ["./www:/www:ro"]
  worker:
    image: {{images.app}}
    init: true
    command: ["sleep", "3600"]
    environment:
      APP_SECRET: "\${APP_SECRET}"
`,
  );
  writeFileSync(join(d, 'Caddyfile.hbs'), '{{address}} {\n\treverse_proxy 127.0.0.1:{{port}}\n}\n');
  writeFileSync(join(d, 'index.html.hbs'), '<h1>{{site}}</h1>\n');
}

export async function run(log: (line: string) => void = () => {}): Promise<BenchResult[]> {
  const env = loadTestEnv();
  const docker = testDocker(env);
  const caddy = await startCaddy(env);
  const dir = mkdtempSync(join(tmpdir(), 'sf-bench-prov-'));
  const templates = join(dir, 'templates');
  writeBenchTemplate(templates);
  const app = await startSiteFlow(
    loadConfig(
      {
        DATA_DIR: join(dir, 'data'),
        SITES_ROOT: join(dir, 'sites'),
        WEB_PORT: '0',
        DOCKER_HOSTS: env.dockerHost,
        TEMPLATES_DIR: templates,
        CADDY_SITES_DIR: caddy.sitesDir,
        CADDYFILE: caddy.caddyfile,
        CADDY_ADMIN_URL: `http://${caddy.adminAddress}`,
        CADDY_SITE_PORT: String(await freePort()),
        IMAGE_OVERRIDES: `${PINNED}=${env.images.registryBusybox}`,
        PROVISION_LABELS: `${TEST_LABEL}=${runId}`,
      },
      { envFile: null },
    ),
    { logger: testLogger(), console: false },
  );
  const composeBin = env.tools.dockerCompose ?? 'docker-compose';
  const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
  const inv = (command: string, args: Record<string, string>): Invocation => ({
    platform: 'console',
    user: { id: 'bench', name: 'bench', roles: [] },
    channelId: 'bench',
    command,
    args,
    receivedAt: Date.now(),
  });
  try {
    const timings = { siteflow: [] as number[], hand: [] as number[], wait: [] as number[] };
    const tag = runId.replace(/\D/g, '').slice(-8);
    for (let i = 0; i < ROUNDS; i++) {
      const site = `bench${tag}-${i}`;
      let t = performance.now();
      const r = await app.dispatcher.dispatch(
        inv('provision', { site, template: 'bench', domain: `${site}.test` }),
      );
      if (!r.operationId) throw new Error(`provision not started: ${r.title} ${JSON.stringify(r.blocks)}`);
      const op = await app.services.runner.wait(r.operationId);
      const total = performance.now() - t;
      if (op?.status !== 'succeeded') throw new Error(`provision ${op?.status}: ${op?.error}`);
      const runLog = readFileSync(join(dir, 'data', 'logs', op.logPath!), 'utf8');
      const wait = Number(/health wait (\d+) ms/.exec(runLog)?.[1] ?? 0);
      timings.siteflow.push(total - wait);
      timings.wait.push(wait);

      // The very same compose file and .env, brought up by hand under another project name.
      const hand = join(dir, `hand-${i}`);
      mkdirSync(hand);
      for (const f of ['docker-compose.yml', '.env'])
        copyFileSync(join(dir, 'sites', site, f), join(hand, f));
      mkdirSync(join(hand, 'www'));
      const down = await app.dispatcher.dispatch(
        inv('deprovision', { site, 'remove-volumes': 'yes', 'delete-files': 'yes' }),
      );
      const confirmed = await app.dispatcher.dispatch(inv('confirm', { id: down.confirm!.id }));
      const dop = await app.services.runner.wait(confirmed.operationId!);
      if (dop?.status !== 'succeeded') throw new Error(`deprovision ${dop?.status}: ${dop?.error}`);

      t = performance.now();
      await exec(composeBin, ['-p', `${site}-hand`, 'up', '-d'], { cwd: hand, env: cliEnv });
      timings.hand.push(performance.now() - t);
      await exec(composeBin, ['-p', `${site}-hand`, 'down', '-v'], { cwd: hand, env: cliEnv });
      log(
        `round ${i + 1}: SiteFlow ${timings.siteflow.at(-1)!.toFixed(0)} ms (+ health wait ${wait} ms), by hand ${timings.hand.at(-1)!.toFixed(0)} ms`,
      );
    }
    return [
      {
        name: 'provision a 2-service site via SiteFlow (health wait excluded) vs `docker-compose up -d` of the same file (median)',
        value: median(timings.siteflow),
        unit: 'ms',
        baseline: { name: 'docker-compose up -d by hand', value: median(timings.hand) },
        target: '<= 1.2x of docker-compose up -d',
      },
    ];
  } finally {
    await app.stop('bench done');
    await cleanupRun(runId, docker).catch(() => undefined);
    await caddy.stop();
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
