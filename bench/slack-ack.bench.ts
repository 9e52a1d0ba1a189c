/**
 * Slack acknowledgement latency and streaming throughput. 50 concurrent signed slash commands
 * through SiteFlow's Slack surface (HTTP mode, real Bolt) against a bare Bolt app that only
 * acks, both on the same FakeSlack in the same run; then a long /logs streamed into a thread:
 * lines per second the chat received versus the action's raw rate. Needs the test environment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from '@slack/bolt';
import { SlackSurface } from '../src/chat/slack/slack-surface.js';
import { loadConfig } from '../src/config.js';
import { startSiteFlow } from '../src/main.js';
import { createComposeProject, loadTestEnv } from '../test/env/harness.js';
import { FakeSlack, SlackIds, SlackSender } from '../test/fakes/slack-server.js';
import { testLogger } from '../test/support/siteflow.js';
import { percentile as pct } from './stats.js';
import type { BenchResult } from './types.js';

const SECRET = 'bench-signing-secret-0123456789';
const CONCURRENT = 50;
const ROUNDS = 6;
const LINES = 2000;

async function burst(sender: SlackSender, command: string, text: string): Promise<number[]> {
  const ds = await Promise.all(
    Array.from({ length: CONCURRENT }, (_, n) =>
      sender.slashCommand({ command, text, userId: [SlackIds.alice, SlackIds.bob, SlackIds.carol][n % 3]! }),
    ),
  );
  if (ds.some((d) => d.status !== 200)) throw new Error(`non-200 ack: ${ds.map((d) => d.status).join(',')}`);
  return ds.map((d) => d.elapsedMs);
}

export async function run(log: (line: string) => void = () => {}): Promise<BenchResult[]> {
  const env = loadTestEnv();
  const project = createComposeProject(
    {
      name: 'benchslack',
      services: {
        chatty: {
          command: [
            'sh',
            '-c',
            `i=0; while [ $$i -lt ${LINES} ]; do echo "line $$i of the bench output <b> & more"; i=$$((i+1)); done; exec sleep 3600`,
          ],
        },
      },
    },
    env,
  );
  await project.up();
  const fake = await new FakeSlack().start();
  const dir = mkdtempSync(join(tmpdir(), 'sf-bench-slack-'));
  const app = await startSiteFlow(
    loadConfig(
      {
        DATA_DIR: dir,
        SITES_ROOT: join(dir, 'sites'),
        WEB_PORT: '0',
        DOCKER_HOSTS: env.dockerHost,
        SLACK_BOT_TOKEN: fake.botToken,
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_PORT: '0',
        SLACK_API_URL: fake.apiUrl,
      },
      { envFile: null },
    ),
    { logger: testLogger(), console: false },
  );
  const bare = new App({
    token: fake.botToken,
    signingSecret: SECRET,
    clientOptions: { slackApiUrl: fake.apiUrl },
    logger: {
      debug() {},
      info() {},
      warn() {},
      error() {},
      setLevel() {},
      getLevel: () => 'error' as never,
      setName() {},
    },
  });
  bare.command(/.*/, async ({ ack }) => {
    await ack();
  });
  const bareServer = (await bare.start({ port: 0, host: '127.0.0.1' })) as Server;
  try {
    const slack = app.surfaces.find((s): s is SlackSurface => s instanceof SlackSurface)!;
    const sf = new SlackSender({
      url: `http://127.0.0.1:${slack.port}/slack/events`,
      signingSecret: SECRET,
      fake,
    });
    const plain = new SlackSender({
      url: `http://127.0.0.1:${(bareServer.address() as AddressInfo).port}/slack/events`,
      signingSecret: SECRET,
      fake,
    });
    await burst(sf, '/siteflow', 'help'); // warm-up
    await burst(plain, '/siteflow', 'help');
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate the order so neither side always runs on a warmer machine.
      if (i % 2 === 0) {
        ours.push(...(await burst(sf, '/siteflow', 'help')));
        theirs.push(...(await burst(plain, '/siteflow', 'help')));
      } else {
        theirs.push(...(await burst(plain, '/siteflow', 'help')));
        ours.push(...(await burst(sf, '/siteflow', 'help')));
      }
      await new Promise((r) => setTimeout(r, 300)); // let SiteFlow's answers go out between rounds
    }
    log(
      `ack: ${ours.length} SiteFlow, ${theirs.length} bare Bolt deliveries (${ROUNDS} rounds of ${CONCURRENT})`,
    );

    // Streaming: a long /logs into a thread; SiteFlow's pace vs the action's own.
    const before = fake.messagesIn(SlackIds.ops).length;
    await sf.slashCommand({
      command: '/siteflow',
      text: `logs ${project.name} chatty lines=${LINES}`,
      channelId: SlackIds.ops,
    });
    const found = await fake.waitFor(
      () => {
        const parent = fake.messagesIn(SlackIds.ops).slice(before)[0];
        const replies = parent ? fake.repliesOf(SlackIds.ops, parent.ts) : [];
        const summary = replies.find((m) => /succeeded|failed/.test(m.text));
        return parent && summary ? { parent, replies, summary } : null;
      },
      180_000,
      'logs summary',
    );
    const opId = /op_[0-9a-z]{26}/.exec(found.parent.versions[0]!.text)![0];
    const op = app.services.operations.get(opId)!;
    const opMs = Math.max(1, op.finishedAt! - op.startedAt!);
    const shown = found.replies
      .filter((m) => m !== found.summary)
      .flatMap((m) => m.blocks as { type: string; text?: { text: string } }[])
      .flatMap((b) => (b.type === 'section' ? b.text!.text.split('\n') : []))
      .filter((l) => l.includes('bench output')).length;
    const streamMs = Math.max(1, found.summary.versions[0]!.at - found.parent.versions[0]!.at);
    const attached = found.summary.files.length > 0;
    log(
      `stream: ${LINES} lines in ${opMs} ms (action); ${shown} shown live in ${found.replies.length - 1} messages over ${streamMs} ms; full log attached: ${attached}`,
    );
    return [
      {
        name: `ack p50 (${CONCURRENT} concurrent)`,
        value: pct(ours, 50),
        unit: 'ms',
        baseline: { name: 'bare Bolt ack', value: pct(theirs, 50) },
      },
      {
        name: `ack p99 (${CONCURRENT} concurrent)`,
        value: pct(ours, 99),
        unit: 'ms',
        baseline: { name: 'bare Bolt ack', value: pct(theirs, 99) },
        target: '<= 1.2x bare and < 50 ms',
      },
      {
        name: 'lines/s delivered to the chat (live)',
        value: (shown / streamMs) * 1000,
        unit: 'lines/s',
        baseline: { name: 'action raw rate', value: (LINES / opMs) * 1000 },
        target: 'chat paced (1 write / 1.2 s); rest in the attached log',
      },
    ];
  } finally {
    await app.stop('bench done');
    await bare.stop();
    await fake.stop();
    await project.down().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await run(console.log)) console.log(r);
  process.exit(0);
}
