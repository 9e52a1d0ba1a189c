/**
 * Slack acknowledgement latency and streaming throughput. 50 concurrent signed slash commands
 * through SiteFlow's Slack surface (compiled, HTTP mode, real Bolt, in a process of its own)
 * against a bare Bolt app that only acks (in another process), both on the same FakeSlack in
 * this process, in the same run; then a long /logs streamed into a thread:
 * lines per second the chat received versus the action's raw rate. Needs the test environment.
 */
import { pathToFileURL } from 'node:url';
import { createComposeProject, loadTestEnv } from '../test/env/harness.js';
import { FakeSlack, SlackIds, SlackSender } from '../test/fakes/slack-server.js';
import { buildDist, freePort, spawnModule, spawnSiteFlow } from './child-process.js';
import { percentile as pct } from './stats.js';
import type { BenchResult } from './types.js';

const SECRET = 'bench-signing-secret-0123456789';
const CONCURRENT = 50;
const ROUNDS = 6;
const LINES = 2000;

/** The baseline: a bare Bolt app in a process of its own that only acks. */
const BARE = `
import bolt from '@slack/bolt';
const quiet = { debug() {}, info() {}, warn() {}, error() {}, setLevel() {}, getLevel: () => 'error', setName() {} };
const app = new bolt.App({ token: process.env.SLACK_BOT_TOKEN, signingSecret: process.env.SLACK_SIGNING_SECRET,
  clientOptions: { slackApiUrl: process.env.SLACK_API_URL }, logger: quiet });
app.command(/.*/, async ({ ack }) => { await ack(); });
await app.start({ port: Number(process.env.PORT), host: '127.0.0.1' });
console.log('ready');
`;

async function burst(sender: SlackSender, command: string, text: string): Promise<number[]> {
  const ds = await Promise.all(
    Array.from({ length: CONCURRENT }, (_, n) =>
      sender.slashCommand({ command, text, userId: [SlackIds.alice, SlackIds.bob, SlackIds.carol][n % 3]! }),
    ),
  );
  if (ds.some((d) => d.status !== 200)) throw new Error(`non-200 ack: ${ds.map((d) => d.status).join(',')}`);
  return ds.map((d) => d.elapsedMs);
}

/** Retries one signed command until the receiver on `sender` answers 200. */
async function warm(sender: SlackSender): Promise<void> {
  const end = Date.now() + 60_000;
  for (;;) {
    const ok = await sender
      .slashCommand({ command: '/siteflow', text: 'help', userId: SlackIds.alice })
      .then((d) => d.status === 200)
      .catch(() => false);
    if (ok) return;
    if (Date.now() > end) throw new Error('the receiver never answered');
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function run(log: (line: string) => void = () => {}): Promise<BenchResult[]> {
  const env = loadTestEnv();
  buildDist(log);
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
  const [sfPort, barePort, webPort] = [await freePort(), await freePort(), await freePort()];
  const sfProc = spawnSiteFlow({
    DOCKER_HOSTS: env.dockerHost,
    WEB_PORT: String(webPort),
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_PORT: String(sfPort),
    SLACK_API_URL: fake.apiUrl,
    // /logs (the streaming part) is operator-level.
    ADMINS: `slack:user:${SlackIds.alice}`,
    MONITOR_ENABLED: 'false',
  });
  const bareProc = spawnModule(BARE, {
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: fake.apiUrl,
    PORT: String(barePort),
  });
  try {
    const sf = new SlackSender({
      url: `http://127.0.0.1:${sfPort}/slack/events`,
      signingSecret: SECRET,
      fake,
    });
    const plain = new SlackSender({
      url: `http://127.0.0.1:${barePort}/slack/events`,
      signingSecret: SECRET,
      fake,
    });
    await bareProc.waitForLine(/ready/);
    await Promise.all([warm(sf), warm(plain)]);
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
      `ack: ${ours.length} SiteFlow, ${theirs.length} bare Bolt deliveries (${ROUNDS} rounds of ${CONCURRENT}, each in its own process)`,
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
    const res = await fetch(`http://127.0.0.1:${webPort}/api/runs/${opId}`);
    const { operation: op } = (await res.json()) as { operation: { startedAt: number; finishedAt: number } };
    const opMs = Math.max(1, op.finishedAt - op.startedAt);
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
        name: `ack p50 (${CONCURRENT} concurrent, separate processes)`,
        value: pct(ours, 50),
        unit: 'ms',
        baseline: { name: 'bare Bolt ack', value: pct(theirs, 50) },
      },
      {
        name: `ack p99 (${CONCURRENT} concurrent, separate processes)`,
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
    await Promise.all([sfProc.stop(), bareProc.stop()]);
    await fake.stop();
    await project.down().catch(() => undefined);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await run(console.log)) console.log(r);
  process.exit(0);
}
