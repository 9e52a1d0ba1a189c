/**
 * Alerts as webhook POSTs (NOTIFY_WEBHOOK_URLS): one JSON body per event,
 * `{ event, id, severity, host, site, title, text, url, at }` with `event` one of
 * `alert.opened`, `alert.updated`, `alert.resolved` (and `notice` for announcements that are not
 * incidents). Headers: `X-SiteFlow-Event`, `X-SiteFlow-Delivery` (the queued delivery's id,
 * the same on every retry, so a receiver can drop duplicates) and, with NOTIFY_WEBHOOK_SECRET,
 * `X-SiteFlow-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. A notification channel:
 * no threads, so thread replies are not sent.
 */
import { createHmac } from 'node:crypto';
import type { AlertChannel, AlertRecord, AlertRef, DeliveryContext } from '../core/alerts.js';
import { postForDelivery } from './http-delivery.js';
import { notificationText } from './notification-text.js';

/** Event names of webhook posts. */
export type WebhookEvent = 'alert.opened' | 'alert.updated' | 'alert.resolved' | 'notice';

/** The JSON body of a webhook post. */
export interface WebhookBody {
  event: WebhookEvent;
  id: string;
  severity: string;
  host: string;
  site: string | null;
  title: string;
  text: string;
  url: string | null;
  /** ISO time of what happened (opened, last change, resolved). */
  at: string;
}

/** Options of {@link WebhookAlertChannel}. */
export interface WebhookChannelOptions {
  /** The target's name: the channel is `webhook:<name>`. */
  name: string;
  url: string;
  /** HMAC key of X-SiteFlow-Signature; empty: unsigned. */
  secret: string;
  /** Link sent as `url` (the status page), or null. */
  publicUrl: string | null;
  timeoutMs?: number;
}

/** The signature header value of a raw body. */
export function webhookSignature(secret: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** An AlertChannel that POSTs to one webhook. */
export class WebhookAlertChannel implements AlertChannel {
  readonly name: string;
  readonly threaded = false;

  constructor(private readonly o: WebhookChannelOptions) {
    this.name = `webhook:${o.name}`;
  }

  async post(alert: AlertRecord, ctx?: DeliveryContext): Promise<AlertRef> {
    await this.send(alert.status === 'resolved' ? 'alert.resolved' : 'alert.opened', alert, ctx);
    return { alertId: alert.id };
  }

  async reply(): Promise<void> {
    // No thread: replies are not webhook events.
  }

  async update(_ref: AlertRef, alert: AlertRecord, ctx?: DeliveryContext): Promise<void> {
    await this.send(alert.status === 'resolved' ? 'alert.resolved' : 'alert.updated', alert, ctx);
  }

  private async send(event: WebhookEvent, a: AlertRecord, ctx?: DeliveryContext): Promise<void> {
    const at =
      event === 'alert.resolved'
        ? (a.resolvedAt ?? a.updatedAt)
        : event === 'alert.opened'
          ? a.openedAt
          : a.updatedAt;
    const body: WebhookBody = {
      event,
      id: a.id,
      severity: a.severity,
      host: a.host,
      site: a.site,
      title: a.title,
      text: notificationText(a),
      url: this.o.publicUrl,
      at: new Date(at).toISOString(),
    };
    const raw = JSON.stringify(body);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'SiteFlow',
      'x-siteflow-event': event,
      'x-siteflow-delivery': ctx?.deliveryId ?? `dl_${a.id}_${event}`,
    };
    if (this.o.secret) headers['x-siteflow-signature'] = webhookSignature(this.o.secret, raw);
    await postForDelivery(this.name, this.o.url, raw, headers, this.o.timeoutMs);
  }
}
