import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CallbackType,
  ChannelKind,
  channelJson,
  type ErrorTree,
  type InteractionRecord,
  isEmptyMessage,
  MessageFlag,
  type MessageModel,
  memberJson,
  roleJson,
  snowflake,
  userJson,
  validateMessagePayload,
} from './discord-model.js';
import { type BucketLimit, DiscordRateLimiter, rateLimitHeaders } from './discord-rate-limits.js';
import type { FakeDiscord } from './discord-server.js';
import {
  matchesRoute,
  type ParsedBody,
  parseBody,
  type RouteMatcher,
  sendEmpty,
  sendJson,
  type UploadedPart,
} from './fake-http.js';

/** One REST request as the fake received and answered it. */
export interface DiscordRequest {
  at: number;
  method: string;
  /** Path below `/api/v10`, decoded (`@original`, not `%40original`). */
  path: string;
  /** Route template, e.g. `POST /channels/{channel_id}/messages`. */
  route: string;
  query: Record<string, string>;
  /** Whether a correct `Authorization: Bot <token>` header was present. */
  authorized: boolean;
  contentType: string;
  /** JSON body, or the parsed `payload_json` of a multipart body. */
  body: unknown;
  files: UploadedPart[];
  status: number;
  response: unknown;
  /** The bucket state the response announced, if the route has one. */
  rateLimit?: { limit: number; remaining: number; resetAfterMs: number; bucket: string };
}

interface Ctx {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: ParsedBody;
  payload: Record<string, unknown>;
}

interface Reply {
  status: number;
  body?: unknown;
}

type Handler = (ctx: Ctx) => Reply | Promise<Reply>;

interface Route {
  method: string;
  segments: string[];
  template: string;
  /** Name of the major parameter for rate-limit buckets. */
  major?: string;
  auth: boolean;
  /** Interaction routes are exempt from the global limit. */
  global: boolean;
  handler: Handler;
}

interface Fault {
  matcher: RouteMatcher;
  remaining: number;
  status: number;
  retryAfterSec?: number;
  global?: boolean;
  body?: unknown;
}

/** Rate-limit configuration of the REST fake. */
export interface DiscordRestLimits {
  /** Per route template, e.g. `{ 'POST /channels/{channel_id}/messages': { limit: 5, windowMs: 5000 } }`. */
  routes?: Record<string, BucketLimit>;
  /** For every other route. */
  default?: BucketLimit;
  /** Global requests per second for bot routes. */
  globalPerSecond?: number;
}

/** Default buckets: channel message routes 5 per 5 s (as observed on Discord), the rest generous. */
export const defaultRouteLimits: Record<string, BucketLimit> = {
  'POST /channels/{channel_id}/messages': { limit: 5, windowMs: 5000 },
  'PATCH /channels/{channel_id}/messages/{message_id}': { limit: 5, windowMs: 5000 },
  'POST /webhooks/{application_id}/{token}': { limit: 5, windowMs: 2000 },
  'PATCH /webhooks/{application_id}/{token}/messages/{message_id}': { limit: 5, windowMs: 2000 },
};

function err(status: number, code: number, message: string, errors?: ErrorTree): Reply {
  return { status, body: errors ? { message, code, errors } : { message, code } };
}

const invalidForm = (errors: ErrorTree) => err(400, 50035, 'Invalid Form Body', errors);
const unknownChannel = () => err(404, 10003, 'Unknown Channel');
const unknownMessage = () => err(404, 10008, 'Unknown Message');
const unknownWebhook = () => err(404, 10015, 'Unknown Webhook');
const unknownInteraction = () => err(404, 10062, 'Unknown interaction');

/**
 * Discord's REST API v10 for the routes a bot uses: interaction callbacks and webhooks, channel
 * messages and threads, commands, users. Every response carries `X-RateLimit-*` headers.
 */
export class DiscordRest {
  /** Every request, in arrival order. */
  readonly requests: DiscordRequest[] = [];
  private readonly routes: Route[] = [];
  private readonly faults: Fault[] = [];
  private readonly limiter: DiscordRateLimiter;

  constructor(
    private readonly fake: FakeDiscord,
    limits: DiscordRestLimits = {},
  ) {
    this.limiter = new DiscordRateLimiter(
      { ...defaultRouteLimits, ...limits.routes },
      limits.default ?? { limit: 50, windowMs: 1000 },
      limits.globalPerSecond ?? 50,
    );
    this.defineRoutes();
  }

  /** Fault: the next `count` requests matching `route` get 429 with `Retry-After: retryAfterSec`. */
  inject429(route: RouteMatcher, count = 1, retryAfterSec = 1, global = false): void {
    this.faults.push({ matcher: route, remaining: count, status: 429, retryAfterSec, global });
  }

  /** Fault: the next `count` requests matching `route` get `status` (e.g. 500, 502, 503). */
  injectError(route: RouteMatcher, count = 1, status = 500, body?: unknown): void {
    this.faults.push({ matcher: route, remaining: count, status, body });
  }

  /** Handles one HTTP request below `/api/v10`. */
  async handle(req: IncomingMessage, res: ServerResponse, pathAndQuery: string): Promise<void> {
    const at = Date.now();
    const url = new URL(pathAndQuery, 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname
      .split('/')
      .map((s) => decodeURIComponent(s))
      .join('/');
    const body = await parseBody(req);
    let payload: Record<string, unknown> = {};
    try {
      if (body.json !== undefined) payload = body.json as Record<string, unknown>;
      else if (body.form?.payload_json) payload = JSON.parse(body.form.payload_json);
    } catch {
      payload = {};
    }
    const auth = String(req.headers.authorization ?? '');
    const authorized = auth === `Bot ${this.fake.token}`;
    const record: DiscordRequest = {
      at,
      method,
      path,
      route: `${method} ${path}`,
      query: Object.fromEntries(url.searchParams),
      authorized,
      contentType: body.contentType,
      body: body.json ?? (body.form?.payload_json !== undefined ? payload : body.form),
      files: body.files,
      status: 0,
      response: undefined,
    };
    this.requests.push(record);
    const reply = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      record.response = json;
      if (json === undefined) sendEmpty(res, status, headers);
      else sendJson(res, status, json, headers);
      this.fake.notify();
    };

    const found = this.match(method, path);
    if (!found) {
      reply(404, { message: '404: Not Found', code: 0 });
      return;
    }
    const { route, params } = found;
    record.route = route.template;
    if (route.auth && !authorized) {
      reply(401, { message: '401: Unauthorized', code: 0 });
      return;
    }

    const major = route.major
      ? route.major === 'webhook'
        ? `${params.application_id}/${params.token}`
        : (params[route.major] ?? '')
      : '';
    const fault = this.takeFault(`${method} ${path}`, route.template);
    if (fault) {
      if (fault.status === 429) {
        const retry = fault.retryAfterSec ?? 1;
        const headers: Record<string, string> = {
          'X-RateLimit-Limit': '1',
          'X-RateLimit-Remaining': '0',
          'X-RateLimit-Reset': ((Date.now() + retry * 1000) / 1000).toFixed(3),
          'X-RateLimit-Reset-After': retry.toFixed(3),
          'X-RateLimit-Bucket': 'injected',
          'X-RateLimit-Scope': fault.global ? 'global' : 'shared',
          'Retry-After': String(retry),
        };
        if (fault.global) headers['X-RateLimit-Global'] = 'true';
        reply(
          429,
          { message: 'You are being rate limited.', retry_after: retry, global: !!fault.global },
          headers,
        );
      } else {
        reply(fault.status, fault.body ?? { message: 'Internal Server Error', code: 0 });
      }
      return;
    }

    if (route.global) {
      const g = this.limiter.takeGlobal();
      if (g) {
        const retry = Math.max(0, g.resetAt - Date.now()) / 1000;
        reply(
          429,
          { message: 'You are being rate limited.', retry_after: retry, global: true },
          {
            'X-RateLimit-Global': 'true',
            'X-RateLimit-Scope': 'global',
            'Retry-After': String(Math.ceil(retry)),
          },
        );
        return;
      }
    }
    const state = this.limiter.take(route.template, major);
    const headers = rateLimitHeaders(state);
    record.rateLimit = {
      limit: state.limit,
      remaining: state.remaining,
      resetAfterMs: Math.max(0, state.resetAt - Date.now()),
      bucket: state.bucket,
    };
    if (!state.allowed) {
      const retry = Math.max(0, state.resetAt - Date.now()) / 1000;
      reply(
        429,
        { message: 'You are being rate limited.', retry_after: Number(retry.toFixed(3)), global: false },
        { ...headers, 'X-RateLimit-Scope': 'user', 'Retry-After': String(Math.max(1, Math.ceil(retry))) },
      );
      return;
    }

    let out: Reply;
    try {
      out = await route.handler({ method, path, params, query: url.searchParams, body, payload });
    } catch (e) {
      out = { status: 500, body: { message: `fake error: ${(e as Error).message}`, code: 0 } };
    }
    reply(out.status, out.body, headers);
  }

  private takeFault(line: string, template: string): Fault | undefined {
    const f = this.faults.find((x) => x.remaining > 0 && matchesRoute(x.matcher, line, template));
    if (f) f.remaining--;
    return f;
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    const parts = path.split('/').filter(Boolean);
    for (const route of this.routes) {
      if (route.method !== method || route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      route.segments.forEach((seg, i) => {
        const part = parts[i] ?? '';
        if (seg.startsWith('{')) params[seg.slice(1, -1)] = part;
        else if (seg !== part) ok = false;
      });
      if (ok) return { route, params };
    }
    return undefined;
  }

  private on(
    method: string,
    path: string,
    opts: { auth?: boolean; major?: string; global?: boolean },
    handler: Handler,
  ): void {
    this.routes.push({
      method,
      segments: path.split('/').filter(Boolean),
      template: `${method} ${path}`,
      major: opts.major,
      auth: opts.auth ?? true,
      global: opts.global ?? true,
      handler,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Routes
  // -------------------------------------------------------------------------------------------

  private defineRoutes(): void {
    const f = this.fake;
    const none = { auth: false, global: false };

    this.on('GET', '/gateway/bot', {}, () => ({
      status: 200,
      body: {
        url: f.gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
      },
    }));
    this.on('GET', '/gateway', { auth: false }, () => ({ status: 200, body: { url: f.gatewayUrl } }));
    this.on('GET', '/users/@me', {}, () => ({ status: 200, body: userJson(f.botUser) }));
    this.on('GET', '/applications/@me', {}, () => ({
      status: 200,
      body: {
        id: f.applicationId,
        name: f.botUser.username,
        icon: null,
        description: '',
        bot_public: false,
        bot_require_code_grant: false,
        verify_key: '0'.repeat(64),
        flags: 0,
        team: null,
        owner: userJson(f.guild.members[0]?.user ?? f.botUser),
        bot: userJson(f.botUser),
      },
    }));

    // Commands
    const putCommands = (guildId?: string): Handler => {
      return ({ params, payload }) => {
        if (params.application_id !== f.applicationId) return err(403, 50001, 'Missing Access');
        if (guildId !== undefined && params.guild_id !== f.guild.id) return err(404, 10004, 'Unknown Guild');
        const list = Array.isArray(payload) ? (payload as Record<string, unknown>[]) : [];
        const errors: ErrorTree = {};
        list.forEach((c, i) => {
          const name = String(c.name ?? '');
          const type = Number(c.type ?? 1);
          if (!/^[-_\p{L}\p{N}]{1,32}$/u.test(name) || (type === 1 && name !== name.toLowerCase())) {
            errors[String(i)] = {
              name: { _errors: [{ code: 'APPLICATION_COMMAND_INVALID_NAME', message: 'Invalid name' }] },
            };
          }
          const description = String(c.description ?? '');
          if (type === 1 && (description.length < 1 || description.length > 100)) {
            errors[String(i)] = {
              ...(errors[String(i)] as ErrorTree),
              description: {
                _errors: [{ code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' }],
              },
            };
          }
        });
        if (Object.keys(errors).length > 0) return invalidForm(errors);
        const stored = list.map((c) => ({
          id: f.commandIdFor(String(c.name), params.guild_id),
          application_id: f.applicationId,
          version: snowflake(),
          type: 1,
          description: '',
          options: [],
          default_member_permissions: null,
          nsfw: false,
          ...(guildId !== undefined ? { guild_id: params.guild_id } : {}),
          ...c,
        }));
        if (guildId !== undefined) f.commands.guild = stored;
        else f.commands.global = stored;
        return { status: 200, body: stored };
      };
    };
    this.on('PUT', '/applications/{application_id}/commands', { major: 'application_id' }, putCommands());
    this.on(
      'PUT',
      '/applications/{application_id}/guilds/{guild_id}/commands',
      { major: 'guild_id' },
      putCommands(''),
    );
    this.on('GET', '/applications/{application_id}/commands', {}, () => ({
      status: 200,
      body: f.commands.global,
    }));
    this.on('GET', '/applications/{application_id}/guilds/{guild_id}/commands', {}, () => ({
      status: 200,
      body: f.commands.guild,
    }));

    // Interaction callback
    this.on(
      'POST',
      '/interactions/{interaction_id}/{token}/callback',
      { ...none, major: 'interaction_id' },
      (ctx) => this.interactionCallback(ctx),
    );

    // Interaction webhooks
    const hookMajor = { ...none, major: 'webhook' };
    this.on('POST', '/webhooks/{application_id}/{token}', hookMajor, (ctx) => this.followup(ctx));
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      this.on(method, '/webhooks/{application_id}/{token}/messages/{message_id}', hookMajor, (ctx) =>
        this.webhookMessage(ctx),
      );
    }

    // Channels and messages
    this.on('GET', '/channels/{channel_id}', { major: 'channel_id' }, ({ params }) => {
      const c = f.channels.get(params.channel_id ?? '');
      return c ? { status: 200, body: channelJson(c) } : unknownChannel();
    });
    this.on('GET', '/channels/{channel_id}/messages', { major: 'channel_id' }, ({ params, query }) => {
      const c = f.channels.get(params.channel_id ?? '');
      if (!c) return unknownChannel();
      const limit = Number(query.get('limit') ?? 50);
      const list = c.messages
        .filter((m) => !m.deleted && !m.ephemeral)
        .reverse()
        .slice(0, limit);
      return { status: 200, body: list.map((m) => f.messageJson(m)) };
    });
    this.on('POST', '/channels/{channel_id}/messages', { major: 'channel_id' }, (ctx) =>
      this.createChannelMessage(ctx),
    );
    this.on('GET', '/channels/{channel_id}/messages/{message_id}', { major: 'channel_id' }, ({ params }) => {
      const m = f.channels.get(params.channel_id ?? '')?.messages.find((x) => x.id === params.message_id);
      return m && !m.deleted && !m.ephemeral ? { status: 200, body: f.messageJson(m) } : unknownMessage();
    });
    this.on('PATCH', '/channels/{channel_id}/messages/{message_id}', { major: 'channel_id' }, (ctx) =>
      this.editChannelMessage(ctx),
    );
    this.on(
      'DELETE',
      '/channels/{channel_id}/messages/{message_id}',
      { major: 'channel_id' },
      ({ params }) => {
        const c = f.channels.get(params.channel_id ?? '');
        if (!c) return unknownChannel();
        const m = c.messages.find((x) => x.id === params.message_id && !x.deleted);
        if (!m) return unknownMessage();
        m.deleted = true;
        f.gateway.dispatch('MESSAGE_DELETE', { id: m.id, channel_id: c.id, guild_id: c.guildId }, 1 << 9);
        return { status: 204 };
      },
    );
    this.on('POST', '/channels/{channel_id}/messages/{message_id}/threads', { major: 'channel_id' }, (ctx) =>
      this.startThreadFromMessage(ctx),
    );
    this.on('POST', '/channels/{channel_id}/threads', { major: 'channel_id' }, ({ params, payload }) => {
      const parent = f.channels.get(params.channel_id ?? '');
      if (!parent) return unknownChannel();
      const nameErr = threadNameError(payload.name);
      if (nameErr) return invalidForm(nameErr);
      const type = Number(payload.type ?? ChannelKind.PrivateThread);
      const thread = f.createThread(
        parent,
        snowflake(),
        String(payload.name),
        type,
        payload.auto_archive_duration,
      );
      return { status: 201, body: channelJson(thread) };
    });

    // Guild
    this.on('GET', '/guilds/{guild_id}', { major: 'guild_id' }, ({ params }) =>
      params.guild_id === f.guild.id
        ? { status: 200, body: { ...f.guildCreatePayload(), channels: undefined, members: undefined } }
        : err(404, 10004, 'Unknown Guild'),
    );
    this.on('GET', '/guilds/{guild_id}/roles', { major: 'guild_id' }, () => ({
      status: 200,
      body: f.guild.roles.map(roleJson),
    }));
    this.on('GET', '/guilds/{guild_id}/channels', { major: 'guild_id' }, () => ({
      status: 200,
      body: [...f.channels.values()].filter((c) => c.type === ChannelKind.GuildText).map(channelJson),
    }));
    this.on('GET', '/guilds/{guild_id}/members/{user_id}', { major: 'guild_id' }, ({ params }) => {
      const m = f.guild.members.find((x) => x.user.id === params.user_id);
      return m ? { status: 200, body: memberJson(m, f.joinedAt) } : err(404, 10007, 'Unknown Member');
    });
  }

  // -------------------------------------------------------------------------------------------
  // Interactions
  // -------------------------------------------------------------------------------------------

  private interactionCallback({ params, payload, body, query }: Ctx): Reply {
    const f = this.fake;
    const rec = f.interactions.get(params.interaction_id ?? '');
    const now = Date.now();
    const type = Number(payload.type);
    const data = (payload.data ?? {}) as Record<string, unknown>;
    const fail = (r: Reply): Reply => {
      const code = (r.body as { code: number }).code;
      rec?.callbacks.push({ at: now, type, status: r.status, code, data });
      rec?.errors.push({ at: now, route: 'callback', status: r.status, code });
      return r;
    };
    if (!rec || rec.token !== params.token) return fail(unknownInteraction());
    if (rec.ackedAt !== undefined) return fail(err(400, 40060, 'Interaction has already been acknowledged.'));
    if (now - rec.createdAt > f.options.ackDeadlineMs) return fail(unknownInteraction());
    const allowed =
      rec.type === 4
        ? [CallbackType.ApplicationCommandAutocompleteResult]
        : rec.type === 3 || rec.type === 5
          ? [4, 5, 6, 7, 9].filter((t) => rec.type === 3 || t !== 9)
          : [4, 5, 9];
    if (!allowed.includes(type as never)) {
      return fail(
        invalidForm({
          type: { _errors: [{ code: 'INTERACTION_RESPONSE_TYPE_INVALID', message: 'Invalid type' }] },
        }),
      );
    }
    if (type === CallbackType.ChannelMessageWithSource || type === CallbackType.UpdateMessage) {
      const errors = validateMessagePayload(data, ['data']);
      if (errors) return fail(invalidForm(errors));
      if (type === 4 && isEmptyMessage(data, body.files.length)) {
        return fail(err(400, 50006, 'Cannot send an empty message'));
      }
    }
    const tooBig = this.tooLarge(body.files);
    if (tooBig) return fail(tooBig);

    rec.ackedAt = now;
    rec.callbackType = type;
    rec.callbacks.push({ at: now, type, status: query.get('with_response') === 'true' ? 200 : 204, data });
    const ephemeral = (Number(data.flags ?? 0) & MessageFlag.Ephemeral) !== 0;
    let message: MessageModel | undefined;
    switch (type) {
      case CallbackType.ChannelMessageWithSource:
        message = f.createMessage(rec.channelId, {
          payload: data,
          files: body.files,
          type: rec.type === 2 ? 20 : 0,
          webhookId: f.applicationId,
          interactionId: rec.id,
          ephemeral,
        });
        rec.originalMessageId = message.id;
        rec.replies.push(message.versions[0]!);
        break;
      case CallbackType.DeferredChannelMessageWithSource:
        message = f.createMessage(rec.channelId, {
          payload: { content: '' },
          files: [],
          type: rec.type === 2 ? 20 : 0,
          webhookId: f.applicationId,
          interactionId: rec.id,
          ephemeral,
          loading: true,
        });
        rec.originalMessageId = message.id;
        break;
      case CallbackType.DeferredMessageUpdate:
      case CallbackType.UpdateMessage: {
        const source = (rec.payload.message as { id?: string } | undefined)?.id;
        const found = source ? f.findMessage(source) : undefined;
        rec.originalMessageId = found?.message.id;
        if (found && type === CallbackType.UpdateMessage) {
          f.editMessage(found.message, data, body.files);
          rec.replies.push(found.message.versions.at(-1)!);
        }
        message = found?.message;
        break;
      }
      case CallbackType.ApplicationCommandAutocompleteResult:
        rec.autocompleteChoices = (data.choices as unknown[]) ?? [];
        break;
      case CallbackType.Modal:
        rec.modal = data;
        break;
    }
    if (query.get('with_response') !== 'true') return { status: 204 };
    return {
      status: 200,
      body: {
        interaction: {
          id: rec.id,
          type: rec.type,
          activity_instance_id: null,
          response_message_id: message?.id ?? null,
          response_message_loading: type === CallbackType.DeferredChannelMessageWithSource,
          response_message_ephemeral: ephemeral,
        },
        resource: message ? { type, message: f.messageJson(message) } : { type },
      },
    };
  }

  /** Resolves the interaction behind a webhook route, or the error Discord would answer. */
  private webhookInteraction(params: Record<string, string>): InteractionRecord | Reply {
    const f = this.fake;
    if (params.application_id !== f.applicationId) return unknownWebhook();
    const rec = f.interactionByToken(params.token ?? '');
    if (!rec) return unknownWebhook();
    if (Date.now() - rec.createdAt > f.options.tokenLifetimeMs)
      return err(401, 50027, 'Invalid Webhook Token');
    if (rec.ackedAt === undefined) return unknownWebhook();
    return rec;
  }

  private followup({ params, payload, body, query }: Ctx): Reply {
    const f = this.fake;
    const found = this.webhookInteraction(params);
    if ('status' in found) return this.noteError(params.token, 'followup', found);
    const rec = found;
    const errors = validateMessagePayload(payload);
    if (errors) return this.noteError(params.token, 'followup', invalidForm(errors));
    if (isEmptyMessage(payload, body.files.length)) {
      return this.noteError(params.token, 'followup', err(400, 50006, 'Cannot send an empty message'));
    }
    const tooBig = this.tooLarge(body.files);
    if (tooBig) return this.noteError(params.token, 'followup', tooBig);
    const original = rec.originalMessageId ? f.findMessage(rec.originalMessageId)?.message : undefined;
    let message: MessageModel;
    if (original && (original.flags & MessageFlag.Loading) !== 0) {
      // After a deferred reply, Discord turns the first followup into the original response.
      f.editMessage(original, payload, body.files);
      rec.replies.push(original.versions.at(-1)!);
      message = original;
    } else {
      const threadId = query.get('thread_id');
      const channelId = threadId ?? rec.channelId;
      if (!f.channels.has(channelId)) return unknownChannel();
      message = f.createMessage(channelId, {
        payload,
        files: body.files,
        type: 0,
        webhookId: f.applicationId,
        interactionId: rec.id,
        ephemeral: (Number(payload.flags ?? 0) & MessageFlag.Ephemeral) !== 0,
      });
    }
    rec.followups.push(message);
    return query.get('wait') === 'false' ? { status: 204 } : { status: 200, body: f.messageJson(message) };
  }

  private webhookMessage({ method, params, payload, body }: Ctx): Reply {
    const f = this.fake;
    const found = this.webhookInteraction(params);
    if ('status' in found) return this.noteError(params.token, 'webhook message', found);
    const rec = found;
    const id = params.message_id === '@original' ? rec.originalMessageId : params.message_id;
    const own = id === rec.originalMessageId || rec.followups.some((m) => m.id === id);
    const target = id && own ? f.findMessage(id)?.message : undefined;
    if (!target || target.deleted) return this.noteError(params.token, 'webhook message', unknownMessage());
    if (method === 'GET') return { status: 200, body: f.messageJson(target) };
    if (method === 'DELETE') {
      target.deleted = true;
      return { status: 204 };
    }
    const errors = validateMessagePayload(payload);
    if (errors) return this.noteError(params.token, 'webhook message', invalidForm(errors));
    const tooBig = this.tooLarge(body.files);
    if (tooBig) return this.noteError(params.token, 'webhook message', tooBig);
    f.editMessage(target, payload, body.files);
    if (target.id === rec.originalMessageId) rec.replies.push(target.versions.at(-1)!);
    return { status: 200, body: f.messageJson(target) };
  }

  private noteError(token: string | undefined, route: string, r: Reply): Reply {
    const rec = token ? this.fake.interactionByToken(token) : undefined;
    rec?.errors.push({ at: Date.now(), route, status: r.status, code: (r.body as { code: number }).code });
    return r;
  }

  // -------------------------------------------------------------------------------------------
  // Channel messages and threads
  // -------------------------------------------------------------------------------------------

  private createChannelMessage({ params, payload, body }: Ctx): Reply {
    const f = this.fake;
    const channel = f.channels.get(params.channel_id ?? '');
    if (!channel) return unknownChannel();
    const errors = validateMessagePayload(payload);
    if (errors) return invalidForm(errors);
    if (isEmptyMessage(payload, body.files.length)) return err(400, 50006, 'Cannot send an empty message');
    const tooBig = this.tooLarge(body.files);
    if (tooBig) return tooBig;
    const message = f.createMessage(channel.id, {
      payload,
      files: body.files,
      type: payload.message_reference ? 19 : 0,
    });
    return { status: 200, body: f.messageJson(message) };
  }

  private editChannelMessage({ params, payload, body }: Ctx): Reply {
    const f = this.fake;
    const channel = f.channels.get(params.channel_id ?? '');
    if (!channel) return unknownChannel();
    const message = channel.messages.find((m) => m.id === params.message_id && !m.deleted && !m.ephemeral);
    if (!message) return unknownMessage();
    if (message.author.id !== f.botUser.id)
      return err(403, 50005, 'Cannot edit a message authored by another user');
    const errors = validateMessagePayload(payload);
    if (errors) return invalidForm(errors);
    const tooBig = this.tooLarge(body.files);
    if (tooBig) return tooBig;
    f.editMessage(message, payload, body.files);
    return { status: 200, body: f.messageJson(message) };
  }

  private startThreadFromMessage({ params, payload }: Ctx): Reply {
    const f = this.fake;
    const parent = f.channels.get(params.channel_id ?? '');
    if (!parent) return unknownChannel();
    if (parent.type !== ChannelKind.GuildText)
      return err(400, 50024, 'Cannot execute action on this channel type');
    const message = parent.messages.find((m) => m.id === params.message_id && !m.deleted && !m.ephemeral);
    if (!message) return unknownMessage();
    if (message.threadId) return err(400, 160004, 'A thread has already been created for this message');
    const nameErr = threadNameError(payload.name);
    if (nameErr) return invalidForm(nameErr);
    const thread = f.createThread(
      parent,
      message.id,
      String(payload.name),
      ChannelKind.PublicThread,
      payload.auto_archive_duration,
    );
    message.threadId = thread.id;
    message.flags |= MessageFlag.HasThread;
    return { status: 201, body: channelJson(thread) };
  }

  private tooLarge(files: UploadedPart[]): Reply | undefined {
    const limit = this.fake.options.attachmentSizeLimit;
    return files.some((p) => p.bytes.length > limit)
      ? err(413, 40005, 'Request entity too large')
      : undefined;
  }
}

function threadNameError(name: unknown): ErrorTree | undefined {
  if (typeof name !== 'string' || name.length < 1 || name.length > 100) {
    return {
      name: { _errors: [{ code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' }] },
    };
  }
  return undefined;
}
