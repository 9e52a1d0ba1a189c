import { describe, expect, it } from 'vitest';
import {
  answeredBlocks,
  chunkText,
  codeSections,
  escapeMrkdwn,
  replyMessage,
  SECTION_MAX,
} from '../../../src/chat/slack/slack-blocks.js';
import { sinkMessage, wrapCode } from '../../../src/chat/slack/slack-sink.js';
import type { Reply } from '../../../src/core/command.js';

const texts = (blocks: unknown[]) =>
  (blocks as { type: string; text?: { text: string } }[])
    .filter((b) => b.type === 'section')
    .map((b) => b.text!.text);

describe('Slack Block Kit rendering', () => {
  it('escapes &, < and >', () => {
    expect(escapeMrkdwn('a < b && c > d')).toBe('a &lt; b &amp;&amp; c &gt; d');
  });

  it('splits on lines and hard-cuts long lines without breaking an entity', () => {
    const t = escapeMrkdwn(`${'x'.repeat(9)}&${'y'.repeat(20)}`);
    const parts = chunkText(t, 12);
    expect(parts.join('')).toBe(t);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(12);
    expect(parts.some((p) => /&(?!amp;)/.test(p))).toBe(false);
    expect(chunkText('a\nb\nc', 3)).toEqual(['a\nb', 'c']);
  });

  it('keeps every code section within 3000 characters even when escaping grows the text', () => {
    const body = Array.from({ length: 200 }, (_, i) => `${i} <<<&&&>>> ${'z'.repeat(i % 50)}`).join('\n');
    const sections = texts(codeSections(body));
    expect(sections.length).toBeGreaterThan(1);
    for (const s of sections) {
      expect(s.length).toBeLessThanOrEqual(SECTION_MAX);
      expect(s.startsWith('```\n') && s.endsWith('\n```')).toBe(true);
    }
    const back = sections.map((s) => s.slice(4, -4)).join('\n');
    expect(back.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')).toBe(body);
  });

  it('renders streamer text: fenced output as code sections, plain text as mrkdwn', () => {
    const code = sinkMessage(wrapCode('│ a <b>\n│ c'));
    expect(texts(code.blocks)).toEqual(['```\n│ a &lt;b&gt;\n│ c\n```']);
    expect(code.text).toBe('│ c');
    const plain = sinkMessage('✓ op_1 succeeded & done');
    expect(texts(plain.blocks)).toEqual(['✓ op_1 succeeded &amp; done']);
  });

  it('renders a confirmation as buttons whose value is the confirmation id; answering removes them', () => {
    const r: Reply = {
      status: 'ok',
      title: 'Confirm: Deprovision blog',
      blocks: [{ kind: 'table', columns: ['a', 'b'], rows: [['1', '2']] }],
      confirm: { id: 'cf_0123456789abcdef', confirmLabel: 'Deprovision blog', expiresAt: 1_700_000_000_000 },
    };
    const m = replyMessage(r);
    const actions = m.blocks.find((b) => b.type === 'actions') as {
      elements: { action_id: string; value: string }[];
    };
    expect(actions.elements.map((e) => [e.action_id, e.value])).toEqual([
      ['sf_confirm_yes', 'cf_0123456789abcdef'],
      ['sf_confirm_no', 'cf_0123456789abcdef'],
    ]);
    expect(texts(m.blocks)[0]).toBe('*✓ Confirm: Deprovision blog*');
    expect(texts(m.blocks)[1]).toMatch(/^```\na {2}b/);
    const done = answeredBlocks(m.blocks, 'Confirmed by alice');
    expect(done.some((b) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(done)).toContain('Confirmed by alice');
  });

  it('never sends more than 50 blocks', () => {
    const r: Reply = {
      status: 'ok',
      title: 'Many',
      blocks: Array.from({ length: 80 }, (_, i) => ({ kind: 'text' as const, text: `t${i}` })),
    };
    expect(replyMessage(r).blocks.length).toBeLessThanOrEqual(50);
  });
});
