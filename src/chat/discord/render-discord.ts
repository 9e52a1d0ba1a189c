/**
 * Renders a platform-neutral Reply as Discord messages: markdown content with tables and
 * code as code blocks, split at line boundaries so no message exceeds 2000 characters.
 * A reply too long for a few messages is shortened and attached whole as a text file.
 */
import { escapeMarkdown } from 'discord.js';
import type { Block, Reply, ReplyStatus } from '../../core/command.js';
import { renderBlock, renderReplyText } from '../render-text.js';

/** Discord's limit on message content. */
export const DISCORD_MAX_CONTENT = 2000;
/** More messages than this and the reply is attached as a file instead. */
export const MAX_REPLY_MESSAGES = 3;

const MARK: Record<ReplyStatus, string> = { ok: '✓', error: '✗', denied: '⛔', invalid: '⚠', busy: '⏳' };
const FENCE = '```';

/** Keeps a code block closed: a literal ``` in the body would end it early (same length). */
export function defuseFences(s: string): string {
  return s.replaceAll(FENCE, '``ˋ');
}

/** Wraps lines in a code block. */
export function codeBlock(body: string): string {
  return `${FENCE}\n${defuseFences(body)}\n${FENCE}`;
}

/** A part of a reply: prose lines or code lines. */
interface Part {
  code: boolean;
  lines: string[];
}

function partsOf(r: Reply): Part[] {
  const parts: Part[] = [{ code: false, lines: [`**${MARK[r.status]} ${escapeMarkdown(r.title)}**`] }];
  const prose = (text: string) => parts.push({ code: false, lines: text.split('\n') });
  for (const b of r.blocks as Block[]) {
    switch (b.kind) {
      case 'text':
        prose(escapeMarkdown(b.text));
        break;
      case 'fields':
        prose(b.fields.map(([k, v]) => `**${escapeMarkdown(k)}:** ${escapeMarkdown(v)}`).join('\n'));
        break;
      case 'table':
      case 'code':
        parts.push({ code: true, lines: defuseFences(renderBlock(b)).split('\n') });
        break;
    }
  }
  return parts;
}

/** Cuts a line into pieces of at most `n` characters. */
function cut(line: string, n: number): string[] {
  if (line.length <= n) return [line];
  const out: string[] = [];
  for (let i = 0; i < line.length; i += n) out.push(line.slice(i, i + n));
  return out;
}

/** Packs parts into messages of at most `limit` characters, reopening code blocks across messages. */
export function packMessages(parts: Part[], limit = DISCORD_MAX_CONTENT): string[] {
  const overhead = `${FENCE}\n\n${FENCE}`.length;
  const messages: string[] = [];
  let cur = '';
  const push = () => {
    if (cur) messages.push(cur);
    cur = '';
  };
  const add = (text: string) => {
    if (cur && cur.length + 1 + text.length > limit) push();
    cur = cur ? `${cur}\n${text}` : text;
  };
  for (const p of parts) {
    if (!p.code) {
      for (const line of p.lines) for (const piece of cut(line, limit)) add(piece);
      continue;
    }
    // Gather code lines into blocks that fit in what is left of the message (or a fresh one).
    let block: string[] = [];
    let blockChars = 0;
    const room = () => limit - overhead - (cur ? cur.length + 1 : 0);
    const close = () => {
      if (block.length) add(`${FENCE}\n${block.join('\n')}\n${FENCE}`);
      block = [];
      blockChars = 0;
    };
    for (const line of p.lines) {
      for (const piece of cut(line, limit - overhead)) {
        const need = blockChars + (block.length ? 1 : 0) + piece.length;
        if (need > room()) {
          if (block.length) close();
          if (piece.length > room()) push();
        }
        block.push(piece);
        blockChars += (block.length > 1 ? 1 : 0) + piece.length;
      }
    }
    close();
  }
  push();
  return messages.length ? messages : ['…'];
}

/** A reply as Discord messages, plus a file when it was too long to show whole. */
export interface RenderedReply {
  messages: string[];
  file?: { name: string; data: Buffer };
}

/** Renders a reply for Discord (buttons for confirmations are added by the surface). */
export function renderDiscordReply(r: Reply, limit = DISCORD_MAX_CONTENT): RenderedReply {
  const messages = packMessages(partsOf(r), limit);
  if (messages.length <= MAX_REPLY_MESSAGES) return { messages };
  const note = '\n… the whole reply is attached as reply.txt';
  const first = packMessages(partsOf(r), limit - note.length)[0]!;
  return {
    messages: [`${first}${note}`],
    file: { name: 'reply.txt', data: Buffer.from(renderReplyText(r), 'utf8') },
  };
}

/** Shortens `s` to at most `n` characters. */
export function clamp(s: string, n = DISCORD_MAX_CONTENT): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
