/**
 * Alerts in a Slack channel (SLACK_ALERT_CHANNEL): each alert is one message (chat.postMessage)
 * with Block Kit buttons (action_id `sf_alert_<action>`, value the alert id, mapped by the Slack
 * surface to the /restart, /logs, /silence and /ack commands); replies go into its thread
 * (thread_ts) and an update is chat.update (buttons removed once resolved). Failures throw coded
 * delivery errors: rate limits beyond the WebClient's own retries, server faults, 5xx and the
 * network are retried; other platform errors are given up (`message_not_found`,
 * `channel_not_found`, `thread_not_found` say the target is gone).
 * Limits: section text 3000 characters (https://api.slack.com/reference/block-kit/blocks#section).
 */
import type { App } from '@slack/bolt';
import {
  type AlertRecord,
  type AlertRef,
  alertButtons,
  alertSlackActionId,
  alertText,
  type DeliveryErrorCode,
  deliveryError,
  httpDeliveryCode,
} from '../../core/alerts.js';
import { describeError, isSiteFlowError, SiteFlowError } from '../../core/errors.js';
import { slackStamps, stamp } from '../../core/format.js';
import { ChatAlertChannel } from '../alert-channel-base.js';

type WebClient = App['client'];
const MAX_SECTION = 3000;
const MAX_TEXT = 39_000;

/** An AlertChannel on a Slack channel. */
export class SlackAlertChannel extends ChatAlertChannel {
  constructor(
    private readonly client: WebClient,
    private readonly channel: string,
    name = 'slack',
  ) {
    super(name, coded);
  }

  protected async doPost(alert: AlertRecord): Promise<AlertRef> {
    const r = await this.client.chat.postMessage({
      channel: this.channel,
      text: clip(alertText(alert), MAX_TEXT),
      blocks: blocks(alert),
    });
    if (!r.ts || !r.channel) throw new SiteFlowError('CHAT_SLACK', 'chat.postMessage returned no ts');
    return { channel: r.channel, ts: r.ts };
  }

  protected async doReply(ref: AlertRef, text: string): Promise<void> {
    await this.client.chat.postMessage({
      channel: ref.channel ?? this.channel,
      thread_ts: ref.ts!,
      text: clip(text, MAX_TEXT),
    });
  }

  protected async doUpdate(ref: AlertRef, alert: AlertRecord): Promise<void> {
    await this.client.chat.update({
      channel: ref.channel ?? this.channel,
      ts: ref.ts!,
      text: clip(alertText(alert), MAX_TEXT),
      blocks: blocks(alert),
    });
  }
}

/** Slack platform errors that may go away by themselves (every other one is permanent). */
const SLACK_TRANSIENT = new Set([
  'ratelimited',
  'rate_limited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);
/** Slack platform errors saying the message (or its channel or thread) is gone. */
const SLACK_GONE = new Set(['message_not_found', 'channel_not_found', 'thread_not_found']);

/** Runs one Web API call and turns its failure into a coded delivery error (see the module comment). */
async function coded<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isSiteFlowError(e, 'ALERT_DELIVERY_')) throw e;
    throw deliveryError(slackDeliveryCode(e), describeError(e), e);
  }
}

function slackDeliveryCode(e: unknown): DeliveryErrorCode {
  const x = (typeof e === 'object' && e !== null ? e : {}) as {
    code?: unknown;
    statusCode?: unknown;
    data?: { error?: unknown };
  };
  if (x.code === 'slack_webapi_platform_error') {
    const what = typeof x.data?.error === 'string' ? x.data.error : '';
    if (SLACK_GONE.has(what)) return 'ALERT_DELIVERY_GONE';
    return SLACK_TRANSIENT.has(what) ? 'ALERT_DELIVERY_RETRY' : 'ALERT_DELIVERY_FAILED';
  }
  return (typeof x.statusCode === 'number' ? httpDeliveryCode(x.statusCode) : null) ?? 'ALERT_DELIVERY_RETRY';
}

function blocks(alert: AlertRecord) {
  const out: Array<{ type: string } & Record<string, unknown>> = [
    { type: 'section', text: { type: 'mrkdwn', text: clip(alertText(alert), MAX_SECTION) } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: alertWhen(alert) }] },
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

/** When it opened (and resolved), in each reader's own zone: `<!date^…>`. */
export function alertWhen(alert: AlertRecord): string {
  const when = (ms: number) => slackStamps(stamp(ms, true));
  return [
    `Opened ${when(alert.openedAt)}`,
    ...(alert.resolvedAt !== null ? [`resolved ${when(alert.resolvedAt)}`] : []),
  ].join(' · ');
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
