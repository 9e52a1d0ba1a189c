/**
 * Update notices on Discord end to end, against the real test registry (busybox stand-in images):
 * the scheduled update check (runOnce, what UPDATE_CHECK_CRON runs) posts one notice with a Pull
 * button into the ops channel of FakeDiscord through the real discord.js client; a second check
 * posts nothing new; Bob (operator) clicks Pull and the service is recreated on the new digest,
 * which the run's thread says.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import { type ComposeProject, createComposeProject, registryRunImage, testDocker } from '../env/harness.js';
import { DiscordIds, FakeDiscord, type MessageModel } from '../fakes/discord-server.js';
import { pushImage } from '../support/images.js';
import { testLogger } from '../support/siteflow.js';

const env = inject('siteflowTestEnv');
let fake: FakeDiscord;
let app: SiteFlow;
let dir: string;
let docker: Docker;
let site: ComposeProject;
const ref = `${registryRunImage('dupd', env)}:1`;

function buttonIds(m: MessageModel): string[] {
  const rows = (m.versions.at(-1) as unknown as { components?: unknown[] })?.components ?? m.components;
  return JSON.stringify(rows).match(/sf:alert:[a-z]+:al_[0-9a-z]+/g) ?? [];
}
const notices = () =>
  fake
    .messagesIn(DiscordIds.ops)
    .filter(
      (m) => m.content.includes(site.name) && buttonIds(m).some((id) => id.startsWith('sf:alert:pull:')),
    );

beforeAll(async () => {
  docker = testDocker(env);
  const first = await pushImage(docker, env, ref, 'one', ['CMD ["sleep", "3600"]']);
  site = createComposeProject({ name: 'dupd', services: { web: { image: ref } } }, env);
  await site.up();
  await pushImage(docker, env, ref, 'two', ['CMD ["sleep", "3600"]'], { restore: first.id });
  fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  dir = mkdtempSync(join(tmpdir(), 'sf-dupd-'));
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
      OPERATORS: `discord:role:${DiscordIds.roleOperator}`,
      UPDATE_CHECK_CRON: 'off',
      DRIFT_CHECK_CRON: 'off',
      HEALTH_TIMEOUT_SECONDS: '20',
    },
    { envFile: null },
  );
  app = await startSiteFlow(config, { logger: testLogger(), console: false });
}, 120_000);

afterAll(async () => {
  await app?.stop('test done');
  await fake?.stop();
  await site?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('update notices on Discord', () => {
  it('one notice with a Pull button; a second check posts nothing; Pull as operator recreates on the new digest', async () => {
    const results = await app.updates.runOnce();
    const web = results.find((u) => u.site === site.name && u.service === 'web')!;
    expect(web.status).toBe('update available');
    const notice = await fake.waitFor(() => notices()[0], 30_000, 'update notice in the ops channel');
    expect(notice.content).toContain(`Update available for ${site.name}: web`);
    expect(notice.content).toContain(`${web.running!.slice(7, 19)} -> ${web.remote!.slice(7, 19)}`);
    const ids = buttonIds(notice);
    expect(ids.some((id) => id.startsWith('sf:alert:skip:'))).toBe(true);
    expect(ids.some((id) => id.startsWith('sf:alert:logs:'))).toBe(true);

    await app.updates.runOnce();
    // The monitor delivered the first notice through the queue; nothing is waiting for a second.
    await fake.waitFor(() => (app.monitor!.queueLength() === 0 ? true : undefined), 10_000, 'queue drained');
    expect(notices()).toHaveLength(1);
    expect(
      fake
        .threadsOf(DiscordIds.ops)
        .flatMap((t) => fake.messagesIn(t.id))
        .some((m) => /Update available/.test(m.content) && m.content.includes(site.name)),
    ).toBe(false);

    const pullId = ids.find((id) => id.startsWith('sf:alert:pull:'))!;
    fake.buttonClick({ customId: pullId, message: notice, user: DiscordIds.bob });
    const op = await fake.waitFor(
      () =>
        app.services.operations
          .list({ site: site.name, limit: 5 })
          .find((o) => o.kind === 'pull' && (o.status === 'succeeded' || o.status === 'failed')),
      120_000,
      'pull from the notice button',
    );
    expect(op.status).toBe('succeeded');
    expect(op.requestedBy).toMatchObject({ platform: 'discord', id: DiscordIds.bob });
    const [c] = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${site.name}`, 'com.docker.compose.service=web'] },
    });
    const img = await docker.getImage(c!.ImageID).inspect();
    expect(img.RepoDigests).toContain(`${ref.slice(0, ref.lastIndexOf(':'))}@${web.remote}`);
    const said = `web: ${web.running!.slice(7, 19)} -> ${web.remote!.slice(7, 19)}`;
    await fake.waitFor(
      () =>
        fake
          .threadsOf(DiscordIds.ops)
          .flatMap((t) => fake.messagesIn(t.id))
          .find((m) => m.content.includes(said)),
      30_000,
      'the thread names the new digest',
    );
  });
});
