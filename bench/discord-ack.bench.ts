/**
 * Discord acknowledgement latency and streaming throughput, against FakeDiscord on loopback.
 *
 * 1. 50 slash commands dispatched at once, several rounds: time from INTERACTION_CREATE to the
 *    deferred acknowledgement as the fake saw it, p50/p99, through SiteFlow's Discord surface
 *    (compiled SiteFlow, real discord.js, in a process of its own) versus a bare discord.js client
 *    whose handler only calls deferReply() (in another process), each on its own fake in this
 *    process, rounds alternating, in the same run.
 * 2. `/logs` of a container that printed 20,000 lines: lines per second delivered to the fake
 *    (live messages plus the attached full log) versus the action's own rate.
 *
 *   npm run bench discord-ack     (needs the test environment: test/env/setup.sh)
 */
import { pathToFileURL } from 'node:url';
import { createComposeProject, loadTestEnv, testDocker, waitFor } from '../test/env/harness.js';
import { DiscordIds, FakeDiscord, type InteractionRecord } from '../test/fakes/discord-server.js';
import { type BenchChild, buildDist, freePort, spawnModule, spawnSiteFlow } from './child-process.js';
import { percentile as pct } from './stats.js';
import type { BenchResult } from './types.js';

const BURST = 50;
const ROUNDS = 6;
const LINES = 20_000;

/** The baseline: a bare discord.js client in a process of its own whose handler only defers. */
const BARE = `
import { Client, Events, GatewayIntentBits } from 'discord.js';
const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: process.env.DISCORD_API_URL, version: '10' } });
client.on(Events.InteractionCreate, (i) => { if (i.isChatInputCommand()) void i.deferReply().catch(() => undefined); });
client.once(Events.ClientReady, () => console.log('ready'));
await client.login(process.env.DISCORD_TOKEN);
`;

/** Fires BURST commands at once on `fake`; returns every acknowledgement latency (ms). */
async function burst(fake: FakeDiscord, name: string): Promise<number[]> {
  const users = [DiscordIds.alice, DiscordIds.bob, DiscordIds.carol];
  const recs: InteractionRecord[] = Array.from({ length: BURST }, (_, n) =>
    fake.slashCommand({ name, user: users[n % users.length]! }),
  );
  await fake.waitFor(() => recs.every((r) => r.ackedAt !== undefined), 20_000, 'acks');
  // Let the replies go out before the next burst (SiteFlow edits each one).
  await fake
    .waitFor(() => recs.every((r) => r.replies.length > 0 || r.callbackType !== 5), 20_000, 'replies')
    .catch(() => undefined);
  return recs.map((r) => r.ackLatencyMs!);
}

/** Waits until a client is connected to `fake` and answers a command. */
async function warm(fake: FakeDiscord, child: BenchChild): Promise<void> {
  await fake
    .waitFor(() => fake.gateway.stats.identifies > 0, 60_000, 'gateway identify')
    .catch((e) => {
      throw new Error(`${(e as Error).message}; stderr: ${child.stderr()}`);
    });
  for (let i = 0; i < 50; i++) {
    const rec = fake.slashCommand({ name: 'help', user: DiscordIds.alice });
    const ok = await fake
      .waitFor(() => rec.ackedAt !== undefined, 1000, 'warm-up ack')
      .then(() => true)
      .catch(() => false);
    if (ok) break;
  }
  await burst(fake, 'help');
}

export async function run(log: (line: string) => void = () => {}): Promise<BenchResult[]> {
  const env = loadTestEnv();
  const docker = testDocker(env);
  buildDist(log);
  const bareFake = await new FakeDiscord({ heartbeatIntervalMs: 1000 }).start();
  const sfFake = await new FakeDiscord({ heartbeatIntervalMs: 1000 }).start();
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
  const webPort = await freePort();
  const bare = spawnModule(BARE, { DISCORD_TOKEN: bareFake.token, DISCORD_API_URL: bareFake.apiUrl });
  const sf = spawnSiteFlow({
    DOCKER_HOSTS: env.dockerHost,
    WEB_PORT: String(webPort),
    DISCORD_TOKEN: sfFake.token,
    DISCORD_API_URL: sfFake.apiUrl,
    DISCORD_GUILD_ID: DiscordIds.guild,
    ADMINS: `discord:role:${DiscordIds.roleAdmin}`,
    OPERATORS: `discord:role:${DiscordIds.roleOperator}`,
    MONITOR_ENABLED: 'false',
  });
  try {
    await spew.up();
    await Promise.all([warm(bareFake, bare), warm(sfFake, sf)]);
    const bareLat: number[] = [];
    const sfLat: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order so neither side always runs on a warmer machine.
      if (round % 2 === 0) {
        sfLat.push(...(await burst(sfFake, 'help')));
        bareLat.push(...(await burst(bareFake, 'help')));
      } else {
        bareLat.push(...(await burst(bareFake, 'help')));
        sfLat.push(...(await burst(sfFake, 'help')));
      }
    }
    log(`bare handler: p50 ${pct(bareLat, 50)} ms, p99 ${pct(bareLat, 99)} ms (${bareLat.length} commands)`);
    log(`SiteFlow:     p50 ${pct(sfLat, 50)} ms, p99 ${pct(sfLat, 99)} ms (${sfLat.length} commands)`);

    await waitFor('spew printed everything', async () => {
      const list = await docker.listContainers({
        filters: { label: [`com.docker.compose.project=${spew.name}`] },
      });
      if (!list[0]) return false;
      const tail = await docker.getContainer(list[0].Id).logs({ stdout: true, stderr: true, tail: 1 });
      return String(tail).includes(`line ${LINES} `);
    });
    const rec = sfFake.slashCommand({ name: 'logs', options: { site: spew.name, lines: LINES } });
    const summary = await sfFake.waitFor(
      () => {
        const thread = rec.originalMessageId ? sfFake.channels.get(rec.originalMessageId) : undefined;
        return thread ? sfFake.messagesIn(thread.id).find((m) => m.attachments.length > 0) : undefined;
      },
      120_000,
      'attached log',
    );
    const opId = /op\\?_[0-9a-z]{26}/.exec(rec.replyContent ?? '')![0]!.replace('\\', '');
    const res = await fetch(`http://127.0.0.1:${webPort}/api/runs/${opId}`);
    const { operation: op } = (await res.json()) as { operation: { startedAt: number; finishedAt: number } };
    const actionMs = op.finishedAt - op.startedAt;
    const deliveredMs = summary.createdAt - op.startedAt;
    const delivered = summary.attachments[0]!.bytes.toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith('line ')).length;
    const live = sfFake
      .messagesIn(rec.originalMessageId!)
      .map((m) => m.content.split('\n').filter((l) => l.startsWith('│ line ')).length)
      .reduce((a, b) => a + b, 0);
    log(
      `logs: ${LINES} lines, action ${actionMs} ms, all delivered after ${deliveredMs} ms (${delivered} lines in the attachment, ${live} shown live)`,
    );
    return [
      {
        name: `ack p50 (${BURST} at once, separate processes)`,
        value: pct(sfLat, 50),
        unit: 'ms',
        baseline: { name: 'bare deferReply', value: pct(bareLat, 50) },
      },
      {
        name: `ack p99 (${BURST} at once, separate processes)`,
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
    await Promise.all([bare.stop(), sf.stop()]);
    await bareFake.stop();
    await sfFake.stop();
    await spew.down();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await run(console.log)) console.log(r);
  process.exit(0);
}
