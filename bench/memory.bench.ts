/**
 * Resident memory of the whole SiteFlow process (compiled, as the Docker image runs it) with
 * both chat adapters connected and idle, against a bare process holding only a connected
 * discord.js Client and a started Bolt App on the same fakes, in the same run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadTestEnv, REPO_DIR } from '../test/env/harness.js';
import { DiscordIds, FakeDiscord } from '../test/fakes/discord-server.js';
import { FakeSlack } from '../test/fakes/slack-server.js';
import type { BenchResult } from './types.js';

const IDLE_MS = 8_000;

/** NODE_OPTIONS the Docker image sets, so the measured process runs as the image runs it. */
function imageNodeOptions(): string {
  const m = /^ENV NODE_OPTIONS=(.+)$/m.exec(readFileSync(join(REPO_DIR, 'Dockerfile'), 'utf8'));
  return m ? m[1]!.trim() : '';
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

/** Waits until both fakes saw a client connect, idles, then samples RSS; returns the peak. */
async function measure(child: ChildProcess, discord: FakeDiscord, slack: FakeSlack): Promise<number> {
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  await until('the Discord gateway session', () => discord.gateway.stats.identifies > 0 || exited);
  await until('Slack auth.test', () => slack.calls.some((c) => c.method === 'auth.test') || exited);
  if (exited) throw new Error('the process exited early');
  await new Promise((r) => setTimeout(r, IDLE_MS));
  let peak = 0;
  for (let i = 0; i < SAMPLES; i++) {
    peak = Math.max(peak, rssMb(child.pid!));
    await new Promise((r) => setTimeout(r, 200));
  }
  return peak;
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
  const nodeOptions = imageNodeOptions();
  log(`NODE_OPTIONS from the Dockerfile: ${nodeOptions || '(none)'}`);
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
      ...(which === 'siteflow' ? { NODE_OPTIONS: nodeOptions } : {}),
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
      const mb = await measure(child, discord, slack);
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
  return [
    {
      name: 'resident memory, whole process as the image runs it, Discord + Slack connected and idle',
      value: results[0]!,
      unit: 'MB',
      baseline: { name: 'bare discord.js Client + Bolt App', value: results[2]! },
      target: '< 150 MB',
    },
    {
      name: 'the same with Node default flags',
      value: results[1]!,
      unit: 'MB',
      baseline: { name: 'bare discord.js Client + Bolt App', value: results[2]! },
    },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await run((l) => console.log(l))) console.log(r);
}
