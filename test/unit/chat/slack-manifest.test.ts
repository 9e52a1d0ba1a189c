import { describe, expect, it } from 'vitest';
import { commands } from '../../../commands/index.js';
import { slackManifest, usageHint } from '../../../src/chat/slack/manifest.js';
import { SLACK_BUILT_IN_COMMANDS } from '../../../src/chat/slack/served-commands.js';

type Slash = { command: string; description: string; usage_hint?: string; url?: string };
const slashOf = (m: Record<string, unknown>) => (m.features as { slash_commands: Slash[] }).slash_commands;

describe('Slack app manifest', () => {
  it('umbrella mode: one /siteflow command with a URL in HTTP mode', () => {
    const m = slackManifest({
      commands,
      mode: 'umbrella',
      socketMode: false,
      userGroups: false,
      requestUrl: 'https://x.test/slack/events',
    });
    expect(slashOf(m).map((s) => s.command)).toEqual(['/siteflow']);
    expect(slashOf(m)[0]!.url).toBe('https://x.test/slack/events');
    expect(m.settings).toMatchObject({
      socket_mode_enabled: false,
      interactivity: { is_enabled: true, request_url: 'https://x.test/slack/events' },
    });
    expect((m.oauth_config as { scopes: { bot: string[] } }).scopes.bot).toEqual([
      'commands',
      'chat:write',
      'files:write',
    ]);
  });

  it('both + Socket Mode: every registry command but Slack built-ins, with description and usage hint, no URLs, group scope', () => {
    const m = slackManifest({ commands, mode: 'both', socketMode: true, userGroups: true });
    const slash = slashOf(m);
    expect(slash.map((s) => s.command).sort()).toEqual(
      [
        '/siteflow',
        ...commands.filter((c) => !SLACK_BUILT_IN_COMMANDS.has(c.name)).map((c) => `/${c.name}`),
      ].sort(),
    );
    expect(slash.map((s) => s.command)).not.toContain('/status');
    const restart = slash.find((s) => s.command === '/restart')!;
    expect(restart.usage_hint).toBe('<site> [service]');
    expect(restart.description).toBe(commands.find((c) => c.name === 'restart')!.description);
    for (const s of slash) {
      expect(s.url).toBeUndefined();
      expect(s.description.length).toBeLessThanOrEqual(100);
    }
    expect(m.settings).toMatchObject({ socket_mode_enabled: true, interactivity: { is_enabled: true } });
    expect((m.oauth_config as { scopes: { bot: string[] } }).scopes.bot).toContain('usergroups:read');
  });

  it('individual: Slack built-in names are left out and served under /siteflow, which is then declared', () => {
    const m = slackManifest({ commands, mode: 'individual', socketMode: false, userGroups: false });
    const names = slashOf(m).map((s) => s.command);
    expect(commands.some((c) => c.name === 'status')).toBe(true);
    expect(names).not.toContain('/status');
    expect(names).toContain('/siteflow');
    expect(names).toContain('/restart');
    for (const n of names) expect(SLACK_BUILT_IN_COMMANDS.has(n.slice(1))).toBe(false);
  });

  it('usage hints follow the positional order of options', () => {
    const logs = commands.find((c) => c.name === 'logs')!;
    expect(usageHint(logs)).toBe('<site> [service] [lines] [follow]');
  });
});
