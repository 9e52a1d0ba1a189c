/**
 * Resident memory of the whole SiteFlow process (compiled, as the Docker image runs it) with
 * both chat adapters connected and idle, against a bare process holding only a connected
 * discord.js Client and a started Bolt App on the same fakes, in the same run. Then the image
 * itself: the real Dockerfile built from the stand-in base images (test/env/standin-images.ts),
 * run on host networking against the same fakes; its Node 24 process's VmRSS is read from /proc,
 * next to the process figure above (`BENCH_MEMORY_IMAGE=0` skips it).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  cleanupRun,
  freePort,
  loadTestEnv,
  REPO_DIR,
  runId,
  testDocker,
  testLabels,
} from '../test/env/harness.js';
import { buildSiteFlowImage, ensureStandins } from '../test/env/standin-images.js';
import { DiscordIds, FakeDiscord } from '../test/fakes/discord-server.js';
import { FakeSlack } from '../test/fakes/slack-server.js';
import type { BenchResult } from './types.js';

const IDLE_MS = 8_000;

/** NODE_OPTIONS and MALLOC_ARENA_MAX the Docker image sets, so the measured process runs as the image runs it. */
function imageMemoryEnv(): Record<string, string> {
  const dockerfile = readFileSync(join(REPO_DIR, 'Dockerfile'), 'utf8');
  const out: Record<string, string> = {};
  for (const k of ['NODE_OPTIONS', 'MALLOC_ARENA_MAX']) {
    const m = new RegExp(`^ENV ${k}=(.+)$`, 'm').exec(dockerfile);
    if (m) out[k] = m[1]!.trim();
  }
  return out;
}
const SAMPLES = 10;

/** VmRSS of a process in MB, from /proc. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until both fakes saw a client connect, idles, then samples RSS of `pid`; returns the peak. */
async function measure(
  pid: number,
  exited: () => boolean,
  discord: FakeDiscord,
  slack: FakeSlack,
): Promise<number> {
  await until('the Discord gateway session', () => discord.gateway.stats.identifies > 0 || exited());
  await until('Slack auth.test', () => slack.calls.some((c) => c.method === 'auth.test') || exited());
  if (exited()) throw new Error('the process exited early');
  await new Promise((r) => setTimeout(r, IDLE_MS));
  let peak = 0;
  for (let i = 0; i < SAMPLES; i++) {
    peak = Math.max(peak, rssMb(pid));
    await new Promise((r) => setTimeout(r, 200));
  }
  return peak;
}

/** A child's pid and whether it has exited. */
function watchChild(child: ChildProcess): { pid: number; exited: () => boolean } {
  let done = false;
  child.once('exit', () => {
    done = true;
  });
  return { pid: child.pid!, exited: () => done };
}

const BARE = `
import { Client, GatewayIntentBits } from 'discord.js';
import bolt from '@slack/bolt';
const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: process.env.DISCORD_API_URL, version: '10' } });
await client.login(process.env.DISCORD_TOKEN);
const app = new bolt.App({ token: process.env.SLACK_BOT_TOKEN, signingSecret: process.env.SLACK_SIGNING_SECRET,
  clientOptions: { slackApiUrl: process.env.SLACK_API_URL } });
app.command(/.*/, async ({ ack }) => ack());
await app.start({ port: 0, host: '127.0.0.1' });
await app.client.auth.test();
setInterval(() => {}, 1 << 30);
`;

export async function run(log: (line: string) => void = () => {}): Promise<BenchResult[]> {
  log('compiling (npm run build) so the measured process is what the image runs');
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_DIR, stdio: 'ignore' });
  const env = loadTestEnv();
  const results: number[] = [];
  const imageEnv = imageMemoryEnv();
  log(`from the Dockerfile: ${JSON.stringify(imageEnv)}`);
  for (const which of ['siteflow', 'siteflow-default-flags', 'bare'] as const) {
    const discord = await new FakeDiscord().start();
    const slack = await new FakeSlack().start();
    const dir = mkdtempSync(join(tmpdir(), 'sf-mem-'));
    const childEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      DISCORD_GUILD_ID: DiscordIds.guild,
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: 'memory-bench-signing-secret',
      SLACK_API_URL: slack.apiUrl,
      SLACK_PORT: '0',
      CONSOLE: 'off',
      WEB_PORT: '0',
      LOG_LEVEL: 'warn',
      DATA_DIR: join(dir, 'data'),
      SITES_ROOT: join(dir, 'sites'),
      DOCKER_HOSTS: env.dockerHost,
      SITEFLOW_ENV_FILE: join(dir, 'none.env'),
      ...(which === 'siteflow' ? imageEnv : {}),
    };
    const child =
      which !== 'bare'
        ? spawn(process.execPath, [join(REPO_DIR, 'dist/src/main.js')], {
            cwd: dir,
            env: childEnv,
            stdio: 'ignore',
          })
        : spawn(process.execPath, ['--input-type=module', '-e', BARE], {
            cwd: REPO_DIR,
            env: childEnv,
            stdio: 'ignore',
          });
    try {
      const w = watchChild(child);
      const mb = await measure(w.pid, w.exited, discord, slack);
      log(`${which}: ${mb.toFixed(1)} MB resident after ${IDLE_MS / 1000} s idle`);
      results.push(mb);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGKILL');
      await discord.stop();
      await slack.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const image = process.env.BENCH_MEMORY_IMAGE === '0' ? null : await measureImage(log);
  return [
    ...(image === null
      ? []
      : [
          {
            name: 'resident memory of the Docker image (Node 24, in the container), Discord + Slack idle',
            value: image,
            unit: 'MB',
            baseline: { name: 'the same process outside the image (this Node)', value: results[0]! },
            target: '< 150 MB',
          },
        ]),
    {
      name: 'resident memory, whole process as the image runs it, Discord + Slack connected and idle',
      value: results[0]!,
      unit: 'MB',
      baseline: { name: 'bare discord.js Client + Bolt App', value: results[2]! },
      target: '< 150 MB',
    },
    {
      name: 'the same with Node and malloc defaults',
      value: results[1]!,
      unit: 'MB',
      baseline: { name: 'bare discord.js Client + Bolt App', value: results[2]! },
    },
  ];
}

/** Builds the image from the stand-ins, runs it against fresh fakes and samples its node process. */
async function measureImage(log: (line: string) => void): Promise<number> {
  const env = loadTestEnv();
  const docker = testDocker(env);
  const standins = await ensureStandins(env, log);
  const ref = `siteflow-bench-image:${process.pid}`;
  const build = await buildSiteFlowImage(env, standins.images, ref, testLabels(), REPO_DIR, log);
  log(`image built in ${(build.totalMs / 1000).toFixed(0)} s`);
  const discord = await new FakeDiscord().start();
  const slack = await new FakeSlack().start();
  const socket = env.dockerSocketPath ?? '/var/run/docker.sock';
  const container = await docker.createContainer({
    Image: ref,
    Labels: testLabels(),
    Env: [
      `DISCORD_TOKEN=${discord.token}`,
      `DISCORD_API_URL=${discord.apiUrl}`,
      `DISCORD_GUILD_ID=${DiscordIds.guild}`,
      `SLACK_BOT_TOKEN=${slack.botToken}`,
      'SLACK_SIGNING_SECRET=memory-bench-signing-secret',
      `SLACK_API_URL=${slack.apiUrl}`,
      'SLACK_HOST=127.0.0.1',
      `SLACK_PORT=${await freePort()}`,
      `WEB_PORT=${await freePort()}`,
      'LOG_LEVEL=warn',
      'DOCKER_HOSTS=unix:///var/run/docker.sock',
    ],
    HostConfig: {
      NetworkMode: 'host',
      GroupAdd: [String(statSync(socket).gid)],
      Binds: [`${socket}:/var/run/docker.sock`],
    },
  });
  try {
    await container.start();
    const pid = async (): Promise<number> => {
      const top = (await container.top({ ps_args: '-eo pid,args' })) as { Processes: string[][] };
      const row = top.Processes.find((p) => p[1]?.startsWith('node dist/src/main.js'));
      if (!row) throw new Error('no node process in the container');
      return Number(row[0]);
    };
    let nodePid = 0;
    for (let i = 0; i < 100 && !nodePid; i++) {
      nodePid = await pid().catch(() => 0);
      if (!nodePid) await new Promise((r) => setTimeout(r, 100));
    }
    if (!nodePid) throw new Error('no node process in the container');
    const mb = await measure(nodePid, () => !existsSync(`/proc/${nodePid}`), discord, slack);
    log(`image: ${mb.toFixed(1)} MB resident after ${IDLE_MS / 1000} s idle`);
    return mb;
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
    await discord.stop();
    await slack.stop();
    await cleanupRun(runId, docker).catch(() => undefined);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await run((l) => console.log(l))) console.log(r);
}
