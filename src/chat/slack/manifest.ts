/**
 * The Slack app manifest, generated from the command registry and the configuration:
 * slash commands (umbrella and/or individual, per SLACK_COMMANDS, never a Slack built-in name) with descriptions and
 * usage hints, the bot scopes SiteFlow uses, interactivity for the confirmation buttons,
 * and Socket Mode when SLACK_APP_TOKEN is set. Paste it at api.slack.com/apps.
 */
import type { Command } from '../../core/command.js';
import { type SlackCommandMode, servedCommands, UMBRELLA_COMMAND } from './served-commands.js';

/** What the manifest depends on. */
export interface ManifestInput {
  commands: readonly Command<never>[] | readonly Command<unknown>[];
  mode: SlackCommandMode;
  socketMode: boolean;
  /** Whether slack:group principals are used (adds usergroups:read). */
  userGroups: boolean;
  /** Public URL of /slack/events (HTTP mode); a placeholder when unknown. */
  requestUrl?: string;
  name?: string;
}

/** Slack's limits on slash command fields. */
const DESCRIPTION_MAX = 100;
const HINT_MAX = 100;

const clamp = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** `<site> [service] [lines] [follow]` from a command's options (positional order). */
export function usageHint(cmd: Pick<Command, 'options'>): string {
  return Object.entries(cmd.options)
    .map(([name, o]) => (o.required ? `<${name}>` : `[${name}]`))
    .join(' ');
}

/** The manifest as a plain object (serialize as JSON or YAML). */
export function slackManifest(input: ManifestInput): Record<string, unknown> {
  const url = input.requestUrl ?? 'https://YOUR-PUBLIC-HOST/slack/events';
  const withUrl = (o: Record<string, unknown>) => (input.socketMode ? o : { ...o, url });
  const commands = [...(input.commands as readonly Command[])].sort((a, b) => a.name.localeCompare(b.name));
  const served = servedCommands(
    input.mode,
    commands.map((c) => c.name),
  );
  const slash: Record<string, unknown>[] = [];
  if (served.umbrella) {
    slash.push(
      withUrl({
        command: `/${UMBRELLA_COMMAND}`,
        description: clamp(
          `Run a SiteFlow command (${commands.map((c) => c.name).join(', ')})`,
          DESCRIPTION_MAX,
        ),
        usage_hint: clamp('<command> [arguments], e.g. restart blog', HINT_MAX),
        should_escape: false,
      }),
    );
  }
  for (const c of commands.filter((c) => served.individual.includes(c.name))) {
    const hint = usageHint(c);
    slash.push(
      withUrl({
        command: `/${c.name}`,
        description: clamp(c.description, DESCRIPTION_MAX),
        ...(hint ? { usage_hint: clamp(hint, HINT_MAX) } : {}),
        should_escape: false,
      }),
    );
  }
  const scopes = ['commands', 'chat:write', 'files:write'];
  if (input.userGroups) scopes.push('usergroups:read');
  const name = input.name ?? 'SiteFlow';
  return {
    _metadata: { major_version: 1, minor_version: 1 },
    display_information: {
      name,
      description: 'Chat-ops for self-hosted Docker Compose sites',
    },
    features: {
      bot_user: { display_name: name, always_online: true },
      slash_commands: slash,
    },
    oauth_config: { scopes: { bot: scopes } },
    settings: {
      interactivity: input.socketMode ? { is_enabled: true } : { is_enabled: true, request_url: url },
      org_deploy_enabled: false,
      socket_mode_enabled: input.socketMode,
      token_rotation_enabled: false,
    },
  };
}
