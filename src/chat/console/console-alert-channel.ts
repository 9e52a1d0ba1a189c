/**
 * Alerts on the console surface: each alert is one notice with its buttons shown as the
 * commands they run; replies are indented under the alert's id; an edit prints the new
 * headline only when it changed (a terminal cannot edit what it printed).
 */
import {
  type AlertChannel,
  type AlertRecord,
  type AlertRef,
  alertButtons,
  alertHeadline,
  alertText,
} from '../../core/alerts.js';

/** Where console alerts are printed (ConsoleSurface.notice). */
export interface NoticeSink {
  notice(text: string): void;
}

/** An AlertChannel that prints to the console surface. */
export class ConsoleAlertChannel implements AlertChannel {
  readonly name = 'console';
  private readonly shown = new Map<string, string>();

  constructor(private readonly sink: NoticeSink) {}

  async post(alert: AlertRecord): Promise<AlertRef> {
    const buttons = alertButtons(alert)
      .map((b) => `[${b.label}: /${b.command} ${Object.values(b.args).join(' ')}]`)
      .join(' ');
    this.sink.notice(`ALERT ${alertText(alert)}${buttons ? `\n${buttons}` : ''}`);
    this.shown.set(alert.id, alertHeadline(alert));
    return { alertId: alert.id };
  }

  async reply(ref: AlertRef, text: string): Promise<void> {
    this.sink.notice(`  ↳ ${ref.alertId}: ${text.split('\n').join(`\n  ↳ ${ref.alertId}: `)}`);
  }

  async update(ref: AlertRef, alert: AlertRecord): Promise<void> {
    const head = alertHeadline(alert);
    if (this.shown.get(ref.alertId ?? '') === head) return;
    this.shown.set(ref.alertId ?? '', head);
    this.sink.notice(`  ✎ ${ref.alertId}: ${head}`);
  }
}
