/**
 * Alerts as email (SMTP_URL, SMTP_PASSWORD, ALERT_EMAIL_FROM, ALERT_EMAIL_TO) through nodemailer:
 * one plain-text mail per alert opened and one per alert resolved; the resolution answers the
 * opening (In-Reply-To), so mail clients thread them. Failures are coded: an SMTP 5xx answer or
 * refused credentials can never succeed (given up and audited); a 4xx answer, a timeout or the
 * network are retried. A notification channel.
 */
import { createTransport, type Transporter } from 'nodemailer';
import {
  type AlertChannel,
  type AlertRecord,
  type AlertRef,
  alertHeadline,
  type DeliveryContext,
  type DeliveryErrorCode,
  deliveryError,
} from '../core/alerts.js';
import { describeError } from '../core/errors.js';
import { notificationText } from './notification-text.js';

/** Options of {@link EmailAlertChannel}. */
export interface EmailChannelOptions {
  /** smtp:// or smtps:// URL (credentials may be in it). */
  url: string;
  /** Password when it is not in the URL ('' for none). */
  password: string;
  from: string;
  to: readonly string[];
  publicUrl: string | null;
  timeoutMs?: number;
}

/** nodemailer error codes that retrying cannot fix (the configuration must change). */
const PERMANENT = new Set(['EAUTH', 'ENOAUTH', 'ECONFIG', 'EENVELOPE']);

/** An AlertChannel that mails alerts. */
export class EmailAlertChannel implements AlertChannel {
  readonly name = 'email';
  readonly threaded = false;
  private readonly transport: Transporter;

  constructor(private readonly o: EmailChannelOptions) {
    const u = new URL(o.url);
    const timeout = o.timeoutMs ?? 20_000;
    this.transport = createTransport({
      host: u.hostname,
      port: u.port ? Number(u.port) : u.protocol === 'smtps:' ? 465 : 587,
      secure: u.protocol === 'smtps:',
      ...(u.username
        ? {
            auth: {
              user: decodeURIComponent(u.username),
              pass: u.password ? decodeURIComponent(u.password) : o.password,
            },
          }
        : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      // smtp://: STARTTLS whenever the server offers it (nodemailer's default), plain otherwise.
    });
  }

  async post(alert: AlertRecord, ctx?: DeliveryContext): Promise<AlertRef> {
    await this.mail(alert, ctx);
    return { alertId: alert.id };
  }

  async reply(): Promise<void> {
    // No thread.
  }

  async update(_ref: AlertRef, alert: AlertRecord, ctx?: DeliveryContext): Promise<void> {
    // One mail when it opened and one when it resolved.
    if (alert.status === 'resolved') await this.mail(alert, ctx);
  }

  private async mail(a: AlertRecord, ctx?: DeliveryContext): Promise<void> {
    const resolved = a.status === 'resolved';
    const opening = `<${a.id}@siteflow>`;
    const body = [notificationText(a), ...(this.o.publicUrl ? ['', `Status page: ${this.o.publicUrl}`] : [])];
    try {
      await this.transport.sendMail({
        from: this.o.from,
        to: [...this.o.to],
        subject: `[SiteFlow] ${stripIcon(alertHeadline(a))}`,
        text: `${body.join('\n')}\n`,
        // Stable across retries of the same delivery; the resolution threads under the opening.
        messageId: resolved ? `<${ctx?.deliveryId ?? `${a.id}.resolved`}@siteflow>` : opening,
        ...(resolved ? { inReplyTo: opening, references: [opening] } : {}),
      });
    } catch (e) {
      throw deliveryError(emailDeliveryCode(e), `email: ${describeError(e)}`, e);
    }
  }
}

function emailDeliveryCode(e: unknown): DeliveryErrorCode {
  const x = (typeof e === 'object' && e !== null ? e : {}) as { responseCode?: unknown; code?: unknown };
  if (typeof x.responseCode === 'number')
    return x.responseCode >= 500 ? 'ALERT_DELIVERY_FAILED' : 'ALERT_DELIVERY_RETRY';
  return typeof x.code === 'string' && PERMANENT.has(x.code)
    ? 'ALERT_DELIVERY_FAILED'
    : 'ALERT_DELIVERY_RETRY';
}

/** Subjects read better without the chat icon. */
function stripIcon(s: string): string {
  return s.replace(/^(🔴|🟠|ℹ️|✅)\s*/u, '');
}
