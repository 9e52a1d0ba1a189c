/** Builds the chat surfaces whose credentials are configured. */
import { DiscordSurface, discordAllowedGuilds } from './discord/discord-surface.js';
import { SlackSurface } from './slack/slack-surface.js';
import type { ChatSurface, SurfaceDeps } from './surface.js';

/** Every configured Discord/Slack surface (not started yet). */
export function chatSurfacesFor(deps: SurfaceDeps): ChatSurface[] {
  const out: ChatSurface[] = [];
  if (deps.config.DISCORD_TOKEN) {
    if (discordAllowedGuilds(deps.config).length) out.push(new DiscordSurface(deps));
    else
      deps.logger.error(
        'Discord surface not started: set DISCORD_GUILD_ID (or DISCORD_ALLOWED_GUILDS) to the server(s) SiteFlow may serve',
      );
  }
  if (deps.config.SLACK_BOT_TOKEN) out.push(new SlackSurface(deps));
  return out;
}
