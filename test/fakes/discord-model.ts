/**
 * The in-memory world of the Discord fake: users, guild, channels, threads, messages with their
 * edit history, attachments with bytes, and interactions with their lifecycle. Also the JSON shapes
 * Discord's API v10 returns for them and the payload validation Discord applies (code 50035).
 */

/** Discord's epoch (2015-01-01) for snowflakes. */
const DISCORD_EPOCH = 1420070400000n;
let lastSnowflake = 0n;

/** A new, strictly increasing snowflake with the current time in it. */
export function snowflake(): string {
  let next = (BigInt(Date.now()) - DISCORD_EPOCH) << 22n;
  if (next <= lastSnowflake) next = lastSnowflake + 1n;
  lastSnowflake = next;
  return next.toString();
}

/** Channel types used here (discord-api-types ChannelType). */
export const ChannelKind = { GuildText: 0, PublicThread: 11, PrivateThread: 12 } as const;

/** Message flags (discord-api-types MessageFlags). */
export const MessageFlag = { HasThread: 1 << 5, Ephemeral: 1 << 6, Loading: 1 << 7 } as const;

/** Interaction callback types (discord-api-types InteractionResponseType). */
export const CallbackType = {
  Pong: 1,
  ChannelMessageWithSource: 4,
  DeferredChannelMessageWithSource: 5,
  DeferredMessageUpdate: 6,
  UpdateMessage: 7,
  ApplicationCommandAutocompleteResult: 8,
  Modal: 9,
} as const;

/** A Discord user as the fake knows it. */
export interface FakeUser {
  id: string;
  username: string;
  globalName?: string;
  bot?: boolean;
}

/** A guild role; `permissions` is a bitfield as a decimal string. */
export interface FakeRole {
  id: string;
  name: string;
  permissions: string;
  position: number;
}

/** A guild member: a user and the ids of their roles. */
export interface FakeMember {
  user: FakeUser;
  roles: string[];
}

/** A configured guild channel. */
export interface FakeChannelConfig {
  id: string;
  name: string;
  /** ChannelType; 0 (text) by default. */
  type?: number;
}

/** The one guild the fake serves. */
export interface FakeGuildConfig {
  id: string;
  name: string;
  channels: FakeChannelConfig[];
  /** Must include @everyone (id = guild id). */
  roles: FakeRole[];
  members: FakeMember[];
}

/** A stored attachment, with the bytes that were uploaded. */
export interface AttachmentModel {
  id: string;
  filename: string;
  contentType: string;
  size: number;
  bytes: Buffer;
  url: string;
  description?: string;
}

/** One version of a message (the first is what was posted, then each edit). */
export interface MessageVersion {
  at: number;
  content: string;
  embeds: unknown[];
  components: unknown[];
  attachmentIds: string[];
  flags: number;
}

/** A message as a person sees it, with its history. */
export interface MessageModel {
  id: string;
  channelId: string;
  guildId: string;
  author: FakeUser;
  content: string;
  embeds: unknown[];
  components: unknown[];
  attachments: AttachmentModel[];
  flags: number;
  /** MessageType: 0 default, 20 chat input command reply. */
  type: number;
  createdAt: number;
  editedAt: number | null;
  /** All versions, oldest first; versions[0] is what was first posted. */
  versions: MessageVersion[];
  deleted: boolean;
  ephemeral: boolean;
  webhookId?: string;
  interactionId?: string;
  /** Set when a thread was started from this message (thread id = message id). */
  threadId?: string;
}

/** A channel or thread with its messages. */
export interface ChannelModel {
  id: string;
  type: number;
  name: string;
  guildId: string;
  /** For threads: the channel they hang off. */
  parentId?: string;
  ownerId?: string;
  autoArchiveDuration?: number;
  createdAt: number;
  messages: MessageModel[];
}

/** One attempt to answer an interaction (`POST /interactions/{id}/{token}/callback`). */
export interface CallbackAttempt {
  at: number;
  type: number;
  status: number;
  /** Discord error code when rejected (10062, 40060, 50035). */
  code?: number;
  data?: unknown;
}

/** The lifecycle of one injected interaction, as Discord saw it. */
export class InteractionRecord {
  /** When the first accepted callback arrived. */
  ackedAt?: number;
  /** Callback type of the accepted acknowledgement (4, 5, 6, 7, 8, 9). */
  callbackType?: number;
  /** Every callback attempt, accepted or rejected. */
  readonly callbacks: CallbackAttempt[] = [];
  /** Id of the message that `@original` refers to (created by callback 4/5, or the component's message). */
  originalMessageId?: string;
  /** Versions of the original response as the user saw them (initial reply, then each editReply). */
  readonly replies: MessageVersion[] = [];
  /** Followup messages, in order. */
  readonly followups: MessageModel[] = [];
  /** Choices answered to an autocomplete interaction (callback 8). */
  autocompleteChoices?: unknown[];
  /** Modal sent in answer (callback 9). */
  modal?: unknown;
  /** Errors the interaction's routes answered (code and route). */
  readonly errors: { at: number; route: string; status: number; code: number }[] = [];

  constructor(
    readonly id: string,
    readonly token: string,
    readonly type: number,
    /** When it was dispatched (`age` moves it back). */
    public createdAt: number,
    readonly channelId: string,
    readonly user: FakeUser,
    /** The INTERACTION_CREATE payload as dispatched. */
    readonly payload: Record<string, unknown>,
  ) {}

  /** Pretends it was dispatched `ms` earlier (past a deadline without waiting for it). */
  age(ms: number): void {
    this.createdAt -= ms;
  }

  /** Milliseconds from dispatch to the accepted acknowledgement, if any. */
  get ackLatencyMs(): number | undefined {
    return this.ackedAt === undefined ? undefined : this.ackedAt - this.createdAt;
  }

  /** The latest content of the original response, if any. */
  get replyContent(): string | undefined {
    return this.replies.at(-1)?.content;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON shapes
// ---------------------------------------------------------------------------------------------

/** API user object. */
export function userJson(u: FakeUser): Record<string, unknown> {
  return {
    id: u.id,
    username: u.username,
    discriminator: '0',
    global_name: u.globalName ?? null,
    avatar: null,
    bot: u.bot ?? false,
    system: false,
    public_flags: 0,
    flags: 0,
  };
}

/** API role object. */
export function roleJson(r: FakeRole): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: r.position,
    permissions: r.permissions,
    managed: false,
    mentionable: false,
    flags: 0,
  };
}

/** API guild member object. */
export function memberJson(m: FakeMember, joinedAt: string): Record<string, unknown> {
  return {
    user: userJson(m.user),
    nick: null,
    avatar: null,
    roles: m.roles,
    joined_at: joinedAt,
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
  };
}

/** API channel object for a text channel or a thread. */
export function channelJson(c: ChannelModel): Record<string, unknown> {
  const base: Record<string, unknown> = {
    id: c.id,
    type: c.type,
    guild_id: c.guildId,
    name: c.name,
    nsfw: false,
    rate_limit_per_user: 0,
    last_message_id: c.messages.at(-1)?.id ?? null,
    flags: 0,
  };
  if (c.type === ChannelKind.PublicThread || c.type === ChannelKind.PrivateThread) {
    return {
      ...base,
      parent_id: c.parentId,
      owner_id: c.ownerId,
      message_count: c.messages.filter((m) => !m.deleted).length,
      member_count: 1,
      total_message_sent: c.messages.length,
      thread_metadata: {
        archived: false,
        auto_archive_duration: c.autoArchiveDuration ?? 1440,
        archive_timestamp: new Date(c.createdAt).toISOString(),
        locked: false,
        create_timestamp: new Date(c.createdAt).toISOString(),
      },
    };
  }
  return { ...base, position: 0, permission_overwrites: [], topic: null, parent_id: null };
}

/** API attachment object. */
export function attachmentJson(a: AttachmentModel): Record<string, unknown> {
  return {
    id: a.id,
    filename: a.filename,
    size: a.size,
    url: a.url,
    proxy_url: a.url,
    content_type: a.contentType,
    description: a.description,
  };
}

/** API message object. */
export function messageJson(m: MessageModel, thread?: ChannelModel, appId?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: m.id,
    channel_id: m.channelId,
    guild_id: m.guildId,
    author: userJson(m.author),
    content: m.content,
    timestamp: new Date(m.createdAt).toISOString(),
    edited_timestamp: m.editedAt === null ? null : new Date(m.editedAt).toISOString(),
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: m.attachments.map(attachmentJson),
    embeds: m.embeds,
    components: m.components,
    pinned: false,
    type: m.type,
    flags: m.flags,
  };
  if (m.webhookId) {
    out.webhook_id = m.webhookId;
    out.application_id = appId ?? m.webhookId;
  }
  if (thread) out.thread = channelJson(thread);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validation (Discord answers 400 with code 50035 "Invalid Form Body" and an errors tree)
// ---------------------------------------------------------------------------------------------

/** Limits Discord enforces on messages. */
export const MessageLimits = {
  content: 2000,
  embeds: 10,
  embedTotal: 6000,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footerText: 2048,
  authorName: 256,
} as const;

interface FieldError {
  code: string;
  message: string;
}

/** An errors tree in Discord's shape: nested objects, leaves `{ _errors: [...] }`. */
export type ErrorTree = { [key: string]: ErrorTree | FieldError[] };

function addError(tree: ErrorTree, path: (string | number)[], err: FieldError): void {
  let node = tree;
  for (const key of path) {
    const k = String(key);
    node[k] ??= {};
    node = node[k] as ErrorTree;
  }
  node._errors ??= [];
  (node._errors as FieldError[]).push(err);
}

function maxLen(limit: number): FieldError {
  return { code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${limit} or fewer in length.` };
}

function strLen(v: unknown): number {
  return typeof v === 'string' ? v.length : 0;
}

/**
 * Validates a message payload (create, edit, webhook, or interaction callback data).
 * Returns the errors tree, or undefined when valid. `prefix` is where the payload sits in the
 * request body (e.g. ['data'] for interaction callbacks).
 */
export function validateMessagePayload(
  payload: Record<string, unknown>,
  prefix: (string | number)[] = [],
): ErrorTree | undefined {
  const tree: ErrorTree = {};
  const content = payload.content;
  if (typeof content === 'string' && content.length > MessageLimits.content) {
    addError(tree, [...prefix, 'content'], maxLen(MessageLimits.content));
  }
  const embeds = payload.embeds;
  if (Array.isArray(embeds)) {
    if (embeds.length > MessageLimits.embeds) {
      addError(tree, [...prefix, 'embeds'], maxLen(MessageLimits.embeds));
    }
    let total = 0;
    embeds.forEach((raw, i) => {
      const e = (raw ?? {}) as Record<string, unknown>;
      const at = [...prefix, 'embeds', i];
      const title = strLen(e.title);
      const description = strLen(e.description);
      if (title > MessageLimits.embedTitle)
        addError(tree, [...at, 'title'], maxLen(MessageLimits.embedTitle));
      if (description > MessageLimits.embedDescription) {
        addError(tree, [...at, 'description'], maxLen(MessageLimits.embedDescription));
      }
      total += title + description;
      const fields = Array.isArray(e.fields) ? (e.fields as Record<string, unknown>[]) : [];
      if (fields.length > MessageLimits.embedFields) {
        addError(tree, [...at, 'fields'], maxLen(MessageLimits.embedFields));
      }
      fields.forEach((f, j) => {
        if (strLen(f.name) > MessageLimits.fieldName) {
          addError(tree, [...at, 'fields', j, 'name'], maxLen(MessageLimits.fieldName));
        }
        if (strLen(f.value) > MessageLimits.fieldValue) {
          addError(tree, [...at, 'fields', j, 'value'], maxLen(MessageLimits.fieldValue));
        }
        total += strLen(f.name) + strLen(f.value);
      });
      const footer = (e.footer ?? {}) as Record<string, unknown>;
      const author = (e.author ?? {}) as Record<string, unknown>;
      if (strLen(footer.text) > MessageLimits.footerText) {
        addError(tree, [...at, 'footer', 'text'], maxLen(MessageLimits.footerText));
      }
      if (strLen(author.name) > MessageLimits.authorName) {
        addError(tree, [...at, 'author', 'name'], maxLen(MessageLimits.authorName));
      }
      total += strLen(footer.text) + strLen(author.name);
    });
    if (total > MessageLimits.embedTotal) {
      addError(tree, [...prefix, 'embeds'], {
        code: 'MAX_EMBED_SIZE_EXCEEDED',
        message: `Embed size exceeds maximum size of ${MessageLimits.embedTotal}`,
      });
    }
  }
  return Object.keys(tree).length > 0 ? tree : undefined;
}

/** True when a create payload would produce an empty message (Discord code 50006). */
export function isEmptyMessage(payload: Record<string, unknown>, fileCount: number): boolean {
  const has = (k: string) => {
    const v = payload[k];
    return Array.isArray(v) ? v.length > 0 : typeof v === 'string' ? v.length > 0 : v != null;
  };
  return (
    fileCount === 0 &&
    !has('content') &&
    !has('embeds') &&
    !has('components') &&
    !has('sticker_ids') &&
    !has('poll')
  );
}
