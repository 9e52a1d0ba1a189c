import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import { waitFor } from '../env/harness.js';
import { DiscordGateway } from './discord-gateway.js';
import {
  type AttachmentModel,
  ChannelKind,
  type ChannelModel,
  channelJson,
  type FakeGuildConfig,
  type FakeMember,
  type FakeUser,
  InteractionRecord,
  MessageFlag,
  type MessageModel,
  type MessageVersion,
  memberJson,
  messageJson,
  roleJson,
  snowflake,
  userJson,
} from './discord-model.js';
import { DiscordRest, type DiscordRestLimits } from './discord-rest.js';
import { closeServer, listenLoopback, type RouteMatcher, sendJson, type UploadedPart } from './fake-http.js';

export type {
  AttachmentModel,
  ChannelModel,
  FakeGuildConfig,
  FakeMember,
  FakeUser,
  InteractionRecord,
  MessageModel,
  MessageVersion,
};

/** Options of the Discord fake; every field has a test-friendly default. */
export interface FakeDiscordOptions {
  /** Bot token the fake accepts (`Authorization: Bot <token>`, IDENTIFY). */
  token?: string;
  applicationId?: string;
  botUsername?: string;
  /** The guild the bot is in; defaults to `defaultGuild()`. */
  guild?: FakeGuildConfig;
  /** Gateway heartbeat interval sent in HELLO (default 500 ms). */
  heartbeatIntervalMs?: number;
  /** Interaction acknowledgement deadline (default 3000 ms). */
  ackDeadlineMs?: number;
  /** Interaction token lifetime (default 15 minutes). */
  tokenLifetimeMs?: number;
  /** Maximum bytes per attachment (default 10 MiB). */
  attachmentSizeLimit?: number;
  rateLimits?: DiscordRestLimits;
}

/** Well-known ids of the default world, for tests. */
export const DiscordIds = {
  application: '1200000000000000001',
  guild: '1300000000000000001',
  general: '1300000000000000101',
  ops: '1300000000000000102',
  roleAdmin: '1300000000000000201',
  roleOperator: '1300000000000000202',
  roleBot: '1300000000000000209',
  alice: '1400000000000000001',
  bob: '1400000000000000002',
  carol: '1400000000000000003',
} as const;

const P = (bit: number) => 1n << BigInt(bit);
/** VIEW_CHANNEL, SEND_MESSAGES, READ_MESSAGE_HISTORY, USE_APPLICATION_COMMANDS, threads, embeds, files. */
const EVERYONE_PERMS = [10, 11, 14, 15, 16, 31, 35, 38].reduce((acc, b) => acc | P(b), 0n).toString();

/** The default guild: #general and #ops, roles Admin/Operator, users alice (admin), bob (operator), carol. */
export function defaultGuild(botUser: FakeUser): FakeGuildConfig {
  const id = DiscordIds.guild;
  return {
    id,
    name: 'SiteFlow Test',
    channels: [
      { id: DiscordIds.general, name: 'general' },
      { id: DiscordIds.ops, name: 'ops' },
    ],
    roles: [
      { id, name: '@everyone', permissions: EVERYONE_PERMS, position: 0 },
      { id: DiscordIds.roleOperator, name: 'Operator', permissions: EVERYONE_PERMS, position: 1 },
      { id: DiscordIds.roleAdmin, name: 'Admin', permissions: '8', position: 2 },
      { id: DiscordIds.roleBot, name: 'SiteFlow', permissions: '8', position: 3 },
    ],
    members: [
      { user: { id: DiscordIds.alice, username: 'alice' }, roles: [DiscordIds.roleAdmin] },
      { user: { id: DiscordIds.bob, username: 'bob' }, roles: [DiscordIds.roleOperator] },
      { user: { id: DiscordIds.carol, username: 'carol' }, roles: [] },
      { user: botUser, roles: [DiscordIds.roleBot] },
    ],
  };
}

/** A slash command to inject. */
export interface SlashCommandInput {
  name: string;
  /** Option values by name (string -> 3, integer -> 4, boolean -> 5, other number -> 10), or raw options. */
  options?: Record<string, string | number | boolean> | Record<string, unknown>[];
  /** Wraps the options in a subcommand of this name. */
  subcommand?: string;
  /** A member's user id or user; default alice. */
  user?: string | FakeUser;
  /** Role ids or names; default the member's configured roles. */
  roles?: string[];
  /** Channel (or thread) id; default #general. */
  channelId?: string;
  /** The guild it comes from: default the fake's guild; another id for a foreign server; null for a DM. */
  guildId?: string | null;
}

/** A button click to inject. */
export interface ButtonClickInput {
  customId: string;
  /** The message carrying the button: its id or model. */
  message: string | MessageModel;
  user?: string | FakeUser;
  roles?: string[];
  /** As in SlashCommandInput. */
  guildId?: string | null;
}

/** An autocomplete request to inject. */
export interface AutocompleteInput extends SlashCommandInput {
  /** Name of the focused option (its value is what the user typed so far). */
  focused: string;
}

interface NewMessage {
  payload: Record<string, unknown>;
  files: UploadedPart[];
  type: number;
  author?: FakeUser;
  webhookId?: string;
  interactionId?: string;
  ephemeral?: boolean;
  loading?: boolean;
}

/**
 * A protocol-faithful Discord for tests: REST under `/api/v10` and the gateway on one loopback
 * port. Works with the real discord.js 14 client:
 * `new Client({ intents, rest: { api: fake.apiUrl, version: '10' } })` then `login(fake.token)`.
 */
export class FakeDiscord {
  readonly token: string;
  readonly applicationId: string;
  readonly botUser: FakeUser;
  readonly guild: FakeGuildConfig;
  readonly options: { ackDeadlineMs: number; tokenLifetimeMs: number; attachmentSizeLimit: number };
  /** Channels and threads by id. */
  readonly channels = new Map<string, ChannelModel>();
  /** Injected interactions by id. */
  readonly interactions = new Map<string, InteractionRecord>();
  /** Registered application commands (last PUT wins). */
  readonly commands: { global: Record<string, unknown>[]; guild: Record<string, unknown>[] } = {
    global: [],
    guild: [],
  };
  readonly gateway: DiscordGateway;
  readonly rest: DiscordRest;
  readonly joinedAt = new Date().toISOString();
  private readonly events = new EventEmitter();
  private readonly attachments = new Map<string, AttachmentModel>();
  private readonly commandIds = new Map<string, string>();
  private server?: Server;
  private port = 0;

  constructor(opts: FakeDiscordOptions = {}) {
    this.token = opts.token ?? 'fake-discord-bot-token';
    this.applicationId = opts.applicationId ?? DiscordIds.application;
    this.botUser = { id: this.applicationId, username: opts.botUsername ?? 'SiteFlow', bot: true };
    this.guild = opts.guild ?? defaultGuild(this.botUser);
    if (!this.guild.members.some((m) => m.user.id === this.botUser.id)) {
      this.guild.members.push({ user: this.botUser, roles: [] });
    }
    this.options = {
      ackDeadlineMs: opts.ackDeadlineMs ?? 3000,
      tokenLifetimeMs: opts.tokenLifetimeMs ?? 15 * 60_000,
      attachmentSizeLimit: opts.attachmentSizeLimit ?? 10 * 1024 * 1024,
    };
    for (const c of this.guild.channels) {
      this.channels.set(c.id, {
        id: c.id,
        type: c.type ?? ChannelKind.GuildText,
        name: c.name,
        guildId: this.guild.id,
        createdAt: Date.now(),
        messages: [],
      });
    }
    this.gateway = new DiscordGateway({
      token: this.token,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 500,
      resumeUrl: () => this.resumeGatewayUrl,
      readyData: (sessionId) => this.readyPayload(sessionId),
      guildCreates: () => [this.guildCreatePayload()],
    });
    this.rest = new DiscordRest(this, opts.rateLimits);
  }

  /** `http://127.0.0.1:P/api`, for `rest.api`. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  /** Base URL of the fake. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The gateway URL `GET /gateway/bot` returns. */
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}/gateway`;
  }

  /** The resume_gateway_url sent in READY. */
  get resumeGatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}/gateway-resume`;
  }

  /** Every REST request so far. */
  get requests() {
    return this.rest.requests;
  }

  /** Starts the HTTP server and gateway on 127.0.0.1, port 0. */
  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/api/v10/')) {
        this.rest.handle(req, res, url.slice('/api/v10'.length)).catch((e: Error) => {
          if (!res.headersSent) sendJson(res, 500, { message: e.message, code: 0 });
        });
        return;
      }
      if (url.startsWith('/attachments/')) {
        const id = url.split('/')[3] ?? '';
        const a = this.attachments.get(id);
        if (!a) {
          sendJson(res, 404, { message: '404: Not Found', code: 0 });
          return;
        }
        res.writeHead(200, { 'Content-Type': a.contentType, 'Content-Length': String(a.size) });
        res.end(a.bytes);
        return;
      }
      sendJson(res, 404, { message: '404: Not Found', code: 0 });
    });
    server.on('upgrade', (req, socket, head) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/gateway' || path === '/gateway-resume') this.gateway.handleUpgrade(req, socket, head);
      else socket.destroy();
    });
    this.port = await listenLoopback(server);
    this.server = server;
    return this;
  }

  /** Stops the server and closes gateway connections. */
  async stop(): Promise<void> {
    await this.gateway.close();
    if (this.server) await closeServer(this.server);
    this.server = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Faults
  // -------------------------------------------------------------------------------------------

  /** The next `count` requests matching `route` get 429 with `Retry-After: retryAfterSec`. */
  inject429(route: RouteMatcher, count = 1, retryAfterSec = 1, global = false): void {
    this.rest.inject429(route, count, retryAfterSec, global);
  }

  /** The next `count` requests matching `route` get an HTTP error `status`. */
  injectError(route: RouteMatcher, count = 1, status = 500): void {
    this.rest.injectError(route, count, status);
  }

  /** The next `count` heartbeats are not acknowledged. */
  dropHeartbeatAcks(count = 1): void {
    this.gateway.dropHeartbeatAcks(count);
  }

  /** Sends op 7 Reconnect. */
  requestReconnect(): void {
    this.gateway.requestReconnect();
  }

  // -------------------------------------------------------------------------------------------
  // Waiting
  // -------------------------------------------------------------------------------------------

  /** Resolves once a client has identified and is connected. */
  waitForReady(timeoutMs = 10_000): Promise<true> {
    return this.waitFor(
      () => this.gateway.stats.identifies > 0 && this.gateway.connected,
      timeoutMs,
      'IDENTIFY',
    );
  }

  /** Polls `predicate` until truthy (its value is returned) or throws after `timeoutMs`. */
  waitFor<T>(
    predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
    timeoutMs = 5000,
    what?: string,
  ): Promise<T> {
    return waitFor(what ?? 'condition', predicate, timeoutMs, { intervalMs: 10 });
  }

  /** Called after every request; `on('request')` listeners run. */
  notify(): void {
    this.events.emit('request');
  }

  /** Subscribes to request notifications. */
  onRequest(listener: () => void): () => void {
    this.events.on('request', listener);
    return () => this.events.off('request', listener);
  }

  // -------------------------------------------------------------------------------------------
  // What a person sees
  // -------------------------------------------------------------------------------------------

  /** Messages in a channel or thread, oldest first (deleted ones excluded; ephemeral ones optional). */
  messagesIn(channelOrThreadId: string, opts: { includeEphemeral?: boolean } = {}): MessageModel[] {
    const c = this.channels.get(channelOrThreadId);
    if (!c) return [];
    return c.messages.filter((m) => !m.deleted && (opts.includeEphemeral || !m.ephemeral));
  }

  /** Threads started in a channel, oldest first. */
  threadsOf(channelId: string): ChannelModel[] {
    return [...this.channels.values()].filter((c) => c.parentId === channelId);
  }

  /** A message anywhere, with its channel. */
  findMessage(id: string): { message: MessageModel; channel: ChannelModel } | undefined {
    for (const channel of this.channels.values()) {
      const message = channel.messages.find((m) => m.id === id);
      if (message) return { message, channel };
    }
    return undefined;
  }

  /** A channel by name (threads included). */
  channelByName(name: string): ChannelModel | undefined {
    return [...this.channels.values()].find((c) => c.name === name);
  }

  /** The interaction whose token this is. */
  interactionByToken(token: string): InteractionRecord | undefined {
    for (const rec of this.interactions.values()) if (rec.token === token) return rec;
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Injecting user actions
  // -------------------------------------------------------------------------------------------

  /** Dispatches a slash command (INTERACTION_CREATE type 2) and returns its lifecycle record. */
  slashCommand(input: SlashCommandInput): InteractionRecord {
    const options = buildOptions(input.options, input.subcommand);
    return this.injectInteraction(2, input.user, input.roles, input.channelId, input.guildId, {
      data: {
        id: this.commandIdFor(input.name),
        name: input.name,
        type: 1,
        options,
        ...(this.commands.guild.some((c) => c.name === input.name) ? { guild_id: this.guild.id } : {}),
      },
    });
  }

  /** Dispatches an autocomplete request (type 4); answer is callback type 8. */
  autocomplete(input: AutocompleteInput): InteractionRecord {
    const options = buildOptions(input.options, input.subcommand);
    const mark = (opts: Record<string, unknown>[]) => {
      for (const o of opts) {
        if (o.name === input.focused && o.type !== 1) o.focused = true;
        if (Array.isArray(o.options)) mark(o.options as Record<string, unknown>[]);
      }
    };
    mark(options);
    return this.injectInteraction(4, input.user, input.roles, input.channelId, input.guildId, {
      data: { id: this.commandIdFor(input.name), name: input.name, type: 1, options },
    });
  }

  /** Dispatches a button click (type 3, component_type 2) on a message. */
  buttonClick(input: ButtonClickInput): InteractionRecord {
    const id = typeof input.message === 'string' ? input.message : input.message.id;
    const found = this.findMessage(id);
    if (!found) throw new Error(`buttonClick: unknown message ${id}`);
    return this.injectInteraction(3, input.user, input.roles, found.channel.id, input.guildId, {
      data: { custom_id: input.customId, component_type: 2 },
      message: this.messageJson(found.message),
    });
  }

  private injectInteraction(
    type: number,
    userInput: string | FakeUser | undefined,
    rolesInput: string[] | undefined,
    channelId: string | undefined,
    guildInput: string | null | undefined,
    extra: Record<string, unknown>,
  ): InteractionRecord {
    const member = this.resolveMember(userInput);
    const roles = (rolesInput ?? member.roles).map(
      (r) => this.guild.roles.find((x) => x.name === r)?.id ?? r,
    );
    const channel = this.channels.get(channelId ?? this.guild.channels[0]?.id ?? '');
    if (!channel) throw new Error(`unknown channel ${channelId}`);
    const perms = [this.guild.id, ...roles]
      .map((r) => BigInt(this.guild.roles.find((x) => x.id === r)?.permissions ?? '0'))
      .reduce((a, b) => a | b, 0n);
    const id = snowflake();
    const token = `aW50ZXJhY3Rpb246${id}:${randomBytes(24).toString('base64url')}`;
    const payload: Record<string, unknown> = {
      id,
      application_id: this.applicationId,
      type,
      token,
      version: 1,
      guild_id: this.guild.id,
      guild: { id: this.guild.id, locale: 'en-US', features: [] },
      channel_id: channel.id,
      channel: channelJson(channel),
      member: {
        ...memberJson({ user: member.user, roles }, this.joinedAt),
        permissions: ((perms & 8n) !== 0n ? (1n << 53n) - 1n : perms).toString(),
      },
      app_permissions: ((1n << 53n) - 1n).toString(),
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': this.guild.id },
      context: 0,
      attachment_size_limit: this.options.attachmentSizeLimit,
      ...extra,
    };
    if (guildInput === null) {
      // A DM: no guild, no member, the user at the top level (context 1 = BOT_DM).
      for (const k of ['guild_id', 'guild', 'member']) delete payload[k];
      payload.user = userJson(member.user);
      payload.context = 1;
      payload.authorizing_integration_owners = { '1': member.user.id };
      payload.channel = { id: channel.id, type: 1 };
    } else if (guildInput !== undefined && guildInput !== this.guild.id) {
      // Another server the bot was added to (its channel is not one the fake models).
      payload.guild_id = guildInput;
      payload.guild = { id: guildInput, locale: 'en-US', features: [] };
      payload.authorizing_integration_owners = { '0': guildInput };
      payload.channel = { ...channelJson(channel), guild_id: guildInput };
    }
    const rec = new InteractionRecord(id, token, type, Date.now(), channel.id, member.user, payload);
    this.interactions.set(id, rec);
    this.gateway.dispatch('INTERACTION_CREATE', payload);
    return rec;
  }

  private resolveMember(user: string | FakeUser | undefined): FakeMember {
    const id = typeof user === 'string' ? user : (user?.id ?? this.guild.members[0]?.user.id);
    const found = this.guild.members.find((m) => m.user.id === id || m.user.username === id);
    if (found) return found;
    if (typeof user === 'object') return { user, roles: [] };
    throw new Error(`unknown member ${id}`);
  }

  // -------------------------------------------------------------------------------------------
  // World operations used by the REST routes
  // -------------------------------------------------------------------------------------------

  /** Stable id for a command name (the one registered by PUT, or a new one). */
  commandIdFor(name: string, guildId?: string): string {
    const key = `${guildId ?? ''}:${name}`;
    let id = this.commandIds.get(key) ?? this.commandIds.get(`${this.guild.id}:${name}`);
    if (!id) {
      id = snowflake();
      this.commandIds.set(key, id);
    }
    return id;
  }

  /** Creates a message (and its attachments) in a channel or thread. */
  createMessage(channelId: string, init: NewMessage): MessageModel {
    const channel = this.channels.get(channelId);
    if (!channel) throw new Error(`unknown channel ${channelId}`);
    const now = Date.now();
    const p = init.payload;
    const message: MessageModel = {
      id: snowflake(),
      channelId,
      guildId: this.guild.id,
      author: init.author ?? this.botUser,
      content: typeof p.content === 'string' ? p.content : '',
      embeds: Array.isArray(p.embeds) ? p.embeds : [],
      components: Array.isArray(p.components) ? p.components : [],
      attachments: [],
      flags:
        (init.ephemeral ? MessageFlag.Ephemeral : 0) |
        (init.loading ? MessageFlag.Loading : 0) |
        (Number(p.flags ?? 0) & ~(MessageFlag.Ephemeral | MessageFlag.Loading)),
      type: init.type,
      createdAt: now,
      editedAt: null,
      versions: [],
      deleted: false,
      ephemeral: !!init.ephemeral,
      webhookId: init.webhookId,
      interactionId: init.interactionId,
    };
    message.attachments = this.storeAttachments(channelId, init.files, p.attachments, []);
    message.versions.push(versionOf(message, now));
    channel.messages.push(message);
    if (!message.ephemeral) this.gateway.dispatch('MESSAGE_CREATE', this.messageJson(message), 1 << 9);
    return message;
  }

  /** Applies an edit (content, embeds, components, attachments) and records the new version. */
  editMessage(message: MessageModel, p: Record<string, unknown>, files: UploadedPart[]): void {
    const now = Date.now();
    if (typeof p.content === 'string' || p.content === null)
      message.content = (p.content as string | null) ?? '';
    if (Array.isArray(p.embeds) || p.embeds === null) message.embeds = (p.embeds as unknown[] | null) ?? [];
    if (Array.isArray(p.components) || p.components === null) {
      message.components = (p.components as unknown[] | null) ?? [];
    }
    message.attachments = this.storeAttachments(message.channelId, files, p.attachments, message.attachments);
    message.flags &= ~MessageFlag.Loading;
    message.editedAt = now;
    message.versions.push(versionOf(message, now));
    if (!message.ephemeral) this.gateway.dispatch('MESSAGE_UPDATE', this.messageJson(message), 1 << 9);
  }

  /** Creates a thread channel under `parent`, with the given id (a message id for message threads). */
  createThread(
    parent: ChannelModel,
    id: string,
    name: string,
    type: number,
    autoArchive: unknown,
  ): ChannelModel {
    const thread: ChannelModel = {
      id,
      type,
      name,
      guildId: parent.guildId,
      parentId: parent.id,
      ownerId: this.botUser.id,
      autoArchiveDuration: Number(autoArchive ?? 1440),
      createdAt: Date.now(),
      messages: [],
    };
    this.channels.set(id, thread);
    this.gateway.dispatch('THREAD_CREATE', { ...channelJson(thread), newly_created: true }, 1 << 0);
    return thread;
  }

  /** The API JSON of a message, with its thread if it has one. */
  messageJson(m: MessageModel): Record<string, unknown> {
    return messageJson(m, m.threadId ? this.channels.get(m.threadId) : undefined, this.applicationId);
  }

  /** The bytes of an attachment, by id. */
  attachment(id: string): AttachmentModel | undefined {
    return this.attachments.get(id);
  }

  /**
   * Resolves a message's attachments after a create or edit: `meta` (the payload's
   * `attachments`) keeps existing ones by id and describes new ones by upload index.
   */
  private storeAttachments(
    channelId: string,
    files: UploadedPart[],
    meta: unknown,
    existing: AttachmentModel[],
  ): AttachmentModel[] {
    const list = Array.isArray(meta)
      ? (meta as { id: string | number; description?: string; filename?: string }[])
      : undefined;
    const kept = list ? existing.filter((a) => list.some((m) => String(m.id) === a.id)) : existing;
    const added = files.map((part, i) => {
      const index = /\[(\d+)\]/.exec(part.field)?.[1] ?? String(i);
      const m = list?.find((x) => String(x.id) === index);
      const id = snowflake();
      const filename = m?.filename ?? part.filename;
      const a: AttachmentModel = {
        id,
        filename,
        contentType: part.contentType,
        size: part.bytes.length,
        bytes: part.bytes,
        url: `${this.baseUrl}/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`,
        description: m?.description,
      };
      this.attachments.set(id, a);
      return a;
    });
    return [...kept, ...added];
  }

  /** READY payload. */
  private readyPayload(sessionId: string): Record<string, unknown> {
    return {
      v: 10,
      user: { ...userJson(this.botUser), verified: true, mfa_enabled: false, email: null },
      guilds: [{ id: this.guild.id, unavailable: true }],
      session_id: sessionId,
      resume_gateway_url: this.resumeGatewayUrl,
      shard: [0, 1],
      application: { id: this.applicationId, flags: 0 },
      private_channels: [],
      relationships: [],
      presences: [],
      guild_join_requests: [],
      user_settings: {},
      geo_ordered_rtc_regions: [],
      session_type: 'normal',
      auth_session_id_hash: '',
    };
  }

  /** GUILD_CREATE payload for the guild (channels, roles, members, empty threads/emojis/stickers). */
  guildCreatePayload(): Record<string, unknown> {
    const g = this.guild;
    return {
      id: g.id,
      name: g.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      owner_id: g.members[0]?.user.id ?? this.botUser.id,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: 'en-US',
      system_channel_id: g.channels[0]?.id ?? null,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      application_id: null,
      vanity_url_code: null,
      description: null,
      banner: null,
      features: [],
      max_members: 500000,
      max_video_channel_users: 25,
      unavailable: false,
      large: false,
      lazy: true,
      joined_at: this.joinedAt,
      member_count: g.members.length,
      channels: [...this.channels.values()]
        .filter((c) => c.type !== ChannelKind.PublicThread && c.type !== ChannelKind.PrivateThread)
        .map(channelJson),
      threads: [],
      roles: g.roles.map(roleJson),
      members: g.members.map((m) => memberJson(m, this.joinedAt)),
      emojis: [],
      stickers: [],
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }
}

function versionOf(m: MessageModel, at: number): MessageVersion {
  return {
    at,
    content: m.content,
    embeds: m.embeds,
    components: m.components,
    attachmentIds: m.attachments.map((a) => a.id),
    flags: m.flags,
  };
}

function buildOptions(
  input: SlashCommandInput['options'],
  subcommand: string | undefined,
): Record<string, unknown>[] {
  let options: Record<string, unknown>[];
  if (Array.isArray(input)) options = input.map((o) => ({ ...o }));
  else {
    options = Object.entries(input ?? {}).map(([name, value]) => ({
      name,
      value,
      type: typeof value === 'string' ? 3 : typeof value === 'boolean' ? 5 : Number.isInteger(value) ? 4 : 10,
    }));
  }
  return subcommand ? [{ type: 1, name: subcommand, options }] : options;
}
