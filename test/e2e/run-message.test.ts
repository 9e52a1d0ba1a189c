/**
 * The run message on every chat surface, driven the same way on both platforms (real discord.js
 * and Bolt against FakeDiscord and FakeSlack): a run's first message carries a Cancel button
 * while it runs; a viewer's click is refused; an admin's click cancels it within 2 s, audited as
 * cancelled by the clicker; the message then ends with the outcome and no Cancel button.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SlackSurface } from '../../src/chat/slack/slack-surface.js';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import { type ComposeProject, createComposeProject, waitFor } from '../env/harness.js';
import { DiscordIds, FakeDiscord } from '../fakes/discord-server.js';
import { FakeSlack, SlackIds, SlackSender } from '../fakes/slack-server.js';
import { testLogger } from '../support/siteflow.js';

const env = inject('siteflowTestEnv');
const SECRET = 'run-message-signing-secret-0123456789';
const OP_RE = /op\\?_([0-9a-z]{26})/;

let app: SiteFlow;
let discord: FakeDiscord;
let slack: FakeSlack;
let sender: SlackSender;
let site: ComposeProject;
let dir: string;

/** What a test needs of one platform: start a run, read its message, click its buttons. */
interface Driver {
  /** Starts `/logs <site> follow:2m` as the operator; resolves to the operation id. */
  startFollow(): Promise<string>;
  /** The run message as a person sees it: text and button labels. */
  runMessage(opId: string): { text: string; buttons: string[] };
  /** Clicks the Cancel button of the run message as `who`; resolves to the private answer. */
  clickCancel(opId: string, who: 'viewer' | 'admin'): Promise<string>;
}

const discordRuns = new Map<string, string>(); // op id -> message id
const discordDriver: Driver = {
  async startFollow() {
    const rec = discord.slashCommand({
      name: 'logs',
      options: { site: site.name, follow: '2m' },
      user: DiscordIds.bob,
    });
    await discord.waitFor(() => OP_RE.exec(rec.replyContent ?? ''), 10_000, 'run reply');
    const opId = `op_${OP_RE.exec(rec.replyContent!)![1]}`;
    discordRuns.set(opId, rec.originalMessageId!);
    return opId;
  },
  runMessage(opId) {
    const m = discord.findMessage(discordRuns.get(opId)!)!.message;
    const buttons = (m.components as { components: { label?: string }[] }[]).flatMap((r) =>
      r.components.map((c) => c.label ?? ''),
    );
    return { text: m.content, buttons };
  },
  async clickCancel(opId, who) {
    const m = discord.findMessage(discordRuns.get(opId)!)!.message;
    const button = (m.components as { components: { label?: string; custom_id?: string }[] }[])
      .flatMap((r) => r.components)
      .find((c) => c.label === 'Cancel')!;
    const rec = discord.buttonClick({
      customId: button.custom_id!,
      message: m,
      user: who === 'admin' ? DiscordIds.alice : DiscordIds.carol,
    });
    await discord.waitFor(() => rec.replyContent, 10_000, 'click answer');
    return rec.replyContent!;
  },
};

const slackRuns = new Map<string, string>(); // op id -> parent ts
const slackDriver: Driver = {
  async startFollow() {
    const before = slack.messagesIn(SlackIds.ops).length;
    const d = await sender.slashCommand({
      command: '/siteflow',
      text: `logs ${site.name} follow:2m`,
      channelId: SlackIds.ops,
      userId: SlackIds.bob,
    });
    expect(d.status).toBe(200);
    const parent = await slack.waitFor(
      () =>
        slack
          .messagesIn(SlackIds.ops)
          .slice(before)
          .find((m) => OP_RE.test(m.text)),
      10_000,
      'run message',
    );
    const opId = `op_${OP_RE.exec(parent.text)![1]}`;
    slackRuns.set(opId, parent.ts);
    return opId;
  },
  runMessage(opId) {
    const m = slack.message(SlackIds.ops, slackRuns.get(opId)!)!;
    const blocks = m.blocks as { type: string; elements?: { text?: { text: string } }[] }[];
    const buttons = blocks
      .filter((b) => b.type === 'actions')
      .flatMap((b) => b.elements ?? [])
      .map((e) => e.text?.text ?? '');
    return { text: m.text, buttons };
  },
  async clickCancel(opId, who) {
    const ts = slackRuns.get(opId)!;
    const m = slack.message(SlackIds.ops, ts)!;
    const el = (
      m.blocks as {
        type: string;
        elements?: { action_id: string; value: string; text: { text: string } }[];
      }[]
    )
      .filter((b) => b.type === 'actions')
      .flatMap((b) => b.elements ?? [])
      .find((e) => e.text.text === 'Cancel')!;
    const d = await sender.blockAction({
      actionId: el.action_id,
      value: el.value,
      messageTs: ts,
      channelId: SlackIds.ops,
      userId: who === 'admin' ? SlackIds.alice : SlackIds.carol,
    });
    expect(d.status).toBe(200);
    await slack.waitFor(() => d.responseUrl!.posts.length > 0, 10_000, 'click answer');
    return JSON.stringify(d.responseUrl!.posts[0]!.body);
  },
};

beforeAll(async () => {
  site = createComposeProject(
    {
      name: 'runmsg',
      services: { web: { command: ['sh', '-c', 'while true; do echo tick; sleep 0.3; done'] } },
    },
    env,
  );
  await site.up();
  discord = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  slack = await new FakeSlack().start();
  dir = mkdtempSync(join(tmpdir(), 'sf-runmsg-'));
  app = await startSiteFlow(
    loadConfig(
      {
        DATA_DIR: join(dir, 'data'),
        SITES_ROOT: join(dir, 'sites'),
        WEB_PORT: '0',
        DOCKER_HOSTS: env.dockerHost,
        DISCORD_TOKEN: discord.token,
        DISCORD_API_URL: discord.apiUrl,
        DISCORD_GUILD_ID: DiscordIds.guild,
        SLACK_BOT_TOKEN: slack.botToken,
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        SLACK_PORT: '0',
        ADMINS: `discord:role:${DiscordIds.roleAdmin},slack:user:${SlackIds.alice}`,
        OPERATORS: `discord:role:${DiscordIds.roleOperator},slack:user:${SlackIds.bob}`,
        MONITOR_ENABLED: 'false',
      },
      { envFile: null },
    ),
    { logger: testLogger(), console: false },
  );
  const surface = app.surfaces.find((s): s is SlackSurface => s instanceof SlackSurface)!;
  sender = new SlackSender({
    url: `http://127.0.0.1:${surface.port}/slack/events`,
    signingSecret: SECRET,
    fake: slack,
  });
  await waitFor('the site in the live state', async () => !!app.live.site('local', site.name));
});

afterAll(async () => {
  await app?.stop('test done');
  await discord?.stop();
  await slack?.stop();
  await site?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['Discord', discordDriver],
  ['Slack', slackDriver],
])('run message on %s (platform fake)', (_name, driver) => {
  it('carries Cancel while running; a viewer is refused; an admin cancels within 2 s; the message ends with the outcome', async () => {
    const opId = await driver.startFollow();
    expect(driver.runMessage(opId).buttons).toContain('Cancel');
    expect(app.services.operations.get(opId)!.status).toBe('running');

    const refused = await driver.clickCancel(opId, 'viewer');
    expect(refused).toMatch(/not allowed/);
    expect(app.services.operations.get(opId)!.status).toBe('running');

    const clicked = Date.now();
    await driver.clickCancel(opId, 'admin');
    await waitFor('cancelled', async () => app.services.operations.get(opId)!.status === 'cancelled', 2000);
    expect(Date.now() - clicked).toBeLessThan(2000);

    const audit = app.services.audit
      .query({ action: 'logs', limit: 50 })
      .entries.find((e) => e.operationId === opId)!;
    expect(audit.outcome).toBe('cancelled');
    expect((audit.details as { cancelledBy?: { name: string } }).cancelledBy?.name).toBe('alice');

    await waitFor(
      'the run message shows the outcome',
      async () => /cancelled/.test(driver.runMessage(opId).text),
      10_000,
    );
    expect(driver.runMessage(opId).buttons).not.toContain('Cancel');
  });
});
