/**
 * The Discord chat surface (discord.js 14, gateway + REST v10): the connection, the slash
 * command registration (generated from the command declarations), the alert channel and the
 * scheduled-run output. Interactions are not handled here: the Discord adapter
 * (./discord-adapter.ts) listens on the client and hands them to the chat session (../session.ts).
 */
import { Client, Events, GatewayIntentBits, type Message, Routes } from 'discord.js';
import { describeError, SiteFlowError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';
import { ChatSession } from '../session.js';
import type { ChatSurface, SurfaceDeps } from '../surface.js';
import { commandsJson } from './command-json.js';
import { DiscordAdapter, type DiscordCtx } from './discord-adapter.js';
import { DiscordAlertChannel } from './discord-alert-channel.js';

/** Tunables (tests and benches shorten them). */
export interface DiscordSurfaceOptions {
  /** Least time between two writes of a run's progress message (default 1000 ms). */
  minIntervalMs?: number;
  /** Messages per run before the last one becomes a live tail (default 5). */
  maxMessages?: number;
  /** How long `ready` may take at start (default 30 s). */
  readyTimeoutMs?: number;
  /** Longest time autocomplete may take before an empty answer (default 2 s; Discord allows 3). */
  autocompleteTimeoutMs?: number;
}

const noMentions = { parse: [] as [] };

/** The guilds SiteFlow serves: DISCORD_ALLOWED_GUILDS, else DISCORD_GUILD_ID; empty when neither is set. */
export function discordAllowedGuilds(
  config: Pick<SurfaceDeps['config'], 'DISCORD_ALLOWED_GUILDS' | 'DISCORD_GUILD_ID'>,
): string[] {
  if (config.DISCORD_ALLOWED_GUILDS.length) return [...config.DISCORD_ALLOWED_GUILDS];
  return config.DISCORD_GUILD_ID ? [config.DISCORD_GUILD_ID] : [];
}

/** Serves SiteFlow's commands on Discord. */
export class DiscordSurface implements ChatSurface {
  readonly platform = 'discord' as const;
  private client: Client | null = null;
  private alertChannelAdded = false;
  private readonly session: ChatSession<DiscordCtx, Message>;
  private readonly log: Logger;
  private readonly opts: Required<DiscordSurfaceOptions>;
  private readonly guilds: ReadonlySet<string>;
  private readonly adapter: DiscordAdapter;

  constructor(
    private readonly deps: SurfaceDeps,
    opts: DiscordSurfaceOptions = {},
  ) {
    this.log = deps.logger.child({ surface: 'discord' });
    this.opts = {
      minIntervalMs: opts.minIntervalMs ?? 1000,
      maxMessages: opts.maxMessages ?? 5,
      readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
      autocompleteTimeoutMs: opts.autocompleteTimeoutMs ?? 2000,
    };
    this.guilds = new Set(discordAllowedGuilds(deps.config));
    this.adapter = new DiscordAdapter({
      clock: deps.clock,
      logger: this.log,
      guilds: this.guilds,
      refuse: (inv, reason, details) => deps.dispatcher.refuse(inv, reason, details),
      stream: { minIntervalMs: this.opts.minIntervalMs, maxMessages: this.opts.maxMessages },
    });
    this.session = new ChatSession(
      { ...deps, logger: this.log, completionTimeoutMs: this.opts.autocompleteTimeoutMs },
      this.adapter,
    );
  }

  /** The discord.js client (after start). */
  get discord(): Client | null {
    return this.client;
  }

  async start(): Promise<void> {
    const { config } = this.deps;
    if (this.guilds.size === 0)
      throw new SiteFlowError(
        'CONFIG_INVALID',
        'the Discord surface serves only known servers: set DISCORD_GUILD_ID (or DISCORD_ALLOWED_GUILDS)',
      );
    const client = new Client({
      intents: [GatewayIntentBits.Guilds],
      rest: {
        version: '10',
        // discord.js aborts a request after this and retries it (up to its `retries`).
        timeout: config.CHAT_REQUEST_TIMEOUT_SECONDS * 1000,
        ...(config.DISCORD_API_URL ? { api: config.DISCORD_API_URL } : {}),
      },
      allowedMentions: noMentions,
    });
    this.client = client;
    this.adapter.listen(client, this.session);
    client.on(Events.Error, (e) => this.log.warn({ err: describeError(e) }, 'discord client error'));
    client.on(Events.ShardDisconnect, (_e, shard) =>
      this.log.warn({ shard }, 'discord gateway disconnected'),
    );
    client.on(Events.ShardResume, (shard) => this.log.info({ shard }, 'discord gateway resumed'));
    client.rest.on('rateLimited', (info) =>
      this.log.debug(
        { route: info.route, retryAfterMs: info.retryAfter, global: info.global },
        'rate limited',
      ),
    );
    const ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new SiteFlowError('DISCORD_READY', 'Discord did not get ready in time')),
        this.opts.readyTimeoutMs,
      );
      client.once(Events.ClientReady, () => {
        clearTimeout(t);
        resolve();
      });
    });
    ready.catch(() => {});
    try {
      await client.login(config.DISCORD_TOKEN);
      await ready;
    } catch (e) {
      await client.destroy().catch(() => {});
      this.client = null;
      throw new SiteFlowError('DISCORD_LOGIN', `Could not connect to Discord: ${describeError(e)}`);
    }
    await this.registerCommands();
    this.addAlertChannel(client);
    const alertChannel = config.DISCORD_ALERT_CHANNEL_ID;
    if (alertChannel)
      this.deps.services.schedules?.addOutput({
        name: 'discord',
        announce: (r) => this.session.announce(alertChannel, r),
      });
    this.log.info({ user: client.user?.tag, guilds: [...this.guilds] }, 'discord surface ready');
  }

  /**
   * Alerts go to DISCORD_ALERT_CHANNEL_ID once connected: the monitor queues them (in SQLite)
   * for the configured `discord` channel from the start and delivers them once it is attached.
   */
  private addAlertChannel(client: Client): void {
    const channelId = this.deps.config.DISCORD_ALERT_CHANNEL_ID;
    if (!channelId || !this.deps.services.monitor || this.alertChannelAdded) return;
    this.deps.services.monitor.addChannel(new DiscordAlertChannel(client, channelId));
    this.alertChannelAdded = true;
  }

  /**
   * Registers the slash commands in every served guild, then removes SiteFlow's global commands
   * (left from an earlier version), which would otherwise show in every server the bot is in.
   */
  private async registerCommands(): Promise<void> {
    const client = this.client!;
    const appId = client.application?.id ?? client.user?.id;
    if (!appId) throw new SiteFlowError('DISCORD_READY', 'Discord did not say which application this is');
    const body = commandsJson(this.deps.registry.all());
    for (const guild of this.guilds) {
      try {
        await client.rest.put(Routes.applicationGuildCommands(appId, guild), { body });
        this.log.info({ commands: body.length, guild }, 'slash commands registered');
      } catch (e) {
        // The bot still answers commands registered earlier.
        this.log.error({ err: describeError(e), guild }, 'could not register slash commands');
      }
    }
    try {
      const global = (await client.rest.get(Routes.applicationCommands(appId))) as unknown[];
      if (Array.isArray(global) && global.length) {
        await client.rest.put(Routes.applicationCommands(appId), { body: [] });
        this.log.info({ removed: global.length }, 'stale global slash commands removed');
      }
    } catch (e) {
      this.log.warn({ err: describeError(e) }, 'could not remove stale global slash commands');
    }
  }

  async stop(): Promise<void> {
    this.adapter.stop();
    // Runs are finished or cancelled by now (main stops the runner first); let their summaries go out.
    await this.session.settle();
    await this.client?.destroy();
    this.client = null;
  }

  /** Resolves once every stream started so far has finished (for tests). */
  idle(): Promise<void> {
    return this.session.idle();
  }
}
