/**
 * What the Discord and Slack alert channels share: each public call runs the platform call and
 * turns its failure into a coded delivery error (the platform says which failures are worth
 * retrying), so the monitor's queue treats every chat platform alike.
 */
import type { AlertChannel, AlertRecord, AlertRef } from '../core/alerts.js';

/** An AlertChannel over one chat platform; subclasses write the platform calls. */
export abstract class ChatAlertChannel implements AlertChannel {
  constructor(
    readonly name: string,
    /** Runs one platform call, turning its failure into a coded delivery error. */
    private readonly coded: <T>(f: () => Promise<T>) => Promise<T>,
  ) {}

  post(alert: AlertRecord): Promise<AlertRef> {
    return this.coded(() => this.doPost(alert));
  }

  reply(ref: AlertRef, text: string): Promise<void> {
    return this.coded(() => this.doReply(ref, text));
  }

  update(ref: AlertRef, alert: AlertRecord): Promise<void> {
    return this.coded(() => this.doUpdate(ref, alert));
  }

  protected abstract doPost(alert: AlertRecord): Promise<AlertRef>;
  protected abstract doReply(ref: AlertRef, text: string): Promise<void>;
  protected abstract doUpdate(ref: AlertRef, alert: AlertRecord): Promise<void>;
}
