/**
 * The Discord chat surface (discord.js 14, gateway + REST v10). Slash commands are
 * generated from the command declarations; every interaction is acknowledged at once
 * (deferred) and then answered from the dispatcher's Reply. An action's reply gets a
 * thread into which its output streams; confirmations are buttons whose clicks run
 * `/confirm` as the clicking user, so permissions and audit go through the dispatcher.
 */
import {
  ActionRowBuilder,
  type AutocompleteInteraction,
  ButtonBuilder,
  type ButtonInteraction,
  ButtonStyle,
  type ChatInputCommandInteraction,
  Client,
  Events,
  GatewayIntentBits,
  type GuildMember,
  type Interaction,
  type InteractionEditReplyOptions,
  type Message,
  MessageFlags,
  Routes,
} from 'discord.js';
import { type AlertAction, parseAlertCustomId } from '../../core/alerts.js';
import type { ChatUser, Invocation, Reply } from '../../core/command.js';
import { levelAllows } from '../../core/command.js';
import { parseArgs } from '../../core/dispatch.js';
import { describeError, SiteFlowError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';
import { renderRunSummary } from '../render-run.js';
import { decodeAction, finishedRunReply, shownActions } from '../reply-actions.js';
import { type StreamReport, streamToThread } from '../stream/thread-streamer.js';
import type { ChatSurface, SurfaceDeps } from '../surface.js';
import { commandsJson } from './command-json.js';
import { DiscordAlertChannel } from './discord-alert-channel.js';
import { DEFAULT_ATTACHMENT_LIMIT, type DiscordSendable, DiscordThreadSink } from './discord-sink.js';
import { clamp, codeBlock, DISCORD_MAX_CONTENT, renderDiscordReply } from './render-discord.js';

/** Prefix of the custom ids of confirmation buttons: `sf:confirm:<id>:yes|no`. */
export const CONFIRM_PREFIX = 'sf:confirm:';
const CONFIRM_RE = /^sf:confirm:(cf_[0-9a-f]{16}):(yes|no)$/;

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

/** What the surface has done, for tests and metrics. */
export interface DiscordStreamRecord {
  operationId: string;
  threadId: string | null;
  startedAt: number;
  finishedAt?: number;
  report?: StreamReport;
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
  private readonly streams = new Set<Promise<void>>();
  /** Streams started by this surface, newest last (bounded). */
  readonly streamed: DiscordStreamRecord[] = [];
  private readonly log: Logger;
  private readonly opts: Required<DiscordSurfaceOptions>;
  private stopping = false;
  private acksInFlight = 0;
  private readonly ackWaiters: Array<() => void> = [];
  private readonly guilds: ReadonlySet<string>;

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
    client.on(Events.InteractionCreate, (i) => {
      void this.onInteraction(i);
    });
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
        announce: (r) => this.postRun(alertChannel, r),
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
    this.stopping = true;
    // Runs are finished or cancelled by now (main stops the runner first); let their summaries go out.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.streams]),
      new Promise((r) => {
        timer = setTimeout(r, 10_000);
      }),
    ]);
    clearTimeout(timer);
    await this.client?.destroy();
    this.client = null;
  }

  /** Resolves once every stream started so far has finished (for tests). */
  async idle(): Promise<void> {
    while (this.streams.size) await Promise.allSettled([...this.streams]);
  }

  /** Runs an acknowledgement, counting it as in flight. */
  private async acknowledge(fn: () => Promise<unknown>): Promise<void> {
    this.acksInFlight++;
    try {
      await fn();
    } finally {
      this.acksInFlight--;
      if (this.acksInFlight === 0) for (const w of this.ackWaiters.splice(0)) w();
    }
  }

  /**
   * Resolves when no acknowledgement is in flight. Under a burst the follow-up work (dispatch,
   * replies) waits for the burst's acknowledgements, so each interaction's 3 s deadline only
   * competes with other acknowledgements, never with replies. Waits at most 250 ms, so a
   * steady stream of commands cannot starve the replies.
   */
  private acksSettled(): Promise<void> {
    if (this.acksInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 250);
      this.ackWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async onInteraction(i: Interaction): Promise<void> {
    if (this.stopping) return;
    try {
      if (!i.guildId || !this.guilds.has(i.guildId)) await this.refuse(i);
      else if (i.isChatInputCommand()) await this.onCommand(i);
      else if (i.isAutocomplete()) await this.onAutocomplete(i);
      else if (i.isButton()) await this.onButton(i);
    } catch (e) {
      this.log.warn({ err: describeError(e), interaction: i.id }, 'interaction handling failed');
    }
  }

  /** An interaction from another server or a DM: a private refusal that names nothing, audited. */
  private async refuse(i: Interaction): Promise<void> {
    const command = i.isCommand() || i.isAutocomplete() ? i.commandName : i.isButton() ? 'button' : '';
    const r = this.deps.dispatcher.refuse(this.invocation(i, command, {}), i.guildId ? 'guild' : 'dm', {
      guild: i.guildId ?? null,
    });
    if (i.isAutocomplete()) await i.respond([]);
    else if (i.isRepliable()) await i.reply({ content: r.title, flags: MessageFlags.Ephemeral });
  }

  private userOf(i: Interaction): ChatUser {
    const m = i.member;
    let roles: string[] = [];
    let name = i.user.globalName ?? i.user.username;
    if (m) {
      if (Array.isArray(m.roles)) roles = m.roles;
      else roles = [...(m as GuildMember).roles.cache.keys()];
      if ('displayName' in m && typeof m.displayName === 'string') name = m.displayName;
      else if ('nick' in m && m.nick) name = m.nick;
    }
    return { id: i.user.id, name, roles };
  }

  private invocation(i: Interaction, command: string, args: Record<string, string>): Invocation {
    return {
      platform: 'discord',
      user: this.userOf(i),
      channelId: i.channelId ?? '',
      command,
      args,
      receivedAt: this.deps.clock.now(),
    };
  }

  /**
   * Whether the reply will surely be private: unknown command, not allowed, or invalid
   * options (the same pure checks the dispatcher makes). Those are deferred ephemerally,
   * so nobody else ever sees them; everything else is deferred in the channel.
   */
  private surelyPrivate(inv: Invocation): boolean {
    const cmd = this.deps.registry.get(inv.command);
    if (!cmd) return true;
    if (!levelAllows(this.deps.dispatcher.levelOf(inv), cmd.level)) return true;
    return !parseArgs(cmd.options, inv.args).ok;
  }

  private async onCommand(i: ChatInputCommandInteraction): Promise<void> {
    const args: Record<string, string> = {};
    for (const o of i.options.data)
      if (o.value !== undefined && o.value !== null) args[o.name] = String(o.value);
    const inv = this.invocation(i, i.commandName, args);
    const privately = this.surelyPrivate(inv);
    // Acknowledge first: Discord drops interactions not answered within 3 s.
    await this.acknowledge(() => i.deferReply(privately ? { flags: MessageFlags.Ephemeral } : {}));
    await this.acksSettled();
    const r = await this.deps.dispatcher.dispatch(inv);
    await this.answer(i, r, privately);
  }

  /** Sends the reply to a deferred command interaction, then streams its run if it started one. */
  private async answer(
    i: ChatInputCommandInteraction | ButtonInteraction,
    r: Reply,
    deferredPrivately: boolean,
  ): Promise<void> {
    const rendered = renderDiscordReply(r);
    const files = rendered.file ? [{ attachment: rendered.file.data, name: rendered.file.name }] : [];
    const last = rendered.messages.length - 1;
    if (r.ephemeral && !deferredPrivately) {
      // A public "thinking…" cannot turn private: remove it and answer privately.
      await i.deleteReply().catch(() => {});
      for (const [n, content] of rendered.messages.entries()) {
        await i.followUp({
          content,
          flags: MessageFlags.Ephemeral,
          allowedMentions: noMentions,
          ...(n === last ? { files } : {}),
        });
      }
      return;
    }
    const first: InteractionEditReplyOptions = {
      content: rendered.messages[0]!,
      allowedMentions: noMentions,
      ...(last === 0 ? { files } : {}),
      components: componentsOf(r),
    };
    const message = await this.editOrPost(i, first, r);
    for (const [n, content] of rendered.messages.slice(1).entries()) {
      await i.followUp({
        content,
        allowedMentions: noMentions,
        ...(deferredPrivately ? { flags: MessageFlags.Ephemeral } : {}),
        ...(n + 1 === last ? { files } : {}),
      });
    }
    if (r.operationId && !deferredPrivately) this.stream(r.operationId, message, r, i.channelId);
  }

  private async onButton(i: ButtonInteraction): Promise<void> {
    const alert = parseAlertCustomId(i.customId);
    if (alert) return this.onAlertButton(i, alert);
    const action = decodeAction(i.customId);
    if (action) return this.runAsClicker(i, action.command, action.args);
    const m = CONFIRM_RE.exec(i.customId);
    if (!m) {
      await i.reply({ content: 'This button is not one of SiteFlow’s.', flags: MessageFlags.Ephemeral });
      return;
    }
    // Acknowledge first; the button message is edited once the outcome is known.
    await this.acknowledge(() => i.deferUpdate());
    await this.acksSettled();
    const inv = this.invocation(i, 'confirm', { id: m[1]!, answer: m[2]! });
    const r = await this.deps.dispatcher.dispatch(inv);
    const who = inv.user.name;
    if (r.status !== 'ok') {
      // Foreign, stale or expired: a private answer; nothing changes for anyone else.
      const { messages } = renderDiscordReply(r);
      await i.followUp({ content: messages[0]!, flags: MessageFlags.Ephemeral, allowedMentions: noMentions });
      if (r.status === 'invalid') {
        // The request is gone (used, cancelled or expired): its buttons are dead, remove them.
        await i.editReply({ components: [] }).catch(() => {});
      }
      return;
    }
    const { messages, file } = renderDiscordReply(r);
    const verb = m[2] === 'yes' ? 'Confirmed' : 'Called off';
    const note = `\n-# ${verb} by ${who}`;
    const content = clamp(messages[0]!, DISCORD_MAX_CONTENT - note.length) + note;
    const message = await this.editOrPost(
      i,
      {
        content,
        components: componentsOf(r),
        allowedMentions: noMentions,
        ...(file ? { files: [{ attachment: file.data, name: file.name }] } : {}),
      },
      r,
    );
    if (r.operationId) this.stream(r.operationId, message, r, i.channelId, note);
  }

  /**
   * Edits the deferred reply. If that fails while an operation already runs (a 5xx after
   * discord.js's retries, an expired token), its output must not be lost: the reply is posted
   * as a new channel message and the run streams under that one instead.
   */
  private async editOrPost(
    i: ChatInputCommandInteraction | ButtonInteraction,
    payload: InteractionEditReplyOptions,
    r: Reply,
  ): Promise<Message> {
    try {
      return await i.editReply(payload);
    } catch (e) {
      if (!r.operationId || !i.channelId || !this.client) throw e;
      this.log.warn(
        { err: describeError(e), operation: r.operationId },
        'reply edit failed; posting instead',
      );
      const channel = await this.client.channels.fetch(i.channelId);
      if (!channel?.isSendable()) throw e;
      const { content, files } = payload;
      return channel.send({
        content: typeof content === 'string' ? content : r.title,
        allowedMentions: noMentions,
        ...(files ? { files } : {}),
      });
    }
  }

  /**
   * An alert's Restart / Logs / Silence 1h / Ack button: the same command as typed, run as
   * the clicking user, so permissions and the audit log apply exactly as for slash commands.
   */
  private async onAlertButton(
    i: ButtonInteraction,
    alert: { action: AlertAction; alertId: string },
  ): Promise<void> {
    const cmd = this.deps.services.monitor?.actionFor(alert.alertId, alert.action);
    if (!cmd) {
      await i.reply({ content: 'This alert is no longer known to SiteFlow.', flags: MessageFlags.Ephemeral });
      return;
    }
    await this.runAsClicker(i, cmd.command, cmd.args);
  }

  /** A button's command, run as the clicking user and answered like a typed one. */
  private async runAsClicker(
    i: ButtonInteraction,
    command: string,
    args: Record<string, string>,
  ): Promise<void> {
    const inv = this.invocation(i, command, args);
    const privately = this.surelyPrivate(inv);
    await this.acknowledge(() => i.deferReply(privately ? { flags: MessageFlags.Ephemeral } : {}));
    await this.acksSettled();
    const r = await this.deps.dispatcher.dispatch(inv);
    await this.answer(i, r, privately);
  }

  private async onAutocomplete(i: AutocompleteInteraction): Promise<void> {
    const focused = i.options.getFocused(true);
    const spec = this.deps.registry.get(i.commandName)?.options[focused.name];
    const typed = String(focused.value ?? '');
    let names: string[] = [];
    if (spec?.choices) names = spec.choices.filter((c) => c.toLowerCase().includes(typed.toLowerCase()));
    else if (spec?.completion) {
      const args: Record<string, string> = {};
      for (const o of i.options.data) if (o.value !== undefined && !o.focused) args[o.name] = String(o.value);
      let timer: ReturnType<typeof setTimeout> | undefined;
      names = await Promise.race([
        this.deps.completions(spec.completion, typed, args).catch(() => [] as string[]),
        new Promise<string[]>((r) => {
          timer = setTimeout(() => r([]), this.opts.autocompleteTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    await i.respond(
      names
        .filter((n) => n.length >= 1 && n.length <= 100)
        .slice(0, 25)
        .map((n) => ({ name: n, value: n })),
    );
  }

  /**
   * Posts a reply that no interaction asked for (a scheduled run) as a new message in a
   * channel, and streams its run into the message's thread like a slash command's.
   */
  private async postRun(channelId: string, r: Reply): Promise<void> {
    const ch = await this.client?.channels.fetch(channelId);
    if (!ch?.isSendable()) throw new SiteFlowError('DISCORD_CHANNEL', `cannot post in channel ${channelId}`);
    const message = await ch.send({
      content: renderDiscordReply(r).messages[0]!,
      components: componentsOf(r),
      allowedMentions: noMentions,
    });
    if (r.operationId) this.stream(r.operationId, message, r, channelId);
  }

  /** Starts a thread on `message` and streams the run into it (in the background). */
  private stream(opId: string, message: Message, r: Reply, channelId: string | null, note = ''): void {
    const rec: DiscordStreamRecord = { operationId: opId, threadId: null, startedAt: Date.now() };
    this.streamed.push(rec);
    if (this.streamed.length > 200) this.streamed.shift();
    const p = this.runStream(opId, message, r, channelId, rec, note)
      .catch((e) => this.log.warn({ err: describeError(e), operation: opId }, 'streaming to discord failed'))
      .finally(() => {
        rec.finishedAt = Date.now();
        this.streams.delete(p);
      });
    this.streams.add(p);
  }

  private async runStream(
    opId: string,
    message: Message,
    r: Reply,
    channelId: string | null,
    rec: DiscordStreamRecord,
    note: string,
  ): Promise<void> {
    const { services, runLog } = this.deps;
    // Subscribe at once: the hub replays from the start, and reading never waits for Discord.
    const events = services.runner.events(opId);
    const target = await this.threadFor(message, r.title, channelId);
    rec.threadId = target.id;
    const op = services.operations.get(opId);
    try {
      services.operations.update(opId, {
        output: {
          platform: 'discord',
          channelId: channelId ?? message.channelId,
          threadId: target.id === message.id ? target.id : target.id === channelId ? null : target.id,
          messageId: message.id,
        },
      });
    } catch (e) {
      this.log.warn({ err: describeError(e), operation: opId }, 'could not record the output location');
    }
    const limit = message.guild ? DEFAULT_ATTACHMENT_LIMIT : DEFAULT_ATTACHMENT_LIMIT;
    rec.report = await streamToThread(
      events,
      new DiscordThreadSink(target, limit),
      {
        maxChars: DISCORD_MAX_CONTENT,
        minIntervalMs: this.opts.minIntervalMs,
        maxMessages: this.opts.maxMessages,
        wrap: (body) => codeBlock(body),
        logger: this.log,
      },
      {
        summary: (end) => clamp(renderRunSummary(opId, end, op?.requestedBy.name), 1900),
        readLog: async () => {
          const path = services.operations.get(opId)?.logPath ?? op?.logPath;
          if (!path) throw new SiteFlowError('RUN_LOG_MISSING', `no log for ${opId}`);
          return runLog.read(path);
        },
        filename: `${opId}.log`,
      },
    );
    // The run's first message says how it ended; its Cancel button is gone.
    const done = finishedRunReply(r, rec.report.end);
    await message
      .edit({
        content: clamp(renderDiscordReply(done).messages[0]!, DISCORD_MAX_CONTENT - note.length) + note,
        components: componentsOf(done),
        allowedMentions: noMentions,
      })
      .catch((e) =>
        this.log.warn({ err: describeError(e), operation: opId }, 'could not update the run message'),
      );
  }

  /** A thread on the reply message; the channel itself when a thread cannot be started there. */
  private async threadFor(
    message: Message,
    title: string,
    channelId: string | null,
  ): Promise<DiscordSendable> {
    const name = clamp(title.replace(/\s+/g, ' '), 100);
    try {
      return await message.startThread({ name, autoArchiveDuration: 1440 });
    } catch (e) {
      this.log.warn({ err: describeError(e) }, 'could not start a thread; streaming into the channel');
      const ch = await this.client!.channels.fetch(channelId ?? message.channelId);
      if (ch?.isSendable() && 'messages' in ch) return ch as unknown as DiscordSendable;
      throw e;
    }
  }
}

/** The button rows of a reply: its confirmation, then its actions (Cancel, links). */
function componentsOf(r: Reply): ActionRowBuilder<ButtonBuilder>[] {
  const rows = r.confirm ? [confirmRow(r.confirm.id, r.confirm.confirmLabel)] : [];
  const buttons = shownActions(r)
    .slice(0, 5)
    .map((a) =>
      'url' in a
        ? new ButtonBuilder().setURL(a.url).setLabel(clamp(a.label, 80)).setStyle(ButtonStyle.Link)
        : new ButtonBuilder()
            .setCustomId(a.id)
            .setLabel(clamp(a.label, 80))
            .setStyle(a.danger ? ButtonStyle.Danger : ButtonStyle.Secondary),
    );
  if (buttons.length > 0) rows.push(new ActionRowBuilder<ButtonBuilder>().addComponents(...buttons));
  return rows;
}

/** The Confirm / Cancel buttons of a confirmation request. */
export function confirmRow(id: string, label: string): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder()
      .setCustomId(`${CONFIRM_PREFIX}${id}:yes`)
      .setLabel(clamp(label || 'Confirm', 80))
      .setStyle(ButtonStyle.Danger),
    new ButtonBuilder()
      .setCustomId(`${CONFIRM_PREFIX}${id}:no`)
      .setLabel('Cancel')
      .setStyle(ButtonStyle.Secondary),
  );
}
