/**
 * Alerts in a Discord channel (DISCORD_ALERT_CHANNEL_ID): each alert is one message with its
 * buttons (custom ids `sf:alert:<action>:<alertId>`, mapped by the Discord surface to the
 * /restart, /logs, /silence and /ack commands) and a thread started on it for the replies;
 * an update edits the message (buttons removed once resolved). Failures throw coded delivery
 * errors: 429 beyond discord.js's own retries, 5xx and the network are retried; another 4xx is
 * given up (10003 Unknown Channel, 10008 Unknown Message and 404 say the target is gone).
 * Limits: content 2000 characters (https://discord.com/developers/docs/resources/message#create-message),
 * thread names 100.
 */
import { ActionRowBuilder, type APIEmbed, ButtonBuilder, ButtonStyle, type Client } from 'discord.js';
import {
  type AlertRecord,
  type AlertRef,
  alertButtons,
  alertCustomId,
  alertText,
  type DeliveryErrorCode,
  deliveryError,
  httpDeliveryCode,
} from '../../core/alerts.js';
import { describeError, isSiteFlowError, SiteFlowError } from '../../core/errors.js';
import { discordStamps, stamp } from '../../core/format.js';
import { ChatAlertChannel } from '../alert-channel-base.js';

const MAX_CONTENT = 2000;

/** An AlertChannel on a Discord text channel. */
export class DiscordAlertChannel extends ChatAlertChannel {
  constructor(
    private readonly client: Client,
    private readonly channelId: string,
    name = 'discord',
  ) {
    super(name, coded);
  }

  protected async doPost(alert: AlertRecord): Promise<AlertRef> {
    const ch = await this.sendable(this.channelId);
    const msg = await ch.send({
      content: clip(alertText(alert)),
      embeds: [alertEmbed(alert)],
      components: rows(alert),
    });
    const ref: AlertRef = { channelId: msg.channelId, messageId: msg.id };
    try {
      const thread = await msg.startThread({ name: clip(alert.title, 100) });
      ref.threadId = thread.id;
    } catch {
      // No thread (permissions, or a channel type without threads): replies go to the channel.
    }
    return ref;
  }

  protected async doReply(ref: AlertRef, text: string): Promise<void> {
    const target = await this.sendable(ref.threadId ?? ref.channelId ?? this.channelId);
    for (const part of split(text)) await target.send({ content: part });
  }

  protected async doUpdate(ref: AlertRef, alert: AlertRecord): Promise<void> {
    const ch = await this.sendable(ref.channelId ?? this.channelId);
    if (!('messages' in ch)) throw new SiteFlowError('CHAT_DISCORD', 'alert channel has no messages');
    await ch.messages.edit(ref.messageId!, {
      content: clip(alertText(alert)),
      embeds: [alertEmbed(alert)],
      components: rows(alert),
    });
  }

  private async sendable(id: string) {
    const ch = await this.client.channels.fetch(id);
    if (!ch?.isSendable())
      throw new SiteFlowError('CHAT_DISCORD', `Discord channel ${id} is not a text channel`);
    return ch;
  }
}

/** Discord JSON error codes: Unknown Channel, Unknown Message. */
const DISCORD_GONE = new Set([10003, 10008]);

/** Runs one Discord call and turns its failure into a coded delivery error (see the module comment). */
async function coded<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isSiteFlowError(e, 'ALERT_DELIVERY_')) throw e;
    const x = (typeof e === 'object' && e !== null ? e : {}) as { status?: unknown; code?: unknown };
    let code: DeliveryErrorCode =
      (typeof x.status === 'number' ? httpDeliveryCode(x.status) : null) ?? 'ALERT_DELIVERY_RETRY';
    if (code === 'ALERT_DELIVERY_FAILED' && (x.status === 404 || DISCORD_GONE.has(x.code as number)))
      code = 'ALERT_DELIVERY_GONE';
    throw deliveryError(code, describeError(e), e);
  }
}

/** Embed colors by severity; green once resolved. */
const COLOR = { critical: 0xc62828, warning: 0xef6c00, info: 0x1565c0, resolved: 0x2e7d32 } as const;

/** Where and when, as an embed under the alert's text (times in each reader's own zone). */
export function alertEmbed(alert: AlertRecord): APIEmbed {
  const when = (ms: number) => discordStamps(stamp(ms, true));
  return {
    color: alert.status === 'resolved' ? COLOR.resolved : COLOR[alert.severity],
    fields: [
      {
        name: 'Where',
        value: alert.site ? `${alert.host}/${alert.site}` : `host ${alert.host}`,
        inline: true,
      },
      { name: 'Opened', value: when(alert.openedAt), inline: true },
      ...(alert.resolvedAt !== null
        ? [{ name: 'Resolved', value: when(alert.resolvedAt), inline: true }]
        : []),
    ],
    footer: { text: alert.id },
    timestamp: new Date(alert.openedAt).toISOString(),
  };
}

function rows(alert: AlertRecord): ActionRowBuilder<ButtonBuilder>[] {
  const buttons = alertButtons(alert).map((b) =>
    new ButtonBuilder()
      .setCustomId(alertCustomId(b.action, alert.id))
      .setLabel(b.label)
      .setStyle(
        b.action === 'restart'
          ? ButtonStyle.Danger
          : b.action === 'ack'
            ? ButtonStyle.Primary
            : ButtonStyle.Secondary,
      ),
  );
  return buttons.length ? [new ActionRowBuilder<ButtonBuilder>().addComponents(buttons)] : [];
}

function clip(s: string, max = MAX_CONTENT): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** Long replies (twenty containers...) go out as several messages, split at line ends. */
function split(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const line of text.split('\n')) {
    const l = clip(line);
    if (cur && cur.length + 1 + l.length > MAX_CONTENT) {
      out.push(cur);
      cur = l;
    } else cur = cur ? `${cur}\n${l}` : l;
  }
  if (cur) out.push(cur);
  return out.length ? out : ['(empty)'];
}
