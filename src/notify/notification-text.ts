/**
 * The text of one alert in a notification (webhook `text`, ntfy message, email body): where it
 * is, the detail lines and the crash context, plain text, bounded.
 */
import type { AlertRecord } from '../core/alerts.js';

const MAX = 3500;

/** Plain text of an alert for notification channels (no headline: that is the title). */
export function notificationText(a: AlertRecord): string {
  const where = a.site ? `${a.host}/${a.site}` : `host ${a.host}`;
  const state =
    a.status === 'resolved' ? 'Resolved' : `${a.severity[0]!.toUpperCase()}${a.severity.slice(1)}`;
  const lines = [`${state}: ${where} (${a.id})`, ...a.lines];
  if (a.context?.length) lines.push('', ...a.context);
  const text = lines.join('\n');
  return text.length <= MAX ? text : `${text.slice(0, MAX - 1)}…`;
}
