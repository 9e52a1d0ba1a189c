import { createHmac } from 'node:crypto';
import type { ResponseUrlRecord } from './slack-model.js';
import type { BlockActionInput, FakeSlack, SlashCommandInput } from './slack-server.js';

/** Ways to forge a delivery, to prove the receiver rejects it. */
export interface Forgery {
  /** Sign with a wrong secret. */
  badSignature?: boolean;
  /** Send no X-Slack-Signature header at all. */
  omitSignature?: boolean;
  /** Use this unix-seconds timestamp (e.g. `SlackSender.staleTimestamp()`). */
  timestamp?: number;
  /** Override the Content-Type (Slack sends exactly application/x-www-form-urlencoded). */
  contentType?: string;
}

/** What the receiver answered to one delivery. */
export interface SlackDelivery {
  at: number;
  status: number;
  /** Response body text (Bolt puts the ack payload here). */
  text: string;
  /** Parsed JSON body, if the response was JSON. */
  json?: unknown;
  /** Time from sending to the response. */
  elapsedMs: number;
  /** The response_url handed to the app, with the posts it received. */
  responseUrl?: ResponseUrlRecord;
  /** What was sent. */
  fields: Record<string, string>;
}

/**
 * Delivers signed Slack requests (slash commands, block actions) to an app's HTTP receiver, as
 * Slack does: form-encoded body, `X-Slack-Request-Timestamp`, and `X-Slack-Signature: v0=` +
 * HMAC-SHA256(signing secret, `v0:{ts}:{body}`).
 */
export class SlackSender {
  /** Every delivery made. */
  readonly deliveries: SlackDelivery[] = [];

  constructor(
    private readonly opts: {
      /** The receiver endpoint, e.g. `http://127.0.0.1:P/slack/events`. */
      url: string;
      signingSecret: string;
      fake: FakeSlack;
    },
  ) {}

  /** A timestamp older than Bolt's 5-minute window. */
  static staleTimestamp(): number {
    return Math.floor(Date.now() / 1000) - 6 * 60;
  }

  /** `v0=` signature of `body` at `timestamp` with `secret`. */
  static sign(secret: string, timestamp: number, body: string): string {
    return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  }

  /** Delivers a slash command. */
  async slashCommand(input: SlashCommandInput, forge: Forgery = {}): Promise<SlackDelivery> {
    const { fields, responseUrl } = this.opts.fake.slashCommandPayload(input);
    return this.deliver(fields, forge, responseUrl);
  }

  /** Delivers a block_actions payload (`payload=<JSON>`). */
  async blockAction(input: BlockActionInput, forge: Forgery = {}): Promise<SlackDelivery> {
    const { payload, responseUrl } = this.opts.fake.blockActionPayload(input);
    return this.deliver({ payload: JSON.stringify(payload) }, forge, responseUrl);
  }

  /** Delivers arbitrary form fields, signed (or forged). */
  async deliver(
    fields: Record<string, string>,
    forge: Forgery = {},
    responseUrl?: ResponseUrlRecord,
  ): Promise<SlackDelivery> {
    const body = new URLSearchParams(fields).toString();
    const timestamp = forge.timestamp ?? Math.floor(Date.now() / 1000);
    const secret = forge.badSignature ? `${this.opts.signingSecret}-forged` : this.opts.signingSecret;
    const headers: Record<string, string> = {
      'Content-Type': forge.contentType ?? 'application/x-www-form-urlencoded',
      'X-Slack-Request-Timestamp': String(timestamp),
      'User-Agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    };
    if (!forge.omitSignature) headers['X-Slack-Signature'] = SlackSender.sign(secret, timestamp, body);
    const at = Date.now();
    const res = await fetch(this.opts.url, { method: 'POST', headers, body });
    const text = await res.text();
    let json: unknown;
    if ((res.headers.get('content-type') ?? '').includes('application/json')) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    const delivery: SlackDelivery = {
      at,
      status: res.status,
      text,
      json,
      elapsedMs: Date.now() - at,
      responseUrl,
      fields,
    };
    this.deliveries.push(delivery);
    return delivery;
  }
}
