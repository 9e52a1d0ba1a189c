/**
 * A Slack request that never answers: FakeSlack receives one chat.update (the edit of an alert
 * into its recovery) and never answers it. With the WebClient's request timeout the request is
 * abandoned and retried, so a later alert for another site still reaches the channel, and the
 * edit lands too.
 */
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, testDocker } from '../env/harness.js';
import { FakeSlack, SlackIds } from '../fakes/slack-server.js';
import { SIGNING_SECRET, type SlackSiteFlow, startSlackSiteFlow } from './slack-support.js';

const env = inject('siteflowTestEnv');
let fake: FakeSlack;
let sf: SlackSiteFlow;
let docker: Docker;
let first: ComposeProject;
let second: ComposeProject;

async function containerOf(p: ComposeProject): Promise<string> {
  const [c] = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${p.name}`] },
  });
  return c!.Id;
}

beforeAll(async () => {
  docker = testDocker(env);
  first = createComposeProject({ name: 'shung1', services: { web: { command: ['sleep', '3600'] } } }, env);
  second = createComposeProject({ name: 'shung2', services: { web: { command: ['sleep', '3600'] } } }, env);
  await Promise.all([first.up(), second.up()]);
  fake = await new FakeSlack().start();
  sf = await startSlackSiteFlow(fake, {
    DOCKER_HOSTS: env.dockerHost,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_PORT: '0',
    SLACK_ALERT_CHANNEL: SlackIds.ops,
    ALERT_STORM_THRESHOLD: '1000',
    ALERT_RECOVER_AFTER_SECONDS: '1',
    CHAT_REQUEST_TIMEOUT_SECONDS: '2',
  });
}, 120_000);

afterAll(async () => {
  await sf?.stop();
  await fake?.stop();
  await Promise.all([first?.down(), second?.down()]);
});

describe('a Slack request that never answers', () => {
  it('does not hold up later alerts to the same channel', async () => {
    const alertOf = (p: ComposeProject) => fake.messagesIn(SlackIds.ops).find((m) => m.text.includes(p.name));
    await docker.getContainer(await containerOf(first)).kill();
    const posted = await fake.waitFor(() => alertOf(first), 30_000, 'first alert');
    // Its recovery is an edit of that message: the first chat.update is never answered.
    fake.injectHang('chat.update', 1);
    await docker.getContainer(await containerOf(first)).start();
    await fake.waitFor(
      () => fake.calls.find((c) => c.method === 'chat.update' && c.status === 0),
      30_000,
      'the hung chat.update',
    );
    await docker.getContainer(await containerOf(second)).kill();
    await fake.waitFor(() => alertOf(second), 30_000, 'second alert after the hung request');
    // The hung edit was retried and landed as well.
    await fake.waitFor(
      () => fake.messagesIn(SlackIds.ops).find((m) => m.ts === posted.ts && m.versions.length > 1),
      30_000,
      'the edit of the first alert',
    );
    expect(fake.calls.filter((c) => c.method === 'chat.update' && c.status === 0)).toHaveLength(1);
  }, 120_000);
});
