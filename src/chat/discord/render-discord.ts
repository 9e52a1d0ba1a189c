/**
 * Renders a platform-neutral Reply as Discord messages: markdown content with tables and
 * code as code blocks, split at line boundaries so no message exceeds 2000 characters.
 * A reply too long for a few messages is shortened and attached whole as a text file. Its
 * confirmation and actions become button rows (5 a row, 80 characters a label).
 */
import { ActionRowBuilder, type APIEmbed, ButtonBuilder, ButtonStyle, escapeMarkdown } from 'discord.js';
import type { Block, Reply, ReplyStatus } from '../../core/command.js';
import { discordStamps } from '../../core/format.js';
import { renderBlock, renderReplyText } from '../render-text.js';
import { shownActions } from '../reply-actions.js';

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

/** Markdown-escaped prose with SiteFlow's time stamps as Discord timestamps. */
function prose(text: string): string {
  return discordStamps(escapeMarkdown(text));
}

function partsOf(r: Reply): Part[] {
  const parts: Part[] = [{ code: false, lines: [`**${MARK[r.status]} ${prose(r.title)}**`] }];
  const add = (text: string) => parts.push({ code: false, lines: text.split('\n') });
  for (const b of r.blocks as Block[]) {
    switch (b.kind) {
      case 'text':
        add(prose(b.text));
        break;
      case 'fields':
        add(b.fields.map(([k, v]) => `**${prose(k)}:** ${prose(v)}`).join('\n'));
        break;
      case 'table':
      case 'code':
        // A table of cards is shown as an embed (see embedsOf).
        if (!asEmbed(b)) parts.push({ code: true, lines: defuseFences(renderBlock(b)).split('\n') });
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
  /** Embeds of the first message (tables of cards). */
  embeds: APIEmbed[];
  file?: { name: string; data: Buffer };
}

/** Embed limits: https://discord.com/developers/docs/resources/message#embed-object-embed-limits */
const EMBED = { fields: 25, name: 256, value: 1024, total: 6000, embeds: 10 } as const;
/** Embed colors: green, red. */
const TONE = { good: 0x2e7d32, bad: 0xc62828 } as const;

/** Whether a table is shown as an embed: a table of cards that fits one. */
function asEmbed(b: Block): b is Extract<Block, { kind: 'table' }> {
  return b.kind === 'table' && b.cards === true && b.rows.length > 0 && b.rows.length <= EMBED.fields;
}

/** A table of cards as one embed: a field per row, its other columns as lines. */
export function cardsEmbed(b: Extract<Block, { kind: 'table' }>): APIEmbed {
  const fields = b.rows.map((row) => ({
    name: clamp(row[0] ?? '-', EMBED.name),
    value: clamp(
      b.columns
        .slice(1)
        .map((c, i) => `${prose(c)}: ${prose(row[i + 1] ?? '-')}`)
        .join('\n') || '-',
      EMBED.value,
    ),
    inline: true,
  }));
  return { ...(b.tone ? { color: TONE[b.tone] } : {}), fields };
}

/** The embeds of a reply, within Discord's per-message limits. */
function embedsOf(r: Reply): APIEmbed[] {
  const out: APIEmbed[] = [];
  let total = 0;
  for (const b of r.blocks) {
    if (!asEmbed(b) || out.length >= EMBED.embeds) continue;
    const e = cardsEmbed(b);
    const size = (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);
    if (total + size > EMBED.total) break;
    total += size;
    out.push(e);
  }
  return out;
}

/** Renders a reply for Discord (buttons for confirmations are added by the surface). */
export function renderDiscordReply(r: Reply, limit = DISCORD_MAX_CONTENT): RenderedReply {
  const embeds = embedsOf(r);
  // A table of cards that did not fit the embeds is shown as a table.
  const shown =
    embeds.length === r.blocks.filter(asEmbed).length ? r : { ...r, blocks: r.blocks.map(uncard) };
  const messages = packMessages(partsOf(shown), limit);
  if (messages.length <= MAX_REPLY_MESSAGES) return { messages, embeds: shown === r ? embeds : [] };
  const note = '\n… the whole reply is attached as reply.txt';
  const first = packMessages(partsOf(shown), limit - note.length)[0]!;
  return {
    messages: [`${first}${note}`],
    embeds: shown === r ? embeds : [],
    file: { name: 'reply.txt', data: Buffer.from(renderReplyText(r), 'utf8') },
  };
}

/** Shortens `s` to at most `n` characters. */
export function clamp(s: string, n = DISCORD_MAX_CONTENT): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function uncard(b: Block): Block {
  return b.kind === 'table' && b.cards ? { ...b, cards: false } : b;
}

/** Prefix of the custom ids of confirmation buttons: `sf:confirm:<id>:yes|no`. */
export const CONFIRM_PREFIX = 'sf:confirm:';
/** A confirmation button's custom id. */
export const CONFIRM_RE = /^sf:confirm:(cf_[0-9a-f]{16}):(yes|no)$/;

/** The first message's content with the `-# note` line under it, within Discord's limit. */
export function withNote(content: string, note?: string): string {
  if (!note) return content;
  const line = `\n-# ${note}`;
  return clamp(content, DISCORD_MAX_CONTENT - line.length) + line;
}

/** The button rows of a reply: its confirmation, then its actions (Cancel, links). */
export function componentsOf(r: Reply): ActionRowBuilder<ButtonBuilder>[] {
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
