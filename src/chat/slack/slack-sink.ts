/**
 * The Slack MessageSink: one thread of one channel. Posts are chat.postMessage with
 * thread_ts, edits are chat.update, the full log goes up with files upload v2. Text from
 * the streamer is fenced output (rendered as escaped code-block sections, split so no
 * section passes 3000 characters) or plain text (the summary).
 */
import type { webApi } from '@slack/bolt';
import type { MessageSink } from '../stream/thread-streamer.js';
import { codeSections, escapeMrkdwn, fallbackText, type SlackBlock, textSections } from './slack-blocks.js';

const OPEN = '```\n';
const CLOSE = '\n```';

/** Wraps streamed lines for Slack (the sink turns it into code-block sections). */
export function wrapCode(body: string): string {
  return `${OPEN}${body}${CLOSE}`;
}

/** A streamer text as a Slack message: blocks plus a notification fallback. */
export function sinkMessage(text: string): { text: string; blocks: SlackBlock[] } {
  if (text.startsWith(OPEN) && text.endsWith(CLOSE) && text.length >= OPEN.length + CLOSE.length) {
    const inner = text.slice(OPEN.length, text.length - CLOSE.length);
    const last = inner.slice(inner.lastIndexOf('\n') + 1);
    return { text: fallbackText(last || 'output'), blocks: codeSections(inner) };
  }
  return { text: fallbackText(text), blocks: textSections(text) };
}

/** Writes into the thread of `threadTs` in `channel`. */
export class SlackThreadSink implements MessageSink {
  constructor(
    private readonly client: webApi.WebClient,
    private readonly channel: string,
    private readonly threadTs: string,
  ) {}

  async post(text: string): Promise<string> {
    const r = await this.client.chat.postMessage({
      channel: this.channel,
      thread_ts: this.threadTs,
      ...sinkMessage(text),
    });
    if (!r.ts) throw new Error('chat.postMessage returned no ts');
    return r.ts;
  }

  async edit(id: string, text: string): Promise<void> {
    await this.client.chat.update({ channel: this.channel, ts: id, ...sinkMessage(text) });
  }

  async attach(filename: string, content: Buffer, comment: string): Promise<void> {
    await this.client.filesUploadV2({
      channel_id: this.channel,
      thread_ts: this.threadTs,
      file: content,
      filename,
      title: filename,
      initial_comment: escapeMrkdwn(comment),
    });
  }
}
