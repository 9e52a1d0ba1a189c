/**
 * The notification channels the configuration asks for: one `webhook:<name>` per entry of
 * NOTIFY_WEBHOOK_URLS, `ntfy` with NTFY_URL, `email` with SMTP_URL, ALERT_EMAIL_FROM and
 * ALERT_EMAIL_TO. Chat channels (console, Discord, Slack) are attached by their surfaces.
 */
import type { Config } from '../config.js';
import type { AlertChannel } from '../core/alerts.js';
import { parseNtfyUrl, parseWebhookUrls } from '../core/notify-targets.js';
import { EmailAlertChannel } from './email-alert-channel.js';
import { NtfyAlertChannel } from './ntfy-alert-channel.js';
import { WebhookAlertChannel } from './webhook-alert-channel.js';

/** The configuration keys of the notification channels. */
export type NotifyConfig = Pick<
  Config,
  | 'NOTIFY_WEBHOOK_URLS'
  | 'NOTIFY_WEBHOOK_SECRET'
  | 'NTFY_URL'
  | 'NTFY_TOKEN'
  | 'SMTP_URL'
  | 'SMTP_PASSWORD'
  | 'ALERT_EMAIL_FROM'
  | 'ALERT_EMAIL_TO'
  | 'WEB_PUBLIC_URL'
>;

/** Names of the notification channels configured (without building them). */
export function notificationChannelNames(c: Partial<NotifyConfig>): string[] {
  const out: string[] = [];
  const hooks = parseWebhookUrls(c.NOTIFY_WEBHOOK_URLS ?? '');
  if (hooks.ok) for (const w of hooks.value) out.push(`webhook:${w.name}`);
  if (c.NTFY_URL && parseNtfyUrl(c.NTFY_URL)) out.push('ntfy');
  if (c.SMTP_URL && c.ALERT_EMAIL_FROM && c.ALERT_EMAIL_TO?.length) out.push('email');
  return out;
}

/** Builds the notification channels configured. */
export function notificationChannels(c: NotifyConfig): AlertChannel[] {
  const publicUrl = c.WEB_PUBLIC_URL || null;
  const out: AlertChannel[] = [];
  const hooks = parseWebhookUrls(c.NOTIFY_WEBHOOK_URLS);
  if (hooks.ok)
    for (const w of hooks.value)
      out.push(
        new WebhookAlertChannel({ name: w.name, url: w.url, secret: c.NOTIFY_WEBHOOK_SECRET, publicUrl }),
      );
  const ntfy = c.NTFY_URL ? parseNtfyUrl(c.NTFY_URL) : null;
  if (ntfy) out.push(new NtfyAlertChannel({ ...ntfy, token: c.NTFY_TOKEN, publicUrl }));
  if (c.SMTP_URL && c.ALERT_EMAIL_FROM && c.ALERT_EMAIL_TO.length)
    out.push(
      new EmailAlertChannel({
        url: c.SMTP_URL,
        password: c.SMTP_PASSWORD,
        from: c.ALERT_EMAIL_FROM,
        to: c.ALERT_EMAIL_TO,
        publicUrl,
      }),
    );
  return out;
}
