/**
 * Alerts on Slack end to end: the monitor posts into the ops channel of FakeSlack through
 * the real Bolt client inside SiteFlow, and the alert's buttons run the same commands as
 * slash commands, under the clicking user's permissions and audit.
 */
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, testDocker } from '../env/harness.js';
import { SlackSender } from '../fakes/slack-sender.js';
import { FakeSlack, SlackIds, type SlackMessage } from '../fakes/slack-server.js';
import { SIGNING_SECRET, type SlackSiteFlow, startSlackSiteFlow } from './slack-support.js';

const env = inject('siteflowTestEnv');
let fake: FakeSlack;
let sf: SlackSiteFlow;
let sender: SlackSender;
let docker: Docker;
let site: ComposeProject;

const restartButton = (m: SlackMessage) =>
  JSON.stringify(m.versions.at(-1)?.blocks ?? m.blocks).includes('sf_alert_restart');

beforeAll(async () => {
  docker = testDocker(env);
  site = createComposeProject({ name: 'salert', services: { web: { command: ['sleep', '3600'] } } }, env);
  await site.up();
  fake = await new FakeSlack().start();
  sf = await startSlackSiteFlow(fake, {
    DOCKER_HOSTS: env.dockerHost,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_PORT: '0',
    SLACK_ALERT_CHANNEL: SlackIds.ops,
    // Other test files bring sites up and down on the same engine at the same time: keep them
    // from being grouped with this site into one host-level incident.
    ALERT_STORM_THRESHOLD: '1000',
    OPERATORS: `slack:user:${SlackIds.bob}`,
  });
  sender = new SlackSender({
    url: `http://127.0.0.1:${sf.slack.port}/slack/events`,
    signingSecret: SIGNING_SECRET,
    fake,
  });
});

afterAll(async () => {
  await sf?.stop();
  await fake?.stop();
  await site?.down();
});

describe('alerts on Slack', () => {
  it('posts one alert for a killed container; its Restart button obeys permissions and is audited', async () => {
    const [c] = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${site.name}`] },
    });
    await docker.getContainer(c!.Id).kill();
    const alert = await fake.waitFor(
      () => fake.messagesIn(SlackIds.ops).find((m) => m.text.includes(site.name) && restartButton(m)),
      30_000,
      'alert in the ops channel',
    );
    const alertId = /al_[0-9a-z]+/.exec(JSON.stringify(alert.blocks))![0];
    // Layout: a context line says when it opened, in Slack's own date format.
    const context = (alert.blocks as { type: string; elements?: { text?: string }[] }[]).find(
      (b) => b.type === 'context',
    );
    expect(context?.elements?.[0]?.text).toMatch(
      /^Opened <!date\^\d{10}\^\{date_short_pretty\} \{time\}\|[^>]+>$/,
    );

    const denied = await sender.blockAction({
      actionId: 'sf_alert_restart',
      value: alertId,
      channelId: SlackIds.ops,
      messageTs: alert.ts,
      userId: SlackIds.carol,
    });
    await fake.waitFor(() => denied.responseUrl!.posts[0], 10_000, 'denial');
    expect(JSON.stringify(denied.responseUrl!.posts[0]!.body)).toMatch(/not allowed to run \/restart/);
    expect(JSON.stringify(denied.responseUrl!.posts[0]!.body)).toMatch(/ephemeral/);
    expect(sf.app.services.operations.list({ site: site.name, limit: 10 })).toHaveLength(0);

    await sender.blockAction({
      actionId: 'sf_alert_restart',
      value: alertId,
      channelId: SlackIds.ops,
      messageTs: alert.ts,
      userId: SlackIds.bob,
    });
    await fake.waitFor(
      () =>
        sf.app.services.operations.list({ site: site.name, limit: 10 }).find((o) => o.status === 'succeeded'),
      60_000,
      'restart from the alert button',
    );
    const audit = sf.app.services.audit.query({ site: site.name, limit: 20 }).entries;
    expect(audit.find((e) => e.action === 'restart' && e.outcome === 'ok')?.actor).toMatchObject({
      platform: 'slack',
      id: SlackIds.bob,
    });
    expect(audit.find((e) => e.action === 'restart' && e.outcome === 'denied')?.actor.id).toBe(
      SlackIds.carol,
    );
    expect(
      fake.messagesIn(SlackIds.ops).filter((m) => m.text.includes(site.name) && restartButton(m)),
    ).toHaveLength(1);
  });
});
