/**
 * The Slack adapter of the chat session: translation only. Slash commands and button clicks
 * come in (acknowledged by Bolt's listener on receipt); response_url answers (in channel or
 * ephemeral), chat.postMessage / chat.update, threads (thread_ts) and uploads go out, as Block
 * Kit within Slack's limits (3000 characters a section, 50 blocks a message). Every flow is in
 * ../session.ts.
 */
import type { RespondFn, webApi } from '@slack/bolt';
import type { ChatUser, Invocation, Reply } from '../../core/command.js';
import { describeError } from '../../core/errors.js';
import type { Clock, Logger } from '../../core/ports.js';
import type { AckMode, ChatAdapter, Posted } from '../session.js';
import type { StreamOptions } from '../stream/thread-streamer.js';
import { answeredBlocks, escapeMrkdwn, replyMessage, type SlackBlock, textSections } from './slack-blocks.js';
import { SlackThreadSink, wrapCode } from './slack-sink.js';

/** One command or click being answered: its channel, user and response_url. */
export interface SlackCtx {
  channel: string;
  userId: string;
  userName: string | undefined;
  respond: RespondFn;
  /** The clicked message (buttons only). */
  message?: { ts: string; blocks: SlackBlock[] | undefined };
}

/** A channel message: its channel and ts. */
export interface SlackMessageRef {
  channel: string;
  ts: string;
}

/** Slack as a ChatAdapter. */
export class SlackAdapter implements ChatAdapter<SlackCtx, SlackMessageRef> {
  readonly platform = 'slack' as const;
  readonly stream: Omit<StreamOptions, 'logger'>;

  constructor(
    private readonly client: webApi.WebClient,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly userOf: (id: string, name: string | undefined) => Promise<ChatUser>,
    stream: { maxChars: number; minIntervalMs: number; maxMessages: number },
  ) {
    this.stream = { ...stream, wrap: wrapCode };
  }

  async invocation(ctx: SlackCtx, command: string, args: Record<string, string>): Promise<Invocation> {
    return {
      platform: 'slack',
      user: await this.userOf(ctx.userId, ctx.userName),
      channelId: ctx.channel,
      command,
      args,
      receivedAt: this.clock.now(),
    };
  }

  /** Bolt's listener acknowledged on receipt (Slack's 3 s); nothing more to do. */
  async ack(_ctx: SlackCtx, _how: AckMode): Promise<void> {}

  async reply(ctx: SlackCtx, r: Reply, note?: string): Promise<void> {
    await this.respond(ctx, r, false, note);
  }

  async ephemeral(ctx: SlackCtx, r: Reply): Promise<void> {
    await this.respond(ctx, r, true);
  }

  /**
   * chat.postMessage in the channel. When the bot may not post there, a prompt is answered
   * through response_url instead, and a run's starter learns privately why no output appears
   * (the run goes on).
   */
  async post(ctx: SlackCtx, r: Reply, note?: string): Promise<Posted<SlackMessageRef> | null> {
    try {
      const m = await this.client.chat.postMessage({ channel: ctx.channel, ...message(r, note) });
      const ref = { channel: m.channel ?? ctx.channel, ts: m.ts ?? '' };
      return { handle: ref, channelId: ref.channel, messageId: ref.ts };
    } catch (e) {
      this.log.warn({ err: describeError(e), operation: r.operationId }, 'could not post in the channel');
      if (!r.operationId) await this.respond(ctx, r, false, note);
      else
        await this.respond(
          ctx,
          {
            ...r,
            blocks: [
              ...r.blocks,
              {
                kind: 'text',
                text: `I cannot post in this channel (${describeError(e)}); invite me to follow the output here.`,
              },
            ],
          },
          true,
        );
      return null;
    }
  }

  async postIn(channelId: string, r: Reply): Promise<Posted<SlackMessageRef>> {
    const m = await this.client.chat.postMessage({ channel: channelId, ...message(r) });
    const ref = { channel: m.channel ?? channelId, ts: m.ts ?? '' };
    return { handle: ref, channelId: ref.channel, messageId: ref.ts };
  }

  async edit(m: SlackMessageRef, r: Reply, note?: string): Promise<void> {
    await this.client.chat.update({ channel: m.channel, ts: m.ts, ...message(r, note) });
  }

  async thread(posted: Posted<SlackMessageRef>) {
    const { channel, ts } = posted.handle;
    return { sink: new SlackThreadSink(this.client, channel, ts), threadId: ts };
  }

  /** The prompt keeps its text; its buttons give way to the note. */
  async closePrompt(ctx: SlackCtx, note: string): Promise<void> {
    if (!ctx.message) return;
    const blocks = ctx.message.blocks ?? textSections(note);
    await this.client.chat.update({
      channel: ctx.channel,
      ts: ctx.message.ts,
      text: escapeMrkdwn(note),
      blocks: answeredBlocks(blocks, note),
    });
  }

  /** Answers through response_url. */
  private async respond(ctx: SlackCtx, r: Reply, ephemeral: boolean, note?: string): Promise<void> {
    try {
      await ctx.respond({ response_type: ephemeral ? 'ephemeral' : 'in_channel', ...message(r, note) });
    } catch (e) {
      this.log.warn({ err: describeError(e) }, 'could not answer through response_url');
    }
  }
}

/** A reply as Block Kit, with the note as a context line under it. */
function message(r: Reply, note?: string): { text: string; blocks: SlackBlock[] } {
  const m = replyMessage(r);
  if (!note) return m;
  return {
    ...m,
    blocks: [...m.blocks, { type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(note) }] }],
  };
}
