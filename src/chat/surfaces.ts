/** Builds the chat surfaces whose credentials are configured. */
import { DiscordSurface } from './discord/discord-surface.js';
import { SlackSurface } from './slack/slack-surface.js';
import type { ChatSurface, SurfaceDeps } from './surface.js';

/** Every configured Discord/Slack surface (not started yet). */
export function chatSurfacesFor(deps: SurfaceDeps): ChatSurface[] {
  const out: ChatSurface[] = [];
  if (deps.config.DISCORD_TOKEN) out.push(new DiscordSurface(deps));
  if (deps.config.SLACK_BOT_TOKEN) out.push(new SlackSurface(deps));
  return out;
}
