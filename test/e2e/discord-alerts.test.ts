/**
 * Alerts on Discord end to end: the monitor posts into the ops channel of FakeDiscord
 * through the real discord.js client inside SiteFlow, and the alert's buttons run the same
 * commands as slash commands, under the clicking user's permissions and audit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import { type ComposeProject, createComposeProject, testDocker } from '../env/harness.js';
import { DiscordIds, FakeDiscord, type MessageModel } from '../fakes/discord-server.js';
import { testLogger } from '../support/siteflow.js';

const env = inject('siteflowTestEnv');
let fake: FakeDiscord;
let app: SiteFlow;
let dir: string;
let docker: Docker;
let site: ComposeProject;

/** The custom ids of a message's buttons. */
function buttonIds(m: MessageModel): string[] {
  const rows = (m.versions.at(-1) as unknown as { components?: unknown[] })?.components ?? m.components;
  return JSON.stringify(rows).match(/sf:alert:[a-z]+:al_[0-9a-z]+/g) ?? [];
}

beforeAll(async () => {
  docker = testDocker(env);
  site = createComposeProject({ name: 'dalert', services: { web: { command: ['sleep', '3600'] } } }, env);
  await site.up();
  fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  dir = mkdtempSync(join(tmpdir(), 'sf-dalert-'));
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
      // Other test files bring sites up and down on the same engine at the same time: keep them
      // from being grouped with this site into one host-level incident.
      ALERT_STORM_THRESHOLD: '1000',
      OPERATORS: `discord:role:${DiscordIds.roleOperator}`,
    },
    { envFile: null },
  );
  app = await startSiteFlow(config, { logger: testLogger(), console: false });
});

afterAll(async () => {
  await app?.stop('test done');
  await fake?.stop();
  await site?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('alerts on Discord', () => {
  it('posts one alert for a killed container; its Restart button obeys permissions and is audited', async () => {
    const [c] = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${site.name}`] },
    });
    await docker.getContainer(c!.Id).kill();
    const alert = await fake
      .waitFor(
        () =>
          fake
            .messagesIn(DiscordIds.ops)
            .find(
              (m) =>
                m.content.includes(site.name) &&
                buttonIds(m).some((id) => id.startsWith('sf:alert:restart:')),
            ),
        30_000,
        'alert in the ops channel',
      )
      .catch((e) => {
        throw new Error(
          `${e.message}\n${JSON.stringify(
            fake.messagesIn(DiscordIds.ops).map((m) => [m.content, m.components]),
            null,
            1,
          ).slice(0, 3000)}`,
        );
      });
    const restartId = buttonIds(alert).find((id) => id.startsWith('sf:alert:restart:'))!;
    // Layout: an embed under the text says where and when, in Discord's own timestamp format.
    expect(alert.embeds).toHaveLength(1);
    const embed = alert.embeds[0] as { fields: { name: string; value: string }[]; footer: { text: string } };
    expect(embed.fields.find((f) => f.name === 'Opened')?.value).toMatch(/^<t:\d{10}:R>$/);
    expect(embed.fields.find((f) => f.name === 'Where')?.value).toContain(site.name);
    expect(embed.footer.text).toBe(restartId.split(':').at(-1));

    // Carol is a viewer: the button answers her privately and restarts nothing.
    const denied = fake.buttonClick({ customId: restartId, message: alert, user: DiscordIds.carol });
    await fake.waitFor(
      () => denied.followups[0] ?? (denied.replies.length ? denied.replies.at(-1) : undefined),
      10_000,
      'denial',
    );
    const deniedText = JSON.stringify([denied.followups, denied.replies]);
    expect(deniedText).toMatch(/not allowed to run \/restart/);
    expect(app.services.operations.list({ site: site.name, limit: 10 })).toHaveLength(0);

    // The Logs button obeys LOGS_LEVEL (operator by default): a viewer is refused too.
    const logsId = buttonIds(alert).find((id) => id.startsWith('sf:alert:logs:'))!;
    const noLogs = fake.buttonClick({ customId: logsId, message: alert, user: DiscordIds.carol });
    await fake.waitFor(
      () => noLogs.followups[0] ?? (noLogs.replies.length ? noLogs.replies.at(-1) : undefined),
      10_000,
      'logs denial',
    );
    expect(JSON.stringify([noLogs.followups, noLogs.replies])).toMatch(/not allowed to run \/logs/);
    expect(app.services.operations.list({ site: site.name, limit: 10 })).toHaveLength(0);

    // Bob is an operator: the same button restarts the site, streamed into a thread.
    fake.buttonClick({ customId: restartId, message: alert, user: DiscordIds.bob });
    await fake.waitFor(
      () =>
        app.services.operations.list({ site: site.name, limit: 10 }).find((o) => o.status === 'succeeded'),
      60_000,
      'restart from the alert button',
    );
    const audit = app.services.audit.query({ site: site.name, limit: 20 }).entries;
    expect(audit.find((e) => e.action === 'restart' && e.outcome === 'ok')?.actor).toMatchObject({
      platform: 'discord',
      id: DiscordIds.bob,
    });
    expect(audit.find((e) => e.action === 'restart' && e.outcome === 'denied')?.actor.id).toBe(
      DiscordIds.carol,
    );
    // One alert for this site, however many messages the recovery added to its thread.
    const alertsForSite = fake
      .messagesIn(DiscordIds.ops)
      .filter((m) => m.content.includes(site.name) && buttonIds(m).length > 0);
    expect(alertsForSite).toHaveLength(1);
  });
});
