import { describe, expect, it } from 'vitest';
import { commands } from '../../../commands/index.js';
import { commandJson, commandsJson } from '../../../src/chat/discord/command-json.js';
import { codeBlock, packMessages, renderDiscordReply } from '../../../src/chat/discord/render-discord.js';
import { defineCommand, opt, type Reply } from '../../../src/core/command.js';

describe('Discord command JSON', () => {
  it('puts required options first with Discord types, choices, bounds and autocomplete', () => {
    const c = defineCommand({
      name: 'demo',
      description: 'x'.repeat(150),
      level: 'viewer',
      options: {
        verbose: opt.boolean({ description: 'Say more' }),
        count: opt.integer({ description: 'How many', min: 1, max: 50 }),
        mode: opt.choice({ description: 'Mode', choices: ['fast', 'safe'] }),
        site: opt.site({ description: 'The site', required: true }),
      },
      run: () => ({ status: 'ok', title: 't', blocks: [] }),
    });
    const j = commandJson(c);
    expect(j.description).toHaveLength(100);
    expect(j.options.map((o) => o.name)).toEqual(['site', 'verbose', 'count', 'mode']);
    expect(j.options[0]).toMatchObject({ type: 3, required: true, autocomplete: true, max_length: 129 });
    expect(j.options[1]).toMatchObject({ type: 5, required: false });
    expect(j.options[2]).toMatchObject({ type: 4, min_value: 1, max_value: 50 });
    expect(j.options[3]).toMatchObject({
      choices: [
        { name: 'fast', value: 'fast' },
        { name: 'safe', value: 'safe' },
      ],
    });
    expect(j.options[3]!.autocomplete).toBeUndefined();
  });

  it('turns every declared command into a valid chat input command', () => {
    for (const j of commandsJson(commands)) {
      expect(j.name).toMatch(/^[a-z0-9_-]{1,32}$/);
      expect(j.description.length).toBeGreaterThan(0);
      expect(j.description.length).toBeLessThanOrEqual(100);
      const firstOptional = j.options.findIndex((o) => !o.required);
      if (firstOptional >= 0) expect(j.options.slice(firstOptional).every((o) => !o.required)).toBe(true);
      for (const o of j.options) {
        expect(o.name).toMatch(/^[a-z0-9_-]{1,32}$/);
        expect(o.description.length).toBeLessThanOrEqual(100);
        expect(o.choices && o.autocomplete).toBeFalsy();
      }
    }
  });
});

describe('Discord reply rendering', () => {
  it('renders tables as code blocks and escapes markdown in text', () => {
    const r: Reply = {
      status: 'ok',
      title: 'Sites on my_host',
      blocks: [
        { kind: 'text', text: '*not bold*' },
        { kind: 'table', columns: ['site', 'state'], rows: [['blog', 'up']] },
      ],
    };
    const { messages, file } = renderDiscordReply(r);
    expect(file).toBeUndefined();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('**✓ Sites on my\\_host**');
    expect(messages[0]).toContain('\\*not bold\\*');
    expect(messages[0]).toMatch(/```\nsite {2}state\n/);
  });

  it('splits long tables into messages of at most 2000 characters, each a closed code block', () => {
    const rows = Array.from({ length: 120 }, (_, n) => [`site-${n}`, 'up', 'x'.repeat(20)]);
    const { messages, file } = renderDiscordReply({
      status: 'ok',
      title: 'Many',
      blocks: [{ kind: 'table', columns: ['a', 'b', 'c'], rows }],
    });
    expect(file).toBeUndefined();
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) {
      expect(m.length).toBeLessThanOrEqual(2000);
      expect((m.match(/```/g) ?? []).length % 2).toBe(0);
    }
    const all = messages.join('\n');
    for (const [s] of rows) expect(all).toContain(s);
  });

  it('attaches a reply too long for a few messages, and keeps the shown part under the limit', () => {
    const text = Array.from({ length: 2000 }, (_, n) => `line ${n}`).join('\n');
    const { messages, file } = renderDiscordReply({
      status: 'ok',
      title: 'Huge',
      blocks: [{ kind: 'code', text }],
    });
    expect(messages).toHaveLength(1);
    expect(messages[0]!.length).toBeLessThanOrEqual(2000);
    expect(file?.name).toBe('reply.txt');
    expect(file!.data.toString()).toContain('line 1999');
  });

  it('cuts a single over-long line and defuses code fences', () => {
    const msgs = packMessages([{ code: true, lines: ['y'.repeat(5000)] }]);
    for (const m of msgs) expect(m.length).toBeLessThanOrEqual(2000);
    expect(
      msgs
        .join('')
        .replaceAll(/```\n?/g, '')
        .replaceAll('\n', ''),
    ).toBe('y'.repeat(5000));
    const block = codeBlock('a ``` b');
    expect(block.split('```')).toHaveLength(3);
    expect(block.length).toBe(codeBlock('a xxx b').length);
  });
});
