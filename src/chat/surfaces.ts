/** Builds the chat surfaces whose credentials are configured. */
import type { ChatSurface, SurfaceDeps } from './surface.js';

/** Every configured Discord/Slack surface (not started yet). */
export function chatSurfacesFor(deps: SurfaceDeps): ChatSurface[] {
  const out: ChatSurface[] = [];
  // discord: added by the Discord adapter (src/chat/discord/)
  // slack: added by the Slack adapter (src/chat/slack/)
  void deps;
  return out;
}
