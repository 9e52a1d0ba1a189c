/**
 * Alerts as ntfy pushes (NTFY_URL, a topic URL; NTFY_TOKEN optional): published as JSON to the
 * server's root URL (https://docs.ntfy.sh/publish/#publish-as-json) with the title, a priority
 * from the severity (critical 5, warning 4, info 3, resolved 3), tags (the severity's emoji
 * tag, the host, the site) and, when WEB_PUBLIC_URL is set, a `view` action to the status
 * page. One push per alert opened and one per alert resolved; a notification channel.
 */
import type { AlertChannel, AlertRecord, AlertRef } from '../core/alerts.js';
import type { AlertSeverity } from '../core/live-state.js';
import { postForDelivery } from './http-delivery.js';
import { notificationText } from './notification-text.js';

/** The JSON a push is published as (the fields SiteFlow sets). */
export interface NtfyMessage {
  topic: string;
  title: string;
  message: string;
  priority: 1 | 2 | 3 | 4 | 5;
  tags: string[];
  click?: string;
  actions?: Array<{ action: 'view'; label: string; url: string; clear?: boolean }>;
}

const PRIORITY: Record<AlertSeverity, NtfyMessage['priority']> = { critical: 5, warning: 4, info: 3 };
const TAG: Record<AlertSeverity, string> = {
  critical: 'rotating_light',
  warning: 'warning',
  info: 'information_source',
};

/** Options of {@link NtfyAlertChannel}. */
export interface NtfyChannelOptions {
  /** Root URL of the ntfy server (JSON is published there). */
  root: string;
  topic: string;
  token: string;
  publicUrl: string | null;
  timeoutMs?: number;
}

/** The ntfy message of an alert. */
export function ntfyMessage(a: AlertRecord, topic: string, publicUrl: string | null): NtfyMessage {
  const resolved = a.status === 'resolved';
  const m: NtfyMessage = {
    topic,
    title: clip(resolved ? `Resolved: ${a.title}` : a.title, 250),
    message: notificationText(a),
    priority: resolved ? 3 : PRIORITY[a.severity],
    tags: [
      resolved ? 'white_check_mark' : TAG[a.severity],
      `host-${a.host}`,
      ...(a.site ? [`site-${a.site}`] : []),
    ],
  };
  if (publicUrl) {
    m.click = publicUrl;
    m.actions = [{ action: 'view', label: 'Status page', url: publicUrl }];
  }
  return m;
}

/** An AlertChannel that publishes to one ntfy topic. */
export class NtfyAlertChannel implements AlertChannel {
  readonly name = 'ntfy';
  readonly threaded = false;

  constructor(private readonly o: NtfyChannelOptions) {}

  async post(alert: AlertRecord): Promise<AlertRef> {
    await this.publish(alert);
    return { alertId: alert.id };
  }

  async reply(): Promise<void> {
    // No thread.
  }

  async update(_ref: AlertRef, alert: AlertRecord): Promise<void> {
    // A push for the opening and one for the resolution; edits in between are not worth a buzz.
    if (alert.status === 'resolved') await this.publish(alert);
  }

  private async publish(a: AlertRecord): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'SiteFlow' };
    if (this.o.token) headers.authorization = `Bearer ${this.o.token}`;
    const body = JSON.stringify(ntfyMessage(a, this.o.topic, this.o.publicUrl));
    await postForDelivery(this.name, this.o.root, body, headers, this.o.timeoutMs);
  }
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
