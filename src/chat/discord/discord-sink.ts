/**
 * A MessageSink over one Discord thread (or channel): posts, edits and uploads through
 * discord.js, whose REST queue follows Discord's rate-limit headers and waits out 429s.
 */
import { gzipSync } from 'node:zlib';
import type { MessageCreateOptions, MessageEditOptions } from 'discord.js';
import type { MessageSink } from '../stream/thread-streamer.js';
import { clamp, DISCORD_MAX_CONTENT } from './render-discord.js';

/** The few channel calls the sink needs (a ThreadChannel or TextChannel satisfies it). */
export interface DiscordSendable {
  readonly id: string;
  send(options: MessageCreateOptions): Promise<{ id: string }>;
  messages: { edit(id: string, options: MessageEditOptions): Promise<unknown> };
}

/** Default attachment size limit of a Discord server without boosts. */
export const DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024;

const noMentions = { parse: [] as [] };

/** Streams run output into a Discord thread. */
export class DiscordThreadSink implements MessageSink {
  constructor(
    private readonly channel: DiscordSendable,
    private readonly attachmentLimit = DEFAULT_ATTACHMENT_LIMIT,
  ) {}

  async post(text: string): Promise<string> {
    const m = await this.channel.send({
      content: clamp(text, DISCORD_MAX_CONTENT),
      allowedMentions: noMentions,
    });
    return m.id;
  }

  async edit(id: string, text: string): Promise<void> {
    await this.channel.messages.edit(id, {
      content: clamp(text, DISCORD_MAX_CONTENT),
      allowedMentions: noMentions,
    });
  }

  async attach(filename: string, content: Buffer, comment: string): Promise<void> {
    let name = filename;
    let data = content;
    let note = '';
    if (data.length > this.attachmentLimit) {
      // Logs compress well; past that, the newest part is the useful one.
      const gz = gzipSync(data);
      if (gz.length <= this.attachmentLimit) {
        name = `${filename}.gz`;
        data = gz;
      } else {
        data = data.subarray(data.length - this.attachmentLimit);
        note = `\n(log too large: only its last ${this.attachmentLimit} bytes are attached)`;
      }
    }
    await this.channel.send({
      content: clamp(`${comment.replace(filename, name)}${note}`, DISCORD_MAX_CONTENT),
      files: [{ attachment: data, name }],
      allowedMentions: noMentions,
    });
  }
}
