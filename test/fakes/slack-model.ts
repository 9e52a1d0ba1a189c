/**
 * The in-memory world of the Slack fake and the validation Slack applies to messages.
 */

/** A workspace user. */
export interface SlackUser {
  id: string;
  name: string;
  realName?: string;
  isAdmin?: boolean;
}

/** A channel the fake knows. */
export interface SlackChannelConfig {
  id: string;
  name: string;
  isPrivate?: boolean;
}

/** An uploaded file with its bytes. */
export interface SlackFile {
  id: string;
  filename: string;
  title?: string;
  /** Declared length from files.getUploadURLExternal. */
  length: number;
  bytes?: Buffer;
  uploadedAt?: number;
  completedAt?: number;
  channelId?: string;
  threadTs?: string;
}

/** One version of a message (first is what was posted, then each chat.update). */
export interface SlackMessageVersion {
  at: number;
  text: string;
  blocks: unknown[];
}

/** A message as a person sees it. */
export interface SlackMessage {
  ts: string;
  channel: string;
  /** Parent ts when this is a thread reply (or the parent itself once it has replies: equals ts). */
  threadTs?: string;
  user: string;
  botId?: string;
  text: string;
  blocks: unknown[];
  attachments: unknown[];
  files: SlackFile[];
  versions: SlackMessageVersion[];
  deleted: boolean;
  /** How it was posted: 'chat.postMessage', 'response_url', 'files.completeUploadExternal', 'user'. */
  via: string;
}

/** An ephemeral message (only `user` sees it). */
export interface SlackEphemeral {
  at: number;
  channel: string;
  user: string;
  text: string;
  blocks: unknown[];
  threadTs?: string;
  via: string;
  messageTs: string;
}

/** A channel with its messages. */
export interface SlackChannelModel extends SlackChannelConfig {
  messages: SlackMessage[];
}

/** One POST to a response_url. */
export interface ResponseUrlPost {
  at: number;
  status: number;
  body: Record<string, unknown>;
}

/** A response_url handed to the app, and what it posted to it. */
export interface ResponseUrlRecord {
  id: string;
  url: string;
  createdAt: number;
  channelId: string;
  userId: string;
  /** For block actions: the message the action came from. */
  messageTs?: string;
  posts: ResponseUrlPost[];
}

/** Limits used in validation. */
export const SlackLimits = {
  /** chat.postMessage text is truncated by Slack after 40k; longer gets msg_too_long. */
  text: 40_000,
  blocks: 50,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  headerText: 150,
  contextElements: 10,
} as const;

/** A validation failure: Slack's error string and response_metadata messages. */
export interface SlackValidationError {
  error: string;
  messages?: string[];
}

function textOf(v: unknown): string {
  return typeof (v as { text?: unknown } | undefined)?.text === 'string' ? (v as { text: string }).text : '';
}

/**
 * Validates text and blocks as chat.postMessage / chat.update do. `blocks` is the raw parameter
 * (JSON string when form-encoded, array when JSON). Returns the parsed blocks or the error.
 */
export function validateMessage(
  text: unknown,
  rawBlocks: unknown,
  textLimit: number = SlackLimits.text,
  sectionLimit: number = SlackLimits.sectionText,
): { blocks: unknown[] } | SlackValidationError {
  if (typeof text === 'string' && text.length > textLimit) return { error: 'msg_too_long' };
  let blocks: unknown[] = [];
  if (typeof rawBlocks === 'string' && rawBlocks.length > 0) {
    try {
      blocks = JSON.parse(rawBlocks);
    } catch {
      return { error: 'invalid_blocks_format' };
    }
  } else if (Array.isArray(rawBlocks)) {
    blocks = rawBlocks;
  }
  if (!Array.isArray(blocks)) return { error: 'invalid_blocks_format' };
  const messages: string[] = [];
  if (blocks.length > SlackLimits.blocks) {
    messages.push(`[ERROR] no more than ${SlackLimits.blocks} items allowed [json-pointer:/blocks]`);
  }
  blocks.forEach((raw, i) => {
    const b = (raw ?? {}) as Record<string, unknown>;
    const at = `/blocks/${i}`;
    if (typeof b.type !== 'string')
      messages.push(`[ERROR] missing required field: type [json-pointer:${at}]`);
    if (b.type === 'section') {
      const t = textOf(b.text);
      if (t.length > sectionLimit) {
        messages.push(
          `[ERROR] must be less than ${sectionLimit + 1} characters [json-pointer:${at}/text/text]`,
        );
      }
      const fields = Array.isArray(b.fields) ? b.fields : [];
      if (!b.text && fields.length === 0) {
        messages.push(`[ERROR] must provide either text or fields [json-pointer:${at}]`);
      }
      if (fields.length > SlackLimits.sectionFields) {
        messages.push(
          `[ERROR] no more than ${SlackLimits.sectionFields} items allowed [json-pointer:${at}/fields]`,
        );
      }
      fields.forEach((f, j) => {
        if (textOf(f).length > SlackLimits.sectionFieldText) {
          messages.push(
            `[ERROR] must be less than ${SlackLimits.sectionFieldText + 1} characters [json-pointer:${at}/fields/${j}/text]`,
          );
        }
      });
    }
    if (b.type === 'header' && textOf(b.text).length > SlackLimits.headerText) {
      messages.push(
        `[ERROR] must be less than ${SlackLimits.headerText + 1} characters [json-pointer:${at}/text/text]`,
      );
    }
    if (
      b.type === 'context' &&
      Array.isArray(b.elements) &&
      b.elements.length > SlackLimits.contextElements
    ) {
      messages.push(
        `[ERROR] no more than ${SlackLimits.contextElements} items allowed [json-pointer:${at}/elements]`,
      );
    }
  });
  if (messages.length > 0) return { error: 'invalid_blocks', messages };
  return { blocks };
}

/** A token bucket: `capacity` requests at once, refilled at `refillPerSec`. */
export interface SlackRateLimit {
  capacity: number;
  refillPerSec: number;
  /** Separate bucket per channel (chat.postMessage). */
  perChannel?: boolean;
}

/** Default limits: chat.postMessage ~1/s per channel with a short burst; Tier 3 ~50/min; Tier 4 ~100/min. */
export const defaultSlackRateLimits: Record<string, SlackRateLimit> = {
  'chat.postMessage': { capacity: 3, refillPerSec: 1, perChannel: true },
  'chat.update': { capacity: 50, refillPerSec: 50 / 60 },
  'chat.postEphemeral': { capacity: 100, refillPerSec: 100 / 60 },
  'files.getUploadURLExternal': { capacity: 100, refillPerSec: 100 / 60 },
  'files.completeUploadExternal': { capacity: 100, refillPerSec: 100 / 60 },
  'conversations.info': { capacity: 50, refillPerSec: 50 / 60 },
  'users.info': { capacity: 100, refillPerSec: 100 / 60 },
  'auth.test': { capacity: 100, refillPerSec: 100 / 60 },
  'apps.connections.open': { capacity: 100, refillPerSec: 100 / 60 },
};

/** Token buckets keyed by method (and channel when per-channel). */
export class SlackRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly limits: Record<string, SlackRateLimit>) {}

  /** Takes a token; returns undefined when allowed, or the seconds to wait (Retry-After). */
  take(method: string, channel: string | undefined, now = Date.now()): number | undefined {
    const cfg = this.limits[method];
    if (!cfg) return undefined;
    const key = cfg.perChannel ? `${method}:${channel ?? ''}` : method;
    const b = this.buckets.get(key) ?? { tokens: cfg.capacity, at: now };
    b.tokens = Math.min(cfg.capacity, b.tokens + ((now - b.at) / 1000) * cfg.refillPerSec);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / cfg.refillPerSec));
  }
}
