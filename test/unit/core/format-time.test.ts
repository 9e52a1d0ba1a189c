/**
 * Times in replies: one stamp, rendered per surface (Discord `<t:…>`, Slack `<!date^…>`, local
 * time on the console and page), and the TZ setting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { renderDiscordReply } from '../../../src/chat/discord/render-discord.js';
import { renderReplyText } from '../../../src/chat/render-text.js';
import { replyMessage } from '../../../src/chat/slack/slack-blocks.js';
import { ConfigError, loadConfig } from '../../../src/config.js';
import type { Reply } from '../../../src/core/command.js';
import {
  discordStamps,
  formatLocalTime,
  formatTime,
  isTimeZone,
  plainStamps,
  setDisplayTimeZone,
  slackStamps,
  stamp,
} from '../../../src/core/format.js';

// 2026-07-01 12:00:00 UTC (summer: Berlin is UTC+2) and 2026-01-15 08:30:05 UTC (winter: UTC+1).
const SUMMER = Date.UTC(2026, 6, 1, 12, 0, 0);
const WINTER = Date.UTC(2026, 0, 15, 8, 30, 5);

afterEach(() => setDisplayTimeZone(undefined));

describe('time stamps', () => {
  it('renders one stamp as each platform wants it', () => {
    const text = `opened ${stamp(SUMMER)}, last ${stamp(SUMMER - 180_000, true)}`;
    const unix = SUMMER / 1000;
    expect(discordStamps(text)).toBe(`opened <t:${unix}:f>, last <t:${unix - 180}:R>`);
    expect(slackStamps(text, 'Europe/Berlin')).toBe(
      `opened <!date^${unix}^{date_short_pretty} {time}|2026-07-01 14:00:00 CEST>, ` +
        `last <!date^${unix - 180}^{date_short_pretty} {time}|2026-07-01 13:57:00 CEST>`,
    );
    expect(plainStamps(text, SUMMER, 'Europe/Berlin')).toBe('opened 2026-07-01 14:00:00 CEST, last 3m ago');
    expect(plainStamps('no times here', SUMMER)).toBe('no times here');
  });

  it('local time follows the zone and its daylight saving time; UTC when none is set', () => {
    expect(formatLocalTime(WINTER, 'Europe/Berlin')).toBe('2026-01-15 09:30:05 CET');
    expect(formatLocalTime(SUMMER, 'Europe/Berlin')).toBe('2026-07-01 14:00:00 CEST');
    expect(formatLocalTime(WINTER, 'America/New_York')).toBe('2026-01-15 03:30:05 GMT-5');
    expect(formatLocalTime(WINTER, 'UTC')).toBe('2026-01-15 08:30:05 UTC');
  });

  it('TZ sets the zone of formatTime (console, page) and of plain stamps', () => {
    setDisplayTimeZone('Asia/Tokyo');
    expect(formatTime(WINTER)).toBe('2026-01-15 17:30:05 GMT+9');
    expect(plainStamps(stamp(WINTER), WINTER)).toBe('2026-01-15 17:30:05 GMT+9');
    setDisplayTimeZone('');
    expect(formatTime(WINTER)).toBe(formatLocalTime(WINTER, undefined));
  });

  it('TZ is validated with the other keys: a zone the runtime does not know is refused by name', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(loadConfig({ TZ: 'Europe/Berlin' }, { envFile: null }).TZ).toBe('Europe/Berlin');
    expect(loadConfig({}, { envFile: null }).TZ).toBe('');
    let error: unknown;
    try {
      loadConfig({ TZ: 'Mars/Olympus', LOG_LEVEL: 'loud' }, { envFile: null });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.key).sort()).toEqual(['LOG_LEVEL', 'TZ']);
  });
});

describe('a reply with times and a table of cards', () => {
  const r: Reply = {
    status: 'ok',
    title: '2 sites, 1 not healthy',
    blocks: [
      {
        kind: 'table',
        columns: ['site', 'state', 'up', 'last operation'],
        rows: [
          ['blog', 'up', '2/2', `restart succeeded ${stamp(SUMMER - 60_000, true)}`],
          ['shop', 'down', '0/1', '-'],
        ],
        cards: true,
        tone: 'bad',
      },
      { kind: 'text', text: `Checked ${stamp(SUMMER)}` },
    ],
  };
  const unix = SUMMER / 1000;

  it('Discord: an embed field per site with <t:…:R>, the text with <t:…:f>', () => {
    const { messages, embeds } = renderDiscordReply(r);
    expect(messages).toEqual([`**✓ 2 sites, 1 not healthy**\nChecked <t:${unix}:f>`]);
    expect(embeds).toEqual([
      {
        color: 0xc62828,
        fields: [
          {
            name: 'blog',
            value: `state: up\nup: 2/2\nlast operation: restart succeeded <t:${unix - 60}:R>`,
            inline: true,
          },
          { name: 'shop', value: 'state: down\nup: 0/1\nlast operation: -', inline: true },
        ],
      },
    ]);
  });

  it('Discord: more cards than an embed holds are shown as a table (local time in the code block)', () => {
    const many: Reply = {
      ...r,
      blocks: [
        {
          ...(r.blocks[0] as Extract<Reply['blocks'][0], { kind: 'table' }>),
          rows: Array(26).fill(['x', 'up', '1/1', stamp(SUMMER)]),
        },
      ],
    };
    const { messages, embeds } = renderDiscordReply(many);
    expect(embeds).toEqual([]);
    expect(messages[0]).toContain('```');
    expect(messages[0]).toContain(formatLocalTime(SUMMER));
    expect(messages[0]).not.toContain('⟦');
  });

  it('Slack: a section with fields per site, dates as <!date^…>, the fallback text plain', () => {
    const m = replyMessage(r);
    expect(m.text).toBe('✓ 2 sites, 1 not healthy');
    expect(m.blocks[1]).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: '*blog*' },
      fields: [
        { type: 'mrkdwn', text: '*state*\nup' },
        { type: 'mrkdwn', text: '*up*\n2/2' },
        {
          type: 'mrkdwn',
          text: `*last operation*\nrestart succeeded <!date^${unix - 60}^{date_short_pretty} {time}|${formatLocalTime(SUMMER - 60_000)}>`,
        },
      ],
    });
    expect(JSON.stringify(m.blocks[3])).toContain(`Checked <!date^${unix}^{date_short_pretty} {time}|`);
  });

  it('console: the table as before, relative times as "1m ago", others in local time', () => {
    const text = renderReplyText(r, SUMMER);
    expect(text).toContain('restart succeeded 1m ago');
    expect(text).toMatch(/site\s+state\s+up\s+last operation/);
    expect(text).toContain(`Checked ${formatLocalTime(SUMMER)}`);
  });
});
