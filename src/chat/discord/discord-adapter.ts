/**
 * The Discord adapter of the chat session: translation only. An interaction comes in
 * (slash command or button); deferred answers, edits, follow-ups, threads and uploads go out,
 * within Discord's limits (2000 characters a message, 5 buttons a row, 80 a label, 100 a
 * thread name). Every flow (what to answer, when, to whom) is in ../session.ts.
 */
import {
  ActionRowBuilder,
  ButtonBuilder,
  type ButtonInteraction,
  ButtonStyle,
  type ChatInputCommandInteraction,
  type Client,
  type GuildMember,
  type Interaction,
  type InteractionEditReplyOptions,
  type Message,
  MessageFlags,
} from 'discord.js';
import type { ChatUser, Invocation, Reply } from '../../core/command.js';
import { describeError, SiteFlowError } from '../../core/errors.js';
import type { Clock, Logger } from '../../core/ports.js';
import { shownActions } from '../reply-actions.js';
import type { AckMode, ChatAdapter, Posted } from '../session.js';
import type { StreamOptions } from '../stream/thread-streamer.js';
import { DEFAULT_ATTACHMENT_LIMIT, type DiscordSendable, DiscordThreadSink } from './discord-sink.js';
import { clamp, codeBlock, DISCORD_MAX_CONTENT, renderDiscordReply } from './render-discord.js';

/** Prefix of the custom ids of confirmation buttons: `sf:confirm:<id>:yes|no`. */
export const CONFIRM_PREFIX = 'sf:confirm:';
/** A confirmation button's custom id. */
export const CONFIRM_RE = /^sf:confirm:(cf_[0-9a-f]{16}):(yes|no)$/;

const noMentions = { parse: [] as [] };

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
  private acksInFlight = 0;
  private readonly ackWaiters: Array<() => void> = [];

  constructor(
    private readonly client: () => Client | null,
    private readonly clock: Clock,
    private readonly log: Logger,
    stream: { minIntervalMs: number; maxMessages: number },
  ) {
    this.stream = { maxChars: DISCORD_MAX_CONTENT, wrap: codeBlock, ...stream };
  }

  async invocation(ctx: DiscordCtx, command: string, args: Record<string, string>): Promise<Invocation> {
    return discordInvocation(ctx.i, this.clock, command, args);
  }

  async ack(ctx: DiscordCtx, how: AckMode): Promise<void> {
    const { i } = ctx;
    // Discord drops interactions not answered within 3 s.
    await this.acknowledge(() =>
      how === 'update' && i.isButton()
        ? i.deferUpdate()
        : i.deferReply(how === 'private' ? { flags: MessageFlags.Ephemeral } : {}),
    );
    ctx.acked = how;
    await this.acksSettled();
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

  async reply(ctx: DiscordCtx, r: Reply, note?: string): Promise<void> {
    await this.show(ctx, r, note);
  }

  async post(ctx: DiscordCtx, r: Reply, note?: string): Promise<Posted<Message>> {
    const m = await this.show(ctx, r, note);
    return { handle: m, channelId: m.channelId, messageId: m.id };
  }

  async postIn(channelId: string, r: Reply): Promise<Posted<Message>> {
    const ch = await this.client()?.channels.fetch(channelId);
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
      const ch = await this.client()?.channels.fetch(message.channelId);
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
      const ch = r.operationId && i.channelId ? await this.client()?.channels.fetch(i.channelId) : null;
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

/** The first message's content with the `-# note` line under it, within Discord's limit. */
function withNote(content: string, note?: string): string {
  if (!note) return content;
  const line = `\n-# ${note}`;
  return clamp(content, DISCORD_MAX_CONTENT - line.length) + line;
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
