/**
 * Alerts in a Slack channel (SLACK_ALERT_CHANNEL): each alert is one message (chat.postMessage)
 * with Block Kit buttons (action_id `sf_alert_<action>`, value the alert id, mapped by the Slack
 * surface to the /restart, /logs, /silence and /ack commands); replies go into its thread
 * (thread_ts) and an update is chat.update (buttons removed once resolved). Platform errors
 * and rate limits beyond the WebClient's own retries throw so the delivery queue retries.
 * Limits: section text 3000 characters (https://api.slack.com/reference/block-kit/blocks#section).
 */
import type { App } from '@slack/bolt';
import {
  type AlertChannel,
  type AlertRecord,
  type AlertRef,
  alertButtons,
  alertSlackActionId,
  alertText,
} from '../core/alerts.js';
import { SiteFlowError } from '../core/errors.js';

type WebClient = App['client'];
const MAX_SECTION = 3000;
const MAX_TEXT = 39_000;

/** An AlertChannel on a Slack channel. */
export class SlackAlertChannel implements AlertChannel {
  readonly name: string;

  constructor(
    private readonly client: WebClient,
    private readonly channel: string,
    name = 'slack',
  ) {
    this.name = name;
  }

  async post(alert: AlertRecord): Promise<AlertRef> {
    const r = await this.client.chat.postMessage({
      channel: this.channel,
      text: clip(alertText(alert), MAX_TEXT),
      blocks: blocks(alert),
    });
    if (!r.ts || !r.channel) throw new SiteFlowError('CHAT_SLACK', 'chat.postMessage returned no ts');
    return { channel: r.channel, ts: r.ts };
  }

  async reply(ref: AlertRef, text: string): Promise<void> {
    await this.client.chat.postMessage({
      channel: ref.channel ?? this.channel,
      thread_ts: ref.ts!,
      text: clip(text, MAX_TEXT),
    });
  }

  async update(ref: AlertRef, alert: AlertRecord): Promise<void> {
    await this.client.chat.update({
      channel: ref.channel ?? this.channel,
      ts: ref.ts!,
      text: clip(alertText(alert), MAX_TEXT),
      blocks: blocks(alert),
    });
  }
}

function blocks(alert: AlertRecord) {
  const out: Array<{ type: string } & Record<string, unknown>> = [
    { type: 'section', text: { type: 'mrkdwn', text: clip(alertText(alert), MAX_SECTION) } },
  ];
  const buttons = alertButtons(alert);
  if (buttons.length)
    out.push({
      type: 'actions',
      block_id: `sf_alert_${alert.id}`.slice(0, 255),
      elements: buttons.map((b) => ({
        type: 'button',
        text: { type: 'plain_text', text: b.label },
        action_id: alertSlackActionId(b.action),
        value: alert.id,
        ...(b.action === 'restart' ? { style: 'danger' } : b.action === 'ack' ? { style: 'primary' } : {}),
      })),
    });
  return out;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
