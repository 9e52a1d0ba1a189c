/**
 * Discord acknowledgement latency and streaming throughput, against FakeDiscord on loopback.
 *
 * 1. 50 slash commands dispatched at once, several rounds: time from INTERACTION_CREATE to the
 *    deferred acknowledgement as the fake saw it, p50/p99, through SiteFlow's Discord surface
 *    (real SiteFlow, real discord.js) versus a bare discord.js client whose handler only calls
 *    deferReply(), against the same fake in the same run.
 * 2. `/logs` of a container that printed 20,000 lines: lines per second delivered to the fake
 *    (live messages plus the attached full log) versus the action's own rate.
 *
 *   npm run bench discord-ack     (needs the test environment: test/env/setup.sh)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Events, GatewayIntentBits } from 'discord.js';
import { loadConfig } from '../src/config.js';
import { startSiteFlow } from '../src/main.js';
import { createComposeProject, loadTestEnv, testDocker, waitFor } from '../test/env/harness.js';
import { DiscordIds, FakeDiscord, type InteractionRecord } from '../test/fakes/discord-server.js';
import { testLogger } from '../test/support/siteflow.js';
import { percentile as pct } from './stats.js';
import type { BenchResult } from './types.js';

const BURST = 50;
const ROUNDS = 5;
const LINES = 20_000;

/** Fires BURST commands at once, ROUNDS times; returns every acknowledgement latency (ms). */
async function bursts(fake: FakeDiscord, name: string): Promise<number[]> {
  const users = [DiscordIds.alice, DiscordIds.bob, DiscordIds.carol];
  const out: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const recs: InteractionRecord[] = Array.from({ length: BURST }, (_, n) =>
      fake.slashCommand({ name, user: users[n % users.length]! }),
    );
    await fake.waitFor(() => recs.every((r) => r.ackedAt !== undefined), 10_000, 'acks');
    // Let the replies go out before the next burst (SiteFlow edits each one).
    await fake
      .waitFor(() => recs.every((r) => r.replies.length > 0 || r.callbackType !== 5), 10_000, 'replies')
      .catch(() => undefined);
    out.push(...recs.map((r) => r.ackLatencyMs!));
  }
  return out;
}

export async function run(log: (line: string) => void = () => {}): Promise<BenchResult[]> {
  const env = loadTestEnv();
  const docker = testDocker(env);
  const fake = await new FakeDiscord({ heartbeatIntervalMs: 1000 }).start();
  const dir = mkdtempSync(join(tmpdir(), 'sf-bench-discord-'));
  const spew = createComposeProject(
    {
      name: 'benchspew',
      services: {
        app: {
          command: [
            'sh',
            '-c',
            `i=0; while [ $$i -lt ${LINES} ]; do i=$$((i+1)); printf 'line %s of the benchmark output, some text to make it realistic\\n' $$i; done; exec sleep 3600`,
          ],
        },
      },
    },
    env,
  );
  try {
    await spew.up();
    // Baseline: a bare discord.js handler that only acknowledges.
    const bare = new Client({
      intents: [GatewayIntentBits.Guilds],
      rest: { api: fake.apiUrl, version: '10' },
    });
    bare.on(Events.InteractionCreate, (i) => {
      if (i.isChatInputCommand()) void i.deferReply().catch(() => undefined);
    });
    const ready = new Promise<void>((r) => bare.once(Events.ClientReady, () => r()));
    await bare.login(fake.token);
    await ready;
    const bareLat = await bursts(fake, 'help');
    await bare.destroy();
    log(`bare handler: p50 ${pct(bareLat, 50)} ms, p99 ${pct(bareLat, 99)} ms (${bareLat.length} commands)`);

    const app = await startSiteFlow(
      loadConfig(
        {
          DATA_DIR: join(dir, 'data'),
          SITES_ROOT: join(dir, 'sites'),
          WEB_PORT: '0',
          DOCKER_HOSTS: env.dockerHost,
          DISCORD_TOKEN: fake.token,
          DISCORD_API_URL: fake.apiUrl,
          DISCORD_GUILD_ID: DiscordIds.guild,
          OPERATORS: `discord:role:${DiscordIds.roleOperator}`,
        },
        { envFile: null },
      ),
      { logger: testLogger(), console: false },
    );
    try {
      const sfLat = await bursts(fake, 'help');
      log(`SiteFlow:     p50 ${pct(sfLat, 50)} ms, p99 ${pct(sfLat, 99)} ms (${sfLat.length} commands)`);

      await waitFor('spew printed everything', async () => {
        const list = await docker.listContainers({
          filters: { label: [`com.docker.compose.project=${spew.name}`] },
        });
        if (!list[0]) return false;
        const tail = await docker.getContainer(list[0].Id).logs({ stdout: true, stderr: true, tail: 1 });
        return String(tail).includes(`line ${LINES} `);
      });
      const rec = fake.slashCommand({ name: 'logs', options: { site: spew.name, lines: LINES } });
      const summary = await fake.waitFor(
        () => {
          const thread = rec.originalMessageId ? fake.channels.get(rec.originalMessageId) : undefined;
          return thread ? fake.messagesIn(thread.id).find((m) => m.attachments.length > 0) : undefined;
        },
        120_000,
        'attached log',
      );
      const opId = /op\\?_[0-9a-z]{26}/.exec(rec.replyContent ?? '')![0]!.replace('\\', '');
      const op = app.services.operations.get(opId)!;
      const actionMs = op.finishedAt! - op.startedAt!;
      const deliveredMs = summary.createdAt - op.startedAt!;
      const delivered = summary.attachments[0]!.bytes.toString('utf8')
        .split('\n')
        .filter((l) => l.startsWith('line ')).length;
      const live = fake
        .messagesIn(rec.originalMessageId!)
        .map((m) => m.content.split('\n').filter((l) => l.startsWith('│ line ')).length)
        .reduce((a, b) => a + b, 0);
      log(
        `logs: ${LINES} lines, action ${actionMs} ms, all delivered after ${deliveredMs} ms (${delivered} lines in the attachment, ${live} shown live)`,
      );
      return [
        {
          name: `ack p50 (${BURST} at once)`,
          value: pct(sfLat, 50),
          unit: 'ms',
          baseline: { name: 'bare deferReply', value: pct(bareLat, 50) },
        },
        {
          name: `ack p99 (${BURST} at once)`,
          value: pct(sfLat, 99),
          unit: 'ms',
          baseline: { name: 'bare deferReply', value: pct(bareLat, 99) },
          target: '<= 1.2x bare and < 50 ms',
        },
        {
          name: 'streamed lines/s (delivered)',
          value: Math.round((delivered / deliveredMs) * 1000),
          unit: 'lines/s',
          baseline: { name: 'action raw rate', value: Math.round((LINES / Math.max(1, actionMs)) * 1000) },
        },
      ];
    } finally {
      await app.stop('bench done');
    }
  } finally {
    await fake.stop();
    await spew.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await run(console.log)) console.log(r);
  process.exit(0);
}
