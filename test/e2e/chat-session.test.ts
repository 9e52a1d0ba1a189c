/**
 * The chat session's flows, driven the same way on both platforms: one SiteFlow with the real
 * discord.js client against FakeDiscord and the real Bolt app against FakeSlack, one driver per
 * platform that only knows how that platform shows and clicks things. Every flow is written once
 * in src/chat/session.ts, and tested once here:
 * - invocation → reply: /restart acknowledged, its run message names the starter, output
 *   streamed into the thread, the containers restarted, the first message edited with the
 *   outcome, audited as the user;
 * - a denial is private, names the level and the exact principal to grant, changes nothing;
 * - confirmation: a foreign click and an expired one are refused privately, the owner's runs;
 * - alert buttons run their command as the clicker (a viewer refused, an operator restarts);
 * - a scheduled run is announced in the alert channel and followed like a typed one;
 * - the run message: Cancel while running, a viewer's click refused, an admin's click cancels a
 *   running `/logs follow` within 2 s, audited as cancelled by the clicker, the outcome edited in.
 * Completions are Discord's alone (Slack slash commands have no option autocomplete):
 * discord-autocomplete.test.ts. What each platform does with its own protocol (signatures, 429s,
 * the gateway, Socket Mode, the manifest, message limits) is in the platform files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SlackSurface } from '../../src/chat/slack/slack-surface.js';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import {
  type ComposeProject,
  createComposeProject,
  registryRunImage,
  run,
  testDocker,
  waitFor,
} from '../env/harness.js';
import { DiscordIds, FakeDiscord, type InteractionRecord } from '../fakes/discord-server.js';
import { FakeSlack, SlackIds, SlackSender } from '../fakes/slack-server.js';
import { testLogger } from '../support/siteflow.js';
import { sectionTexts, unescapeSlack } from './slack-support.js';

const env = inject('siteflowTestEnv');
const SECRET = 'chat-session-signing-secret-0123456789';
const OP_RE = /op\\?_([0-9a-z]{26})/;
const SUMMARY_RE = / (succeeded|failed|cancelled|timed out|interrupted)/;

let app: SiteFlow;
let discord: FakeDiscord;
let slack: FakeSlack;
let sender: SlackSender;
let docker: Docker;
let site: ComposeProject;
let dir: string;
/** How far SiteFlow's clock is ahead of the wall clock (to expire a confirmation). */
let skew = 0;

/** Who acts: alice is an admin, bob an operator, carol only a viewer, on both platforms. */
type Who = 'admin' | 'operator' | 'viewer';

/** What a person sees in answer to a command: a private answer, or a message in the channel. */
interface Shown {
  private: boolean;
  text: string;
  /** The channel message (a run's first message, a prompt), when the answer is one. */
  messageId?: string;
}

/** A message as a person sees it: its text and its buttons' labels. */
interface View {
  text: string;
  buttons: string[];
}

/** What a test needs of one platform. */
interface Driver {
  platform: 'discord' | 'slack';
  /** The platform's user id of `who`. */
  id(who: Who): string;
  /** Types `/name` with `args` as `who`; resolves once SiteFlow's answer is shown. */
  command(who: Who, name: string, args: Record<string, string>): Promise<Shown>;
  /** A message SiteFlow posted, as it is now. */
  view(messageId: string): View;
  /** Everything shown in the thread of a message so far. */
  thread(messageId: string): string;
  /** Clicks the button labelled `label` as `who`; resolves to the private answer, or '' once acknowledged. */
  click(messageId: string, label: string | RegExp, who: Who, answered: 'private' | 'acked'): Promise<string>;
  /** The alert message (with its buttons) about `siteName` in the alert channel. */
  alert(siteName: string): Promise<string>;
  /** The message in the alert channel whose text (markup removed) includes `headline` and matches `also`. */
  announced(headline: string, also: RegExp): Promise<string>;
  /** The alert's "opened" time in the platform's own timestamp format ('' when not in it). */
  alertOpened(messageId: string): string;
}

async function startedAt(project: string, service: string): Promise<string> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
  });
  return (await docker.getContainer(list[0]!.Id).inspect()).State.StartedAt;
}

const discordUsers: Record<Who, string> = {
  admin: DiscordIds.alice,
  operator: DiscordIds.bob,
  viewer: DiscordIds.carol,
};

/** A Discord message by id wherever it is (channel or thread). */
const discordMessage = (id: string) => {
  const found = discord.findMessage(id);
  if (!found) throw new Error(`no Discord message ${id}`);
  return found.message;
};

const discordButtons = (id: string) =>
  (discordMessage(id).components as { components: { label?: string; custom_id?: string }[] }[]).flatMap(
    (r) => r.components,
  );

/** The private answer of an interaction: a follow-up or the deferred reply itself. */
const privateAnswer = (rec: InteractionRecord) =>
  rec.followups.find((f) => f.ephemeral)?.content ??
  (rec.replies.length &&
  rec.originalMessageId &&
  discord.findMessage(rec.originalMessageId)?.message.ephemeral
    ? rec.replyContent
    : undefined);

const discordDriver: Driver = {
  platform: 'discord',
  id: (who) => discordUsers[who],
  async command(who, name, args) {
    const rec = discord.slashCommand({ name, options: args, user: discordUsers[who] });
    await discord.waitFor(() => rec.ackedAt, 3000, 'ack');
    expect(rec.ackLatencyMs!).toBeLessThan(3000);
    await discord.waitFor(() => rec.replyContent, 15_000, `answer to /${name}`);
    const m = discordMessage(rec.originalMessageId!);
    return {
      private: m.ephemeral === true,
      text: `${m.content}\n${JSON.stringify(m.embeds ?? [])}`,
      messageId: m.ephemeral ? undefined : m.id,
    };
  },
  view(id) {
    return { text: discordMessage(id).content, buttons: discordButtons(id).map((b) => b.label ?? '') };
  },
  thread(id) {
    const thread = discord.channels.get(id);
    if (!thread) return '';
    return discord
      .messagesIn(thread.id)
      .flatMap((m) => m.versions.map((v) => v.content))
      .join('\n');
  },
  async click(id, label, who, answered) {
    const button = discordButtons(id).find((b) =>
      typeof label === 'string' ? b.label === label : label.test(b.label ?? ''),
    );
    if (!button) throw new Error(`no button ${label} on ${JSON.stringify(this.view(id))}`);
    const rec = discord.buttonClick({
      customId: button.custom_id!,
      message: discordMessage(id),
      user: discordUsers[who],
    });
    if (answered === 'acked') {
      await discord.waitFor(() => rec.ackedAt, 3000, 'click ack');
      return '';
    }
    return discord.waitFor(() => privateAnswer(rec), 15_000, 'private answer to the click');
  },
  async alert(siteName) {
    const m = await discord.waitFor(
      () =>
        discord
          .messagesIn(DiscordIds.ops)
          .find(
            (x) => x.content.includes(siteName) && JSON.stringify(x.components).includes('sf:alert:restart:'),
          ),
      30_000,
      `alert about ${siteName}`,
    );
    return m.id;
  },
  async announced(headline, also) {
    const textOf = (c: string) => c.replace(/\\([\\_*~`|>#-])/g, '$1');
    const m = await discord.waitFor(
      () =>
        discord
          .messagesIn(DiscordIds.ops)
          .find((x) => textOf(x.content).includes(headline) && also.test(textOf(x.content))),
      60_000,
      `"${headline}" in the alert channel`,
    );
    return m.id;
  },
  alertOpened(id) {
    const embed = discordMessage(id).embeds[0] as { fields: { name: string; value: string }[] };
    const opened = embed.fields.find((f) => f.name === 'Opened')?.value ?? '';
    return /^<t:\d{10}:R>$/.test(opened) ? opened : '';
  },
};

const slackUsers: Record<Who, string> = {
  admin: SlackIds.alice,
  operator: SlackIds.bob,
  viewer: SlackIds.carol,
};
/** The channel of each Slack message the tests look at, by ts (#ops when not listed). */
const slackChannels = new Map<string, string>();

const slackMessage = (ts: string) => {
  const m = slack.message(slackChannels.get(ts) ?? SlackIds.ops, ts);
  if (!m) throw new Error(`no Slack message ${ts}`);
  return m;
};

type SlackButton = { action_id: string; value: string; text: { text: string } };
const slackButtons = (ts: string) =>
  (slackMessage(ts).blocks as { type: string; elements?: SlackButton[] }[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);

/** Everything a Slack message shows: its text and its sections. */
const slackText = (m: { text: string; blocks: unknown[] }) =>
  unescapeSlack([m.text, ...sectionTexts(m.blocks), JSON.stringify(m.blocks)].join('\n'));

const slackDriver: Driver = {
  platform: 'slack',
  id: (who) => slackUsers[who],
  async command(who, name, args) {
    const before = slack.messagesIn(SlackIds.ops).length;
    const line = [name, ...Object.entries(args).map(([k, v]) => `${k}:${v}`)].join(' ');
    const d = await sender.slashCommand({
      command: '/siteflow',
      text: line,
      channelId: SlackIds.ops,
      userId: slackUsers[who],
    });
    expect(d.status).toBe(200);
    expect(d.elapsedMs).toBeLessThan(3000);
    return slack.waitFor(
      (): Shown | undefined => {
        const post = d.responseUrl?.posts[0];
        if (post) {
          const body = post.body as { response_type?: string; text?: string; blocks?: unknown[] };
          return {
            private: body.response_type === 'ephemeral',
            text: slackText({ text: body.text ?? '', blocks: body.blocks ?? [] }),
          };
        }
        const m = slack.messagesIn(SlackIds.ops).slice(before)[0];
        if (!m) return undefined;
        slackChannels.set(m.ts, SlackIds.ops);
        return { private: false, text: slackText(m), messageId: m.ts };
      },
      15_000,
      `answer to /siteflow ${line}`,
    );
  },
  view(ts) {
    const m = slackMessage(ts);
    return { text: slackText(m), buttons: slackButtons(ts).map((b) => b.text.text) };
  },
  thread(ts) {
    return slack
      .repliesOf(slackChannels.get(ts) ?? SlackIds.ops, ts)
      .map((m) => slackText(m))
      .join('\n');
  },
  async click(ts, label, who, answered) {
    const el = slackButtons(ts).find((b) =>
      typeof label === 'string' ? b.text.text === label : label.test(b.text.text),
    );
    if (!el) throw new Error(`no button ${label} on ${JSON.stringify(this.view(ts))}`);
    const d = await sender.blockAction({
      actionId: el.action_id,
      value: el.value,
      messageTs: ts,
      channelId: slackChannels.get(ts)!,
      userId: slackUsers[who],
    });
    expect(d.status).toBe(200);
    expect(d.elapsedMs).toBeLessThan(3000);
    if (answered === 'acked') return '';
    const post = await slack.waitFor(() => d.responseUrl!.posts[0], 15_000, 'private answer to the click');
    expect(post.body).toMatchObject({ response_type: 'ephemeral' });
    const body = post.body as { text?: string; blocks?: unknown[] };
    return slackText({ text: body.text ?? '', blocks: body.blocks ?? [] });
  },
  async alert(siteName) {
    const m = await slack.waitFor(
      () =>
        slack
          .messagesIn(SlackIds.general)
          .find((x) => x.text.includes(siteName) && JSON.stringify(x.blocks).includes('sf_alert_restart')),
      30_000,
      `alert about ${siteName}`,
    );
    slackChannels.set(m.ts, SlackIds.general);
    return m.ts;
  },
  async announced(headline, also) {
    const m = await slack.waitFor(
      () =>
        slack
          .messagesIn(SlackIds.general)
          .find((x) => slackText(x).includes(headline) && also.test(slackText(x))),
      60_000,
      `"${headline}" in the alert channel`,
    );
    slackChannels.set(m.ts, SlackIds.general);
    return m.ts;
  },
  alertOpened(ts) {
    const context = (slackMessage(ts).blocks as { type: string; elements?: { text?: string }[] }[]).find(
      (b) => b.type === 'context',
    );
    const opened = context?.elements?.[0]?.text ?? '';
    return /^Opened <!date\^\d{10}\^\{date_short_pretty\} \{time\}\|[^>]+>$/.test(opened) ? opened : '';
  },
};

/** The operation id a message names. */
const opIdIn = (text: string) => `op_${OP_RE.exec(text)?.[1] ?? ''}`;

/** Operations of `kind` on `siteName`. */
const opsOf = (siteName: string, kind: string) =>
  app.services.operations.list({ site: siteName, limit: 100 }).filter((o) => o.kind === kind);

/** A site for one platform's tests (names differ: both platforms' tests share the engine). */
const sites = new Map<string, ComposeProject>();

beforeAll(async () => {
  docker = testDocker(env);
  // A pullable image: the test registry holds it.
  const ref = `${registryRunImage('chatsession', env)}:v1`;
  await docker.getImage(env.images.busybox).tag({ repo: ref.replace(/:v1$/, ''), tag: 'v1' });
  await run('docker', ['push', ref], { env: { ...process.env, DOCKER_HOST: env.dockerHost } });
  site = createComposeProject(
    {
      name: 'chatsess',
      services: {
        web: { image: ref, command: ['httpd', '-f', '-p', '8080', '-h', '/etc'] },
        ticker: { image: ref, command: ['sh', '-c', 'while true; do echo tick; sleep 0.3; done'] },
      },
    },
    env,
  );
  for (const p of ['discord', 'slack'])
    sites.set(
      p,
      createComposeProject(
        { name: `chatalert${p[0]}`, services: { app: { command: ['sleep', '3600'] } } },
        env,
      ),
    );
  await Promise.all([site.up(), ...[...sites.values()].map((s) => s.up())]);
  discord = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  slack = await new FakeSlack().start();
  dir = mkdtempSync(join(tmpdir(), 'sf-chatsession-'));
  app = await startSiteFlow(
    loadConfig(
      {
        DATA_DIR: join(dir, 'data'),
        SITES_ROOT: join(dir, 'sites'),
        WEB_PORT: '0',
        DOCKER_HOSTS: env.dockerHost,
        HEALTH_TIMEOUT_SECONDS: '30',
        DISCORD_TOKEN: discord.token,
        DISCORD_API_URL: discord.apiUrl,
        DISCORD_GUILD_ID: DiscordIds.guild,
        DISCORD_ALERT_CHANNEL_ID: DiscordIds.ops,
        SLACK_BOT_TOKEN: slack.botToken,
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        SLACK_PORT: '0',
        SLACK_ALERT_CHANNEL: SlackIds.general,
        ADMINS: `discord:role:${DiscordIds.roleAdmin},slack:user:${SlackIds.alice}`,
        OPERATORS: `discord:role:${DiscordIds.roleOperator},slack:user:${SlackIds.bob}`,
        CONFIRM_PULL: 'true',
        // Other test files bring sites up and down on the same engine at the same time: keep them
        // from being grouped with this file's sites into one host-level incident.
        ALERT_STORM_THRESHOLD: '1000',
      },
      { envFile: null },
    ),
    { logger: testLogger(), console: false, clock: { now: () => Date.now() + skew } },
  );
  const surface = app.surfaces.find((s): s is SlackSurface => s instanceof SlackSurface)!;
  sender = new SlackSender({
    url: `http://127.0.0.1:${surface.port}/slack/events`,
    signingSecret: SECRET,
    fake: slack,
  });
  await waitFor('the sites in the live state', async () =>
    [site, ...sites.values()].every((s) => !!app.live.site('local', s.name)),
  );
}, 180_000);

afterAll(async () => {
  await app?.stop('test done');
  await discord?.stop();
  await slack?.stop();
  await Promise.all([site?.down(), ...[...sites.values()].map((s) => s.down())]);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe.each([
  ['Discord', discordDriver],
  ['Slack', slackDriver],
])('the chat session on %s (platform fake)', (_name, driver) => {
  it('/restart: acknowledged, a run message naming the starter, output in its thread, restarted, the outcome edited in, audited as the user', async () => {
    const before = await startedAt(site.name, 'web');
    const shown = await driver.command('operator', 'restart', { site: site.name });
    expect(shown.private).toBe(false);
    expect(shown.text).toMatch(/Restarting/);
    expect(shown.text).toContain('started by bob');
    const opId = opIdIn(shown.text);
    const id = shown.messageId!;
    await waitFor('the summary in the thread', async () => SUMMARY_RE.test(driver.thread(id)), 90_000);
    expect(driver.thread(id)).toMatch(/succeeded/);
    expect(driver.thread(id)).toContain('web');
    expect(await startedAt(site.name, 'web')).not.toBe(before);
    await waitFor(
      'the run message shows the outcome',
      async () => /succeeded/.test(driver.view(id).text),
      10_000,
    );
    expect(driver.view(id).buttons).not.toContain('Cancel');

    const op = app.services.operations.get(opId)!;
    expect(op.status).toBe('succeeded');
    expect(op.output).toMatchObject({ platform: driver.platform, messageId: id });
    const audit = app.services.audit.query({ action: 'restart', actorId: driver.id('operator') }).entries;
    expect(audit[0]).toMatchObject({
      actor: { platform: driver.platform, id: driver.id('operator'), name: 'bob' },
      outcome: 'ok',
      operationId: opId,
    });
  }, 120_000);

  it("a viewer's /restart is denied privately, names the level and the principal to grant, and changes nothing", async () => {
    const before = await startedAt(site.name, 'web');
    const restarts = opsOf(site.name, 'restart').length;
    const shown = await driver.command('viewer', 'restart', { site: site.name });
    expect(shown.private).toBe(true);
    expect(shown.text).toMatch(/not allowed to run \/restart/);
    expect(shown.text).toMatch(/needs the operator level; you have viewer/);
    expect(shown.text).toContain(`${driver.platform}:user:${driver.id('viewer')}`);
    expect(shown.text).toMatch(/to OPERATORS/);
    const audit = app.services.audit.query({ action: 'restart', actorId: driver.id('viewer') }).entries;
    expect(audit[0]).toMatchObject({
      outcome: 'denied',
      actor: { platform: driver.platform, name: 'carol' },
    });
    expect(opsOf(site.name, 'restart')).toHaveLength(restarts);
    expect(await startedAt(site.name, 'web')).toBe(before);
  }, 60_000);

  it('confirmation: a foreign click and an expired one are refused privately; the owner’s click runs it and its run is followed', async () => {
    const earlier = new Set(opsOf(site.name, 'pull').map((o) => o.id));
    const pulls = earlier.size;
    const ask = async () => {
      const shown = await driver.command('operator', 'pull', { site: site.name });
      expect(shown.private).toBe(false);
      expect(shown.text).toMatch(/Confirm/);
      // The confirm button and the one calling it off (labelled 'Cancel' on Discord, 'Call it off' on Slack).
      expect(driver.view(shown.messageId!).buttons).toHaveLength(2);
      return shown.messageId!;
    };
    const yes = /^(?!Call it off$|Cancel$)/;

    const first = await ask();
    const foreign = await driver.click(first, yes, 'viewer', 'private');
    expect(foreign).toMatch(/Only bob .*can confirm/);
    expect(driver.view(first).buttons.length).toBeGreaterThan(0);
    expect(opsOf(site.name, 'pull')).toHaveLength(pulls);
    const denied = app.services.audit.query({ action: 'confirm', actorId: driver.id('viewer') }).entries;
    expect(denied[0]?.outcome).toBe('denied');

    skew = 120_000; // past the expiry
    try {
      const stale = await driver.click(first, yes, 'operator', 'private');
      expect(stale).toMatch(/expired/);
      expect(opsOf(site.name, 'pull')).toHaveLength(pulls);
    } finally {
      skew = 0;
    }

    const second = await ask();
    await driver.click(second, yes, 'operator', 'acked');
    await waitFor(
      'the prompt answered',
      async () => /Confirmed by bob/.test(driver.view(second).text),
      15_000,
    );
    const pull = await waitFor(
      'the pull ran',
      async () => opsOf(site.name, 'pull').find((o) => !earlier.has(o.id) && o.status !== 'running'),
      90_000,
    );
    expect(pull.status).toBe('succeeded');
    expect(opsOf(site.name, 'pull')).toHaveLength(pulls + 1);
    expect(pull.requestedBy.name).toBe('bob');
    // Its run is followed like a typed one's: output and summary in the thread of its message.
    const runMessage = await waitFor(
      'the run message recorded',
      async () => app.services.operations.get(pull.id)?.output?.messageId,
    );
    await waitFor(
      'the summary in the thread',
      async () => SUMMARY_RE.test(driver.thread(runMessage)),
      30_000,
    );
    expect(driver.thread(runMessage)).toMatch(/succeeded/);
  }, 180_000);

  it('alert buttons run their command as the clicker: a viewer is refused, an operator restarts, audited as each', async () => {
    const alertSite = sites.get(driver.platform)!;
    const [c] = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${alertSite.name}`] },
    });
    await docker.getContainer(c!.Id).kill();
    const alert = await driver.alert(alertSite.name);
    expect(driver.view(alert).buttons).toContain('Restart');
    expect(driver.alertOpened(alert)).not.toBe('');

    const refused = await driver.click(alert, 'Restart', 'viewer', 'private');
    expect(refused).toMatch(/not allowed to run \/restart/);
    expect(refused).toContain(`${driver.platform}:user:${driver.id('viewer')}`);
    expect(opsOf(alertSite.name, 'restart')).toHaveLength(0);
    // The Logs button obeys LOGS_LEVEL (operator by default): a viewer is refused too.
    expect(await driver.click(alert, 'Logs', 'viewer', 'private')).toMatch(/not allowed to run \/logs/);
    expect(app.services.operations.list({ site: alertSite.name, limit: 10 })).toHaveLength(0);

    await driver.click(alert, 'Restart', 'operator', 'acked');
    await waitFor(
      'the restart from the alert button',
      async () => opsOf(alertSite.name, 'restart').some((o) => o.status === 'succeeded'),
      60_000,
    );
    const audit = app.services.audit.query({ site: alertSite.name, action: 'restart', limit: 20 }).entries;
    expect(audit.find((e) => e.outcome === 'ok')?.actor).toMatchObject({
      platform: driver.platform,
      id: driver.id('operator'),
    });
    expect(audit.find((e) => e.outcome === 'denied')?.actor.id).toBe(driver.id('viewer'));
  }, 120_000);

  it('a scheduled run is announced in the alert channel as the schedule, its output in the thread, the outcome edited in, audited as the schedule', async () => {
    const line = `restart ${site.name} web`;
    const added = app.services.schedules!.add('*/3 * * * * *', line, {
      platform: driver.platform,
      id: driver.id('admin'),
      name: 'alice',
    });
    if (!added.ok) throw new Error(added.error.join('; '));
    const id = added.value.id;
    const headline = `schedule #${id} (added by @alice): /${line}`;
    let posted: string;
    try {
      posted = await driver.announced(headline, /succeeded/);
    } finally {
      // No firing runs on after the test.
      expect(app.services.schedules!.remove(id).ok).toBe(true);
    }
    await waitFor('the summary in the thread', async () => SUMMARY_RE.test(driver.thread(posted)), 20_000);
    const thread = driver.thread(posted);
    expect(thread).toContain('web: stopping');
    expect(thread).toContain('All restarted containers are up.');
    const as = `schedule #${id}, added by @alice`;
    expect(thread).toContain(`started by ${as}`);
    // Every chat surface announces a firing; the run's thread names it.
    const op = app.services.operations.get(opIdIn(thread));
    expect(op).toMatchObject({ status: 'succeeded', kind: 'restart', requestedBy: { name: as } });
    const audited = app.services.audit
      .query({ site: site.name, action: 'restart', limit: 50 })
      .entries.filter((e) => e.actor.name === as && e.outcome === 'ok');
    expect(audited.length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('the run message: Cancel while running; a viewer is refused; an admin cancels within 2 s, audited as the clicker; the outcome edited in', async () => {
    const shown = await driver.command('operator', 'logs', { site: site.name, follow: '2m' });
    const opId = opIdIn(shown.text);
    const id = shown.messageId!;
    expect(driver.view(id).buttons).toContain('Cancel');
    expect(app.services.operations.get(opId)!.status).toBe('running');

    const refused = await driver.click(id, 'Cancel', 'viewer', 'private');
    expect(refused).toMatch(/not allowed/);
    expect(app.services.operations.get(opId)!.status).toBe('running');

    const clicked = Date.now();
    await driver.click(id, 'Cancel', 'admin', 'acked');
    await waitFor('cancelled', async () => app.services.operations.get(opId)!.status === 'cancelled', 2000);
    expect(Date.now() - clicked).toBeLessThan(2000);

    const audit = app.services.audit
      .query({ action: 'logs', limit: 50 })
      .entries.find((e) => e.operationId === opId)!;
    expect(audit.outcome).toBe('cancelled');
    expect((audit.details as { cancelledBy?: { name: string } }).cancelledBy?.name).toBe('alice');

    await waitFor(
      'the run message shows the outcome',
      async () => /cancelled/.test(driver.view(id).text),
      10_000,
    );
    expect(driver.view(id).buttons).not.toContain('Cancel');
  }, 60_000);
});
