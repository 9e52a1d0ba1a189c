import { describe, expect, it } from 'vitest';
import { discordAllowedGuilds } from '../../../src/chat/discord/discord-surface.js';
import type { SurfaceDeps } from '../../../src/chat/surface.js';
import { chatSurfacesFor } from '../../../src/chat/surfaces.js';
import { loadConfig } from '../../../src/config.js';

function depsFor(env: Record<string, string>, lines: string[]): SurfaceDeps {
  const logger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (o: unknown, m?: string) => lines.push(typeof o === 'string' ? o : String(m)),
    child: () => logger,
  };
  return { config: loadConfig(env, { envFile: null }), logger } as unknown as SurfaceDeps;
}

describe('Discord allowed guilds', () => {
  it('defaults to DISCORD_GUILD_ID; DISCORD_ALLOWED_GUILDS replaces it', () => {
    const cfg = (env: Record<string, string>) => loadConfig(env, { envFile: null });
    expect(discordAllowedGuilds(cfg({}))).toEqual([]);
    expect(discordAllowedGuilds(cfg({ DISCORD_GUILD_ID: '111111' }))).toEqual(['111111']);
    expect(
      discordAllowedGuilds(cfg({ DISCORD_GUILD_ID: '111111', DISCORD_ALLOWED_GUILDS: '222222, 333333' })),
    ).toEqual(['222222', '333333']);
    expect(() => cfg({ DISCORD_ALLOWED_GUILDS: '12,abc' })).toThrow(/DISCORD_ALLOWED_GUILDS/);
  });

  it('does not build the Discord surface when neither key is set, and says which to set', () => {
    const lines: string[] = [];
    expect(chatSurfacesFor(depsFor({ DISCORD_TOKEN: 'x' }, lines))).toEqual([]);
    expect(lines.join('\n')).toMatch(/DISCORD_GUILD_ID.*DISCORD_ALLOWED_GUILDS/);
    expect(chatSurfacesFor(depsFor({ DISCORD_TOKEN: 'x', DISCORD_GUILD_ID: '111111' }, []))).toHaveLength(1);
  });
});
