/**
 * Scheduled runs on Discord end to end (the real discord.js client inside SiteFlow against
 * FakeDiscord on loopback, a busybox compose site standing in for a real one, the real engine):
 * an admin adds a schedule of `restart SITE web` firing every 3 seconds (node-cron's 6-field
 * form), and each firing is posted in the alert channel (DISCORD_ALERT_CHANNEL_ID) as
 * "schedule #ID (added by @alice): /restart SITE web", its run's output streamed into the
 * message's thread with the outcome at the end, the message edited to say how it ended, and
 * the run audited as the schedule.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import { type ComposeProject, createComposeProject } from '../env/harness.js';
import { DiscordIds, FakeDiscord, type MessageModel } from '../fakes/discord-server.js';
import { testLogger } from '../support/siteflow.js';

const env = inject('siteflowTestEnv');
let fake: FakeDiscord;
let app: SiteFlow;
let dir: string;
let site: ComposeProject;

beforeAll(async () => {
  site = createComposeProject({ name: 'dsched', services: { web: { command: ['sleep', '3600'] } } }, env);
  await site.up();
  fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  dir = mkdtempSync(join(tmpdir(), 'sf-dsched-'));
  const config = loadConfig(
    {
      DATA_DIR: join(dir, 'data'),
      SITES_ROOT: join(dir, 'sites'),
      WEB_PORT: '0',
      DOCKER_HOSTS: env.dockerHost,
      DISCORD_TOKEN: fake.token,
      DISCORD_API_URL: fake.apiUrl,
      DISCORD_GUILD_ID: DiscordIds.guild,
      DISCORD_ALERT_CHANNEL_ID: DiscordIds.ops,
      ALERT_STORM_THRESHOLD: '1000',
      ADMINS: `discord:role:${DiscordIds.roleAdmin}`,
    },
    { envFile: null },
  );
  app = await startSiteFlow(config, { logger: testLogger(), console: false });
}, 240_000);

afterAll(async () => {
  await app?.stop('test done');
  await fake?.stop();
  await site?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The text of a message as it is now (its latest edit), markdown escapes removed. */
const textOf = (m: MessageModel) => m.content.replace(/\\([\\_*~`|>#-])/g, '$1');

describe('schedules on Discord (busybox compose site as the stand-in)', () => {
  it('a firing posts "schedule #id (added by @alice): /restart …" in the alert channel, streams its output into the thread, and is audited as the schedule', async () => {
    const line = `restart ${site.name} web`;
    const add = fake.slashCommand({
      name: 'schedule',
      options: { action: 'add', cron: '*/3 * * * * *', command: line },
      user: DiscordIds.alice,
    });
    await fake.waitFor(() => (add.replyContent?.includes('Schedule sc') ? true : undefined), 15_000, 'added');
    const sched = app.services.schedules!.list()[0]!;
    expect(sched.commandLine).toBe(line);
    const headline = `schedule #${sched.id} (added by @alice): /${line}`;

    // The first firing's message in the alert channel, once its run ended (edited to say so).
    const posted = await fake.waitFor(
      () =>
        fake
          .messagesIn(DiscordIds.ops)
          .find((m) => textOf(m).includes(headline) && /: succeeded/.test(textOf(m))),
      60_000,
      'the scheduled run message, finished',
    );
    // Stop further firings before looking closer (nothing runs on after the test).
    expect(app.services.schedules!.remove(sched.id).ok).toBe(true);

    // Its thread holds the streamed output and the outcome.
    expect(posted.threadId).toBe(posted.id);
    const thread = await fake.waitFor(
      () => {
        const msgs = fake.messagesIn(posted.id);
        return msgs.some((m) => /succeeded/.test(m.content)) ? msgs : undefined;
      },
      20_000,
      'summary in the thread',
    );
    const threadText = thread.map(textOf).join('\n');
    expect(threadText).toMatch(/op_[0-9a-z]+ succeeded/);
    expect(threadText).toContain(`started by schedule #${sched.id}, added by @alice`);
    // The output itself (the restart's own lines), not only the summary.
    expect(thread.length).toBeGreaterThanOrEqual(2);
    expect(threadText).toContain('web: stopping');
    expect(threadText).toContain('web: started');
    expect(threadText).toContain('All restarted containers are up.');

    // The run is the schedule's: its operation, its output location, and its audit entry.
    const as = `schedule #${sched.id}, added by @alice`;
    const op = app.services.operations
      .list({ site: site.name, limit: 20 })
      .find((o) => o.output?.platform === 'discord' && o.output.messageId === posted.id);
    expect(op).toMatchObject({ status: 'succeeded', kind: 'restart', requestedBy: { name: as } });
    expect(op!.output).toMatchObject({ channelId: DiscordIds.ops, threadId: posted.id });
    expect(threadText).toContain(op!.id);
    const audited = app.services.audit
      .query({ site: site.name, action: 'restart', limit: 20 })
      .entries.filter((e) => e.actor.name === as && e.outcome === 'ok');
    expect(audited.length).toBeGreaterThanOrEqual(1);
    // Nothing of it went to the channel the schedule was added in.
    expect(fake.messagesIn(DiscordIds.general).some((m) => textOf(m).includes(headline))).toBe(false);
  }, 120_000);
});
