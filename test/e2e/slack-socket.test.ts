/**
 * Slack end to end in Socket Mode: real SiteFlow with the real Bolt SocketModeReceiver,
 * connected to FakeSlack with the app token, restarting a real compose site.
 */
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, testDocker } from '../env/harness.js';
import { FakeSlack, SlackIds } from '../fakes/slack-server.js';
import { type SlackSiteFlow, startSlackSiteFlow, unescapeSlack } from './slack-support.js';

const env = inject('siteflowTestEnv');
let docker: Docker;
let fake: FakeSlack;
let sf: SlackSiteFlow;
let site: ComposeProject;

async function startedAt(): Promise<string> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${site.name}`] },
  });
  return (await docker.getContainer(list[0]!.Id).inspect()).State.StartedAt;
}

beforeAll(async () => {
  docker = testDocker(env);
  site = createComposeProject(
    { name: 'slacksock', services: { web: { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'] } } },
    env,
  );
  await site.up();
  fake = await new FakeSlack({ socketPingIntervalMs: 300 }).start();
  sf = await startSlackSiteFlow(fake, {
    DOCKER_HOSTS: env.dockerHost,
    SLACK_APP_TOKEN: fake.appToken,
    OPERATORS: `slack:user:${SlackIds.bob}`,
  });
}, 120_000);

afterAll(async () => {
  await sf?.stop();
  await fake?.stop();
  await site?.down();
}, 120_000);

describe('Slack surface (Socket Mode)', () => {
  it('connects with the app token; /siteflow restart is acked, streamed and really restarts', async () => {
    expect(sf.slack.mode).toBe('socket');
    expect(sf.slack.port).toBeNull();
    await fake.waitFor(() => fake.socketConnected, 10_000, 'socket connection');
    expect(fake.callsOf('apps.connections.open').at(-1)?.tokenKind).toBe('app');
    const before = await startedAt();
    const envl = fake.socketSlashCommand({
      command: '/siteflow',
      text: `restart ${site.name}`,
      userId: SlackIds.bob,
    });
    const ack = await fake.waitFor(() => envl.ack, 3000, 'ack within 3 s');
    expect(ack.at - envl.sentAt).toBeLessThan(3000);
    const summary = await fake.waitFor(
      () => {
        const parent = fake
          .messagesIn(SlackIds.general)
          .find((m) => /Restarting/.test(unescapeSlack(m.versions[0]!.text)));
        return parent && fake.repliesOf(SlackIds.general, parent.ts).find((m) => /succeeded/.test(m.text));
      },
      60_000,
      'summary in the thread',
    );
    expect(summary.text).toMatch(/started by bob/);
    expect(await startedAt()).not.toBe(before);
    const row = sf.app.services.audit.query({ action: 'restart' }).entries[0];
    expect(row).toMatchObject({ actor: { platform: 'slack', id: SlackIds.bob }, outcome: 'ok' });
  }, 90_000);
});
