/**
 * The generated Slack manifest against FakeSlack's manifest validation (Slack's rules: name format,
 * no built-in command, no duplicates), then every command it declares sent to SiteFlow through the
 * real Bolt receiver: each one is served. Slack itself is a fake here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../commands/index.js';
import { slackManifest } from '../../src/chat/slack/manifest.js';
import { FakeSlack, SlackIds, SlackSender } from '../fakes/slack-server.js';
import { SIGNING_SECRET, type SlackSiteFlow, startSlackSiteFlow } from './slack-support.js';

describe('Slack manifest (FakeSlack stands in for Slack app settings)', () => {
  let fake: FakeSlack;
  let sf: SlackSiteFlow;
  let sender: SlackSender;

  beforeAll(async () => {
    fake = await new FakeSlack().start();
    sf = await startSlackSiteFlow(fake, {
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_PORT: '0',
      SLACK_COMMANDS: 'both',
      MONITOR_ENABLED: 'false',
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
  });

  it('the fake rejects a manifest declaring a Slack built-in (the check can fail)', () => {
    const bad = { features: { slash_commands: [{ command: '/status', description: 'Status' }] } };
    const r = fake.installManifest(bad);
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.errors.join('\n')).toMatch(/\/status is a reserved command/);
  });

  it('SLACK_COMMANDS=both: the manifest is accepted, and every declared command is served', async () => {
    const manifest = slackManifest({ commands, mode: 'both', socketMode: false, userGroups: false });
    expect(fake.installManifest(manifest)).toEqual({ ok: true });
    const declared = [...fake.declaredCommands];
    expect(declared).toContain('/siteflow');
    expect(declared).not.toContain('/status');
    expect(sf.slack.commandNames().sort()).toEqual(declared.sort());
    for (const command of declared) {
      const d = await sender.slashCommand({ command, text: command === '/siteflow' ? 'help' : '' });
      expect(d.status, command).toBe(200);
      await fake.waitFor(() => d.responseUrl!.posts.length > 0, 10_000, `answer to ${command}`);
      expect(JSON.stringify(d.responseUrl!.posts[0]!.body), command).not.toMatch(/not served here/);
    }
  });

  it('a Slack built-in is reached through /siteflow', async () => {
    const d = await sender.slashCommand({ command: '/siteflow', text: 'status', userId: SlackIds.alice });
    expect(d.status).toBe(200);
    await expect(sender.slashCommand({ command: '/status' })).rejects.toThrow(
      /not a command of the installed app/,
    );
  });
});
