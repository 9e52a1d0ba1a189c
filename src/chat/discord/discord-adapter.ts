/**
 * The Discord adapter of the chat session: translation only, both ways. Interactions come in
 * (slash commands, buttons, autocomplete; from served guilds only) and become invocations,
 * clicks and completion requests for the session; deferred answers, edits, follow-ups, threads
 * and uploads go out, within Discord's limits (2000 characters a message, 25 choices, 100 a
 * thread name). Every flow (what to answer, when, to whom) is in ../session.ts; the connection
 * (login, command registration) is in ./discord-surface.ts.
 */
import {
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Client,
  Events,
  type GuildMember,
  type Interaction,
  type InteractionEditReplyOptions,
  type Message,
  MessageFlags,
} from 'discord.js';
import { parseAlertCustomId } from '../../core/alerts.js';
import type { ChatUser, Invocation, Reply } from '../../core/command.js';
import { describeError, SiteFlowError } from '../../core/errors.js';
import type { Clock, Logger } from '../../core/ports.js';
import { AcksFirst } from '../acks-first.js';
import { ACTION_PREFIX } from '../reply-actions.js';
import type { AckMode, ChatAdapter, ChatSession, Click, Posted } from '../session.js';
import type { StreamOptions } from '../stream/thread-streamer.js';
import { DEFAULT_ATTACHMENT_LIMIT, type DiscordSendable, DiscordThreadSink } from './discord-sink.js';
import {
  CONFIRM_RE,
  clamp,
  codeBlock,
  componentsOf,
  DISCORD_MAX_CONTENT,
  renderDiscordReply,
  withNote,
} from './render-discord.js';

const noMentions = { parse: [] as [] };

/** What the adapter needs besides the client. */
export interface DiscordAdapterDeps {
  clock: Clock;
  logger: Logger;
  /** The guilds SiteFlow serves; anything else gets a refusal that names nothing. */
  guilds: ReadonlySet<string>;
  /** Audits a refusal and gives its reply (the dispatcher's `refuse`). */
  refuse(inv: Invocation, reason: string, details: Record<string, unknown>): Reply;
  /** Least time between two writes of a run's progress message, and messages before a live tail. */
  stream: { minIntervalMs: number; maxMessages: number };
}

/** One interaction being answered, and how it was acknowledged so far. */
export interface DiscordCtx {
  i: ChatInputCommandInteraction | ButtonInteraction;
  acked: AckMode | null;
}

/** The user of an interaction: display name and role ids. */
export function discordUser(i: Interaction): ChatUser {
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

/** The invocation of `command` by the user of `i`. */
export function discordInvocation(
  i: Interaction,
  clock: Clock,
  command: string,
  args: Record<string, string>,
): Invocation {
  return {
    platform: 'discord',
    user: discordUser(i),
    channelId: i.channelId ?? '',
    command,
    args,
    receivedAt: clock.now(),
  };
}

/** Discord as a ChatAdapter. */
export class DiscordAdapter implements ChatAdapter<DiscordCtx, Message> {
  readonly platform = 'discord' as const;
  readonly stream: Omit<StreamOptions, 'logger'>;
  /** Work after an acknowledgement waits for the acknowledgements under way (see ../acks-first.ts). */
  private readonly acks = new AcksFirst();
  private client: Client | null = null;
  private stopping = false;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly deps: DiscordAdapterDeps) {
    this.clock = deps.clock;
    this.log = deps.logger;
    this.stream = { maxChars: DISCORD_MAX_CONTENT, wrap: codeBlock, ...deps.stream };
  }

  /** Hands the client's interactions to `session` (before login, so none is missed). */
  listen(client: Client, session: ChatSession<DiscordCtx, Message>): void {
    this.client = client;
    this.stopping = false;
    client.on(Events.InteractionCreate, (i) => {
      void this.onInteraction(i, session);
    });
  }

  /** Takes no more interactions (shutdown); replies and run summaries already under way still go out. */
  stop(): void {
    this.stopping = true;
  }

  /** One interaction in: a refusal outside the served guilds, else a command, completion or click. */
  private async onInteraction(i: Interaction, session: ChatSession<DiscordCtx, Message>): Promise<void> {
    if (this.stopping) return;
    try {
      if (!i.guildId || !this.deps.guilds.has(i.guildId)) await this.refuse(i);
      else if (i.isChatInputCommand())
        await session.command({ i, acked: null }, discordInvocation(i, this.clock, i.commandName, argsOf(i)));
      else if (i.isAutocomplete()) await this.complete(i, session);
      else if (i.isButton()) await session.click({ i, acked: null }, clickOf(i.customId));
    } catch (e) {
      this.log.warn({ err: describeError(e), interaction: i.id }, 'interaction handling failed');
    }
  }

  /** An interaction from another server or a DM: a private refusal that names nothing, audited. */
  private async refuse(i: Interaction): Promise<void> {
    const command = i.isCommand() || i.isAutocomplete() ? i.commandName : i.isButton() ? 'button' : '';
    const r = this.deps.refuse(discordInvocation(i, this.clock, command, {}), i.guildId ? 'guild' : 'dm', {
      guild: i.guildId ?? null,
    });
    if (i.isAutocomplete()) await i.respond([]);
    else if (i.isRepliable()) await i.reply({ content: r.title, flags: MessageFlags.Ephemeral });
  }

  /** Autocomplete: the focused option's candidates, as many as Discord shows (25, 1–100 characters). */
  private async complete(i: AutocompleteInteraction, session: ChatSession<DiscordCtx, Message>) {
    const focused = i.options.getFocused(true);
    const args = argsOf(i);
    const names = await session.complete(i.commandName, focused.name, String(focused.value ?? ''), args);
    await i.respond(
      names
        .filter((n) => n.length >= 1 && n.length <= 100)
        .slice(0, 25)
        .map((n) => ({ name: n, value: n })),
    );
  }

  async invocation(ctx: DiscordCtx, command: string, args: Record<string, string>): Promise<Invocation> {
    return discordInvocation(ctx.i, this.clock, command, args);
  }

  async ack(ctx: DiscordCtx, how: AckMode): Promise<void> {
    const { i } = ctx;
    // Discord drops interactions not answered within 3 s.
    await this.acks.acknowledging(
      how === 'update' && i.isButton()
        ? i.deferUpdate()
        : i.deferReply(how === 'private' ? { flags: MessageFlags.Ephemeral } : {}),
    );
    ctx.acked = how;
    // The work after it (dispatch, replies) waits for the burst's other acknowledgements.
    await this.acks.settled();
  }

  async reply(ctx: DiscordCtx, r: Reply, note?: string): Promise<void> {
    await this.show(ctx, r, note);
  }

  async post(ctx: DiscordCtx, r: Reply, note?: string): Promise<Posted<Message>> {
    const m = await this.show(ctx, r, note);
    return { handle: m, channelId: m.channelId, messageId: m.id };
  }

  async postIn(channelId: string, r: Reply): Promise<Posted<Message>> {
    const ch = await this.client?.channels.fetch(channelId);
    if (!ch?.isSendable()) throw new SiteFlowError('DISCORD_CHANNEL', `cannot post in channel ${channelId}`);
    const { messages, embeds } = renderDiscordReply(r);
    const m = await ch.send({
      content: messages[0]!,
      embeds,
      components: componentsOf(r),
      allowedMentions: noMentions,
    });
    return { handle: m, channelId: m.channelId, messageId: m.id };
  }

  async edit(m: Message, r: Reply, note?: string): Promise<void> {
    const { messages, embeds } = renderDiscordReply(r);
    await m.edit({
      content: withNote(messages[0]!, note),
      embeds,
      components: componentsOf(r),
      allowedMentions: noMentions,
    });
  }

  /** A thread on the message; the channel itself when a thread cannot be started there. */
  async thread(posted: Posted<Message>, title: string) {
    const message = posted.handle;
    try {
      const t = await message.startThread({
        name: clamp(title.replace(/\s+/g, ' '), 100),
        autoArchiveDuration: 1440,
      });
      return { sink: new DiscordThreadSink(t, DEFAULT_ATTACHMENT_LIMIT), threadId: t.id };
    } catch (e) {
      this.log.warn({ err: describeError(e) }, 'could not start a thread; streaming into the channel');
      const ch = await this.client?.channels.fetch(message.channelId);
      if (ch?.isSendable() && 'messages' in ch)
        return { sink: new DiscordThreadSink(ch as unknown as DiscordSendable), threadId: null };
      throw e;
    }
  }

  /** Private: the deferred answer when it was deferred privately, else ephemeral follow-ups. */
  async ephemeral(ctx: DiscordCtx, r: Reply): Promise<void> {
    const { i } = ctx;
    const { messages, embeds, file } = renderDiscordReply(r);
    const files = file ? [{ attachment: file.data, name: file.name }] : [];
    const last = messages.length - 1;
    // A public "thinking…" cannot turn private: remove it and answer privately.
    if (ctx.acked === 'public') await i.deleteReply().catch(() => {});
    for (const [n, content] of messages.entries()) {
      const body = {
        content,
        allowedMentions: noMentions,
        ...(n === 0 ? { embeds } : {}),
        ...(n === last ? { files } : {}),
      };
      if (n === 0 && ctx.acked === 'private') await i.editReply({ ...body, components: componentsOf(r) });
      else if (n === 0 && ctx.acked === null) await i.reply({ ...body, flags: MessageFlags.Ephemeral });
      else await i.followUp({ ...body, flags: MessageFlags.Ephemeral });
    }
  }

  async dropButtons(ctx: DiscordCtx): Promise<void> {
    await ctx.i.editReply({ components: [] });
  }

  /**
   * The deferred answer edited into `r` (more messages as follow-ups). If the edit fails while an
   * operation already runs (a 5xx after discord.js's retries, an expired token), its output must
   * not be lost: the reply is posted as a new channel message and the run follows that one.
   */
  private async show(ctx: DiscordCtx, r: Reply, note?: string): Promise<Message> {
    const { i } = ctx;
    const rendered = renderDiscordReply(r);
    const files = rendered.file ? [{ attachment: rendered.file.data, name: rendered.file.name }] : [];
    const last = rendered.messages.length - 1;
    const first: InteractionEditReplyOptions = {
      content: withNote(rendered.messages[0]!, note),
      embeds: rendered.embeds,
      allowedMentions: noMentions,
      ...(last === 0 ? { files } : {}),
      components: componentsOf(r),
    };
    let message: Message;
    try {
      message = await i.editReply(first);
    } catch (e) {
      const ch = r.operationId && i.channelId ? await this.client?.channels.fetch(i.channelId) : null;
      if (!ch?.isSendable()) throw e;
      this.log.warn(
        { err: describeError(e), operation: r.operationId },
        'reply edit failed; posting instead',
      );
      message = await ch.send({
        content: first.content as string,
        embeds: rendered.embeds,
        allowedMentions: noMentions,
        ...(last === 0 ? { files } : {}),
      });
    }
    for (const [n, content] of rendered.messages.slice(1).entries())
      await i.followUp({ content, allowedMentions: noMentions, ...(n + 1 === last ? { files } : {}) });
    return message;
  }
}

/** The options of a slash command as raw strings. */
/** The options given, as text (for autocomplete: the others than the one being typed). */
function argsOf(i: ChatInputCommandInteraction | AutocompleteInteraction): Record<string, string> {
  const args: Record<string, string> = {};
  for (const o of i.options.data)
    if (o.value !== undefined && o.value !== null && !o.focused) args[o.name] = String(o.value);
  return args;
}

/** What a button's custom id asks for. */
function clickOf(customId: string): Click {
  const alert = parseAlertCustomId(customId);
  if (alert) return { kind: 'alert', alertId: alert.alertId, action: alert.action };
  if (customId.startsWith(ACTION_PREFIX)) return { kind: 'command', id: customId };
  const m = CONFIRM_RE.exec(customId);
  return m ? { kind: 'confirm', id: m[1]!, answer: m[2] as 'yes' | 'no' } : { kind: 'foreign' };
}
