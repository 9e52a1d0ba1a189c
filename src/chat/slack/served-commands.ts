/**
 * Which slash commands SiteFlow declares and serves on Slack, per SLACK_COMMANDS. One answer for
 * the surface (what it accepts) and the manifest (what it declares), so the two never differ.
 */

/** Name of the umbrella slash command (without the slash). */
export const UMBRELLA_COMMAND = 'siteflow';

/**
 * Slack's built-in slash commands: an app manifest declaring one of them is rejected, so these
 * are served under `/siteflow` only (e.g. `/siteflow status`).
 * https://slack.com/help/articles/201259356-Use-built-in-slash-commands
 */
export const SLACK_BUILT_IN_COMMANDS: ReadonlySet<string> = new Set([
  'active',
  'apps',
  'archive',
  'away',
  'call',
  'collapse',
  'dm',
  'dnd',
  'expand',
  'feed',
  'feedback',
  'invite',
  'join',
  'kick',
  'leave',
  'me',
  'msg',
  'mute',
  'open',
  'prefs',
  'remind',
  'remove',
  'rename',
  'search',
  'shortcuts',
  'shrug',
  'star',
  'status',
  'topic',
  'who',
]);

/** What SLACK_COMMANDS asks for. */
export type SlackCommandMode = 'umbrella' | 'individual' | 'both';

/** The slash commands to declare and serve. */
export interface ServedCommands {
  /** Whether `/siteflow` is declared. */
  umbrella: boolean;
  /** Registry commands declared under their own name (never a Slack built-in). */
  individual: string[];
  /** Registry commands reachable only through `/siteflow` because Slack reserves their name. */
  umbrellaOnly: string[];
}

/**
 * The commands to declare for `mode`. With `individual`, the umbrella is still declared when a
 * command's name is a Slack built-in, because that command would otherwise be unreachable.
 */
export function servedCommands(mode: SlackCommandMode, names: readonly string[]): ServedCommands {
  const sorted = [...names].sort((a, b) => a.localeCompare(b));
  const reserved = sorted.filter((n) => SLACK_BUILT_IN_COMMANDS.has(n));
  const individual = mode === 'umbrella' ? [] : sorted.filter((n) => !SLACK_BUILT_IN_COMMANDS.has(n));
  const umbrella = mode !== 'individual' || reserved.length > 0;
  return { umbrella, individual, umbrellaOnly: mode === 'umbrella' ? sorted : reserved };
}

/** The declared slash commands with their leading slash, umbrella first. */
export function slashNames(served: ServedCommands): string[] {
  return [...(served.umbrella ? [`/${UMBRELLA_COMMAND}`] : []), ...served.individual.map((n) => `/${n}`)];
}
