/**
 * Scheduled runs on Slack end to end (the real Bolt client inside SiteFlow against FakeSlack on
 * loopback, a busybox compose site standing in for a real one, the real engine): a firing is
 * posted in SLACK_ALERT_CHANNEL as "schedule #ID (added by @alice): /restart SITE web", its
 * output streamed into the message's thread with the outcome, and the message updated to say
 * how it ended.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject } from '../env/harness.js';
import { FakeSlack, SlackIds, type SlackMessage } from '../fakes/slack-server.js';
import { SIGNING_SECRET, type SlackSiteFlow, startSlackSiteFlow, unescapeSlack } from './slack-support.js';

const env = inject('siteflowTestEnv');
let fake: FakeSlack;
let sf: SlackSiteFlow;
let site: ComposeProject;

/** Everything a person reads in a message now (text and blocks), Slack escapes undone. */
const shown = (m: SlackMessage) =>
  unescapeSlack(
    `${m.versions.at(-1)?.text ?? m.text}\n${JSON.stringify(m.versions.at(-1)?.blocks ?? m.blocks)}`,
  );

beforeAll(async () => {
  site = createComposeProject({ name: 'ssched', services: { web: { command: ['sleep', '3600'] } } }, env);
  await site.up();
  fake = await new FakeSlack().start();
  sf = await startSlackSiteFlow(fake, {
    DOCKER_HOSTS: env.dockerHost,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_PORT: '0',
    SLACK_ALERT_CHANNEL: SlackIds.ops,
    ALERT_STORM_THRESHOLD: '1000',
  });
}, 240_000);

afterAll(async () => {
  await sf?.stop();
  await fake?.stop();
  await site?.down();
});

describe('schedules on Slack (busybox compose site as the stand-in)', () => {
  it('a firing posts "schedule #id (added by @alice): /restart …" in the alert channel with its output in the thread', async () => {
    const line = `restart ${site.name} web`;
    const added = sf.app.services.schedules!.add('*/3 * * * * *', line, {
      platform: 'slack',
      id: SlackIds.alice,
      name: 'alice',
    });
    if (!added.ok) throw new Error(added.error.join('; '));
    const headline = `schedule #${added.value.id} (added by @alice): /${line}`;
    const posted = await fake.waitFor(
      () =>
        fake.messagesIn(SlackIds.ops).find((m) => shown(m).includes(headline) && /succeeded/.test(shown(m))),
      60_000,
      'the scheduled run message, finished',
    );
    expect(sf.app.services.schedules!.remove(added.value.id).ok).toBe(true);
    const thread = await fake.waitFor(
      () => {
        const r = fake.repliesOf(SlackIds.ops, posted.ts);
        return r.some((m) => /op_[0-9a-z]+ succeeded/.test(shown(m))) ? r : undefined;
      },
      20_000,
      'summary in the thread',
    );
    const text = thread.map(shown).join('\n');
    expect(text).toContain('web: stopping');
    expect(text).toContain('All restarted containers are up.');
    // The summary names the run's starter as on Discord (one session writes both).
    expect(text).toContain(`started by schedule #${added.value.id}, added by @alice`);
  }, 120_000);
});
