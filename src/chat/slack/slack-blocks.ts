/**
 * Block Kit rendering of platform-neutral replies for Slack: mrkdwn sections (escaped,
 * split so no section exceeds Slack's 3000 characters), code blocks for tables and
 * output, and confirmation buttons whose value is the confirmation id.
 */
import type { types } from '@slack/bolt';
import type { Block, ConfirmPrompt, Reply, ReplyStatus } from '../../core/command.js';
import { plainStamps, slackStamps } from '../../core/format.js';
import { renderBlock } from '../render-text.js';
import { shownActions } from '../reply-actions.js';

/** Longest text of one section block. */
export const SECTION_MAX = 3000;
/** Most blocks in one message. */
export const MAX_BLOCKS = 50;
/** Action ids of the confirmation buttons; their value is the confirmation id. */
export const CONFIRM_YES = 'sf_confirm_yes';
/** Action id of the call-off button. */
export const CONFIRM_NO = 'sf_confirm_no';
/** Action ids of reply command buttons (`sf_do_0`, …); the value is the command button id. */
export const ACTION_ID_RE = /^sf_do_\d+$/;
/** Action id of link buttons (Slack still sends the click; it is only acknowledged). */
export const LINK_ACTION = 'sf_link';

const FENCE = '```';
const MARK: Record<ReplyStatus, string> = { ok: '✓', error: '✗', denied: '⛔', invalid: '⚠', busy: '⏳' };

/** A Block Kit block. */
export type SlackBlock = types.KnownBlock;

/** Escapes the three characters Slack's text formatting reserves. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Splits already-escaped `text` into pieces that fit `max` characters once `overhead` is added,
 * preferring line breaks and never splitting an escape sequence.
 */
export function chunkText(text: string, max: number, overhead = 0): string[] {
  const room = Math.max(1, max - overhead);
  const out: string[] = [];
  let cur = '';
  const push = () => {
    out.push(cur);
    cur = '';
  };
  for (const line of text.split('\n')) {
    let rest = line;
    // A line longer than a whole chunk is hard-cut, outside an &...; entity.
    while (rest.length > room) {
      if (cur) push();
      let cut = room;
      const amp = rest.lastIndexOf('&', cut - 1);
      if (amp > 0 && amp > cut - 5 && !rest.slice(amp, cut).includes(';')) cut = amp;
      out.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    const add = cur ? `${cur}\n${rest}` : rest;
    if (add.length > room) {
      push();
      cur = rest;
    } else cur = add;
  }
  if (cur || out.length === 0) push();
  return out;
}

/** Mrkdwn sections for plain text (escaped). */
export function textSections(text: string): SlackBlock[] {
  return chunkText(mrkdwn(text), SECTION_MAX).map((t) => section(t || ' '));
}

/** Escaped text with SiteFlow's time stamps as Slack dates (`<!date^…>`). */
function mrkdwn(text: string): string {
  return slackStamps(escapeMrkdwn(text));
}

/** Section fields hold at most 10 items of 2000 characters. */
const FIELDS_MAX = 10;
const FIELD_MAX = 2000;

/** A table of cards: a section per row, its first cell bold, the others as fields. */
export function cardSections(b: Extract<Block, { kind: 'table' }>): SlackBlock[] {
  return b.rows.map((row) => ({
    type: 'section' as const,
    text: { type: 'mrkdwn' as const, text: `*${mrkdwn(row[0] ?? '-')}*` },
    fields: b.columns.slice(1, FIELDS_MAX + 1).map((c, i) => ({
      type: 'mrkdwn' as const,
      text: clip(`*${mrkdwn(c)}*\n${mrkdwn(row[i + 1] ?? '-')}`, FIELD_MAX),
    })),
  }));
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** Code-block sections for preformatted text (escaped, each section fenced). */
export function codeSections(text: string): SlackBlock[] {
  const overhead = FENCE.length * 2 + 2;
  return chunkText(escapeMrkdwn(text), SECTION_MAX, overhead).map((t) =>
    section(`${FENCE}\n${t || ' '}\n${FENCE}`),
  );
}

function section(text: string): types.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

/** The title line of a reply, bold with its status mark. */
export function titleText(r: Pick<Reply, 'status' | 'title'>): string {
  return `${MARK[r.status]} ${r.title}`;
}

function blockSections(b: Block): SlackBlock[] {
  switch (b.kind) {
    case 'text':
      return textSections(b.text);
    case 'fields':
      return textSections(b.fields.map(([k, v]) => `${k}: ${v}`).join('\n'));
    case 'table':
      // Cards while they leave room in one message (50 blocks); else the table.
      if (b.cards && b.rows.length > 0 && b.rows.length <= MAX_BLOCKS - 10) return cardSections(b);
      return codeSections(renderBlock(b));
    case 'code':
      return codeSections(renderBlock(b));
  }
}

/** The confirmation buttons and their expiry note. */
/** The reply's buttons (Cancel, links) as one actions block. */
export function actionBlocks(r: Reply): SlackBlock[] {
  const elements = shownActions(r).map((a, n) =>
    'url' in a
      ? {
          type: 'button' as const,
          action_id: `${LINK_ACTION}_${n}`,
          url: a.url,
          text: { type: 'plain_text' as const, text: a.label },
        }
      : {
          type: 'button' as const,
          action_id: `sf_do_${n}`,
          value: a.id,
          ...(a.danger ? { style: 'danger' as const } : {}),
          text: { type: 'plain_text' as const, text: a.label },
        },
  );
  return elements.length > 0 ? [{ type: 'actions', elements }] : [];
}

export function confirmBlocks(c: ConfirmPrompt): SlackBlock[] {
  const label = c.confirmLabel.length > 75 ? `${c.confirmLabel.slice(0, 74)}…` : c.confirmLabel;
  return [
    {
      type: 'actions' as const,
      block_id: `sf_confirm_${c.id}`,
      elements: [
        {
          type: 'button',
          action_id: CONFIRM_YES,
          value: c.id,
          style: 'danger',
          text: { type: 'plain_text', text: label },
        },
        {
          type: 'button',
          action_id: CONFIRM_NO,
          value: c.id,
          text: { type: 'plain_text', text: 'Call it off' },
        },
      ],
    },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `Expires <!date^${Math.floor(c.expiresAt / 1000)}^{time_secs}|in a minute>.`,
        },
      ],
    },
  ];
}

/** A whole reply as Block Kit plus its plain-text fallback (for notifications). */
export function replyMessage(r: Reply): { text: string; blocks: SlackBlock[] } {
  const title = chunkText(mrkdwn(titleText(r)), SECTION_MAX, 2).map((t) => section(`*${t}*`));
  let blocks: SlackBlock[] = [...title, ...r.blocks.flatMap(blockSections)];
  const tail = [...(r.confirm ? confirmBlocks(r.confirm) : []), ...actionBlocks(r)];
  if (blocks.length + tail.length > MAX_BLOCKS) {
    blocks = blocks.slice(0, MAX_BLOCKS - tail.length - 1);
    blocks.push(section('_… more than fits in one message_'));
  }
  return { text: fallbackText(titleText(r)), blocks: [...blocks, ...tail] };
}

/** Short notification text (escaped, within one section's length). */
export function fallbackText(s: string): string {
  const e = escapeMrkdwn(plainStamps(s));
  return e.length > SECTION_MAX ? `${e.slice(0, SECTION_MAX - 1)}…` : e;
}

/** The blocks of a confirmation message once it was answered: the buttons are gone. */
export function answeredBlocks(blocks: readonly SlackBlock[], note: string): SlackBlock[] {
  const kept = blocks.filter((b) => b.type !== 'actions' && b.type !== 'context');
  return [...kept, { type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(note) }] }];
}
