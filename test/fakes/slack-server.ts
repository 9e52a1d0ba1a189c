import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { waitFor } from '../env/harness.js';
import { closeServer, listenLoopback, parseBody, sendJson } from './fake-http.js';
import {
  defaultSlackRateLimits,
  type ResponseUrlRecord,
  type SlackChannelConfig,
  type SlackChannelModel,
  type SlackEphemeral,
  type SlackFile,
  SlackLimits,
  type SlackMessage,
  type SlackRateLimit,
  SlackRateLimiter,
  type SlackUser,
  validateMessage,
} from './slack-model.js';

export { SlackSender } from './slack-sender.js';
export type {
  ResponseUrlRecord,
  SlackChannelConfig,
  SlackChannelModel,
  SlackEphemeral,
  SlackFile,
  SlackMessage,
  SlackUser,
};

/** Options of the Slack fake; every field has a test-friendly default. */
export interface FakeSlackOptions {
  botToken?: string;
  appToken?: string;
  teamId?: string;
  teamDomain?: string;
  appId?: string;
  botUserId?: string;
  botId?: string;
  channels?: SlackChannelConfig[];
  users?: SlackUser[];
  /** Per-method limits (merged over the defaults); `{}` values disable nothing, use `rateLimits: false` to disable all. */
  rateLimits?: Record<string, SlackRateLimit> | false;
  /** chat.postMessage text limit (msg_too_long above). */
  maxTextLength?: number;
  /** Section block text limit (invalid_blocks above). */
  maxSectionText?: number;
  /** Socket Mode server ping interval (default 5000 ms). */
  socketPingIntervalMs?: number;
  /** response_url: posts allowed and lifetime. */
  responseUrlMaxPosts?: number;
  responseUrlLifetimeMs?: number;
}

/** Well-known ids of the default workspace. */
export const SlackIds = {
  team: 'T0SITEFLOW',
  app: 'A0SITEFLOW',
  botUser: 'U0SITEBOT',
  bot: 'B0SITEBOT',
  general: 'C0GENERAL',
  ops: 'C0OPS',
  alice: 'U0ALICE',
  bob: 'U0BOB',
  carol: 'U0CAROL',
} as const;

/** One Web API call as the fake received and answered it. */
export interface SlackApiCall {
  at: number;
  method: string;
  /** Which token was presented: 'bot', 'app', 'invalid' or 'none' (never the token itself). */
  tokenKind: 'bot' | 'app' | 'invalid' | 'none';
  contentType: string;
  params: Record<string, unknown>;
  status: number;
  response: Record<string, unknown>;
  retryAfter?: number;
}

/** A Socket Mode envelope sent to the app, and its acknowledgement. */
export interface SocketEnvelope {
  envelopeId: string;
  type: string;
  payload: Record<string, unknown>;
  sentAt: number;
  ack?: { at: number; payload: Record<string, unknown> };
  responseUrl?: ResponseUrlRecord;
}

/** A slash command's fields (the same for HTTP and Socket Mode). */
export interface SlashCommandInput {
  command: string;
  text?: string;
  userId?: string;
  channelId?: string;
  /** The workspace it comes from (default the fake's own team), e.g. another one the app is in. */
  teamId?: string;
}

/** A block action (button click) to deliver. */
export interface BlockActionInput {
  actionId: string;
  value?: string;
  blockId?: string;
  /** The message carrying the button. */
  messageTs: string;
  channelId?: string;
  userId?: string;
  /** As in SlashCommandInput. */
  teamId?: string;
}

interface ApiResult {
  status?: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

interface Fault {
  method: string;
  remaining: number;
  kind: '429' | 'error' | 'http' | 'hang';
  retryAfterSec?: number;
  error?: string;
  status?: number;
}

/**
 * A protocol-faithful Slack for tests: the Web API under `/api/<method>`, file upload URLs,
 * response_url endpoints and a Socket Mode WebSocket, all on one loopback port. Works with
 * @slack/bolt: `clientOptions: { slackApiUrl: fake.apiUrl }`.
 */
export class FakeSlack {
  readonly botToken: string;
  readonly appToken: string;
  readonly teamId: string;
  readonly teamDomain: string;
  readonly appId: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly users: SlackUser[];
  readonly channels = new Map<string, SlackChannelModel>();
  readonly files = new Map<string, SlackFile>();
  readonly ephemerals: SlackEphemeral[] = [];
  readonly responseUrls = new Map<string, ResponseUrlRecord>();
  /** Every Web API call. */
  readonly calls: SlackApiCall[] = [];
  /** Every file upload POST (to an upload_url). */
  readonly uploads: { at: number; fileId: string; status: number; bytes: number; authorized: boolean }[] = [];
  /** Every Socket Mode envelope. */
  readonly envelopes: SocketEnvelope[] = [];
  /** Socket Mode statistics. */
  readonly socketStats = { connections: 0, pings: 0, pongs: 0, connectionsOpened: 0 };
  readonly opts: Required<
    Pick<
      FakeSlackOptions,
      | 'maxTextLength'
      | 'maxSectionText'
      | 'socketPingIntervalMs'
      | 'responseUrlMaxPosts'
      | 'responseUrlLifetimeMs'
    >
  >;
  private readonly limiter: SlackRateLimiter;
  private readonly faults: Fault[] = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<WebSocket>();
  private readonly tickets = new Set<string>();
  private server?: Server;
  private port = 0;
  private tsCounter = 0;
  private lastTsSecond = 0;

  constructor(o: FakeSlackOptions = {}) {
    this.botToken = o.botToken ?? 'xoxb-fake-bot-token';
    this.appToken = o.appToken ?? 'xapp-1-fake-app-token';
    this.teamId = o.teamId ?? SlackIds.team;
    this.teamDomain = o.teamDomain ?? 'siteflow-test';
    this.appId = o.appId ?? SlackIds.app;
    this.botUserId = o.botUserId ?? SlackIds.botUser;
    this.botId = o.botId ?? SlackIds.bot;
    this.users = o.users ?? [
      { id: SlackIds.alice, name: 'alice', realName: 'Alice Admin', isAdmin: true },
      { id: SlackIds.bob, name: 'bob', realName: 'Bob Operator' },
      { id: SlackIds.carol, name: 'carol', realName: 'Carol Viewer' },
    ];
    if (!this.users.some((u) => u.id === this.botUserId))
      this.users.push({ id: this.botUserId, name: 'siteflow' });
    for (const c of o.channels ?? [
      { id: SlackIds.general, name: 'general' },
      { id: SlackIds.ops, name: 'ops' },
    ]) {
      this.channels.set(c.id, { ...c, messages: [] });
    }
    this.limiter = new SlackRateLimiter(
      o.rateLimits === false ? {} : { ...defaultSlackRateLimits, ...o.rateLimits },
    );
    this.opts = {
      maxTextLength: o.maxTextLength ?? SlackLimits.text,
      maxSectionText: o.maxSectionText ?? SlackLimits.sectionText,
      socketPingIntervalMs: o.socketPingIntervalMs ?? 5000,
      responseUrlMaxPosts: o.responseUrlMaxPosts ?? 5,
      responseUrlLifetimeMs: o.responseUrlLifetimeMs ?? 30 * 60_000,
    };
  }

  /** `http://127.0.0.1:P/api/`, for `clientOptions.slackApiUrl` (trailing slash required). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts on 127.0.0.1, port 0. */
  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((e: Error) => {
        if (!res.headersSent) sendJson(res, 500, { ok: false, error: `fake_error: ${e.message}` });
      });
    });
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const ticket = url.searchParams.get('ticket') ?? '';
      if (url.pathname !== '/socket-mode' || !this.tickets.has(ticket)) {
        socket.destroy();
        return;
      }
      this.tickets.delete(ticket);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    this.port = await listenLoopback(server);
    this.server = server;
    return this;
  }

  /** Stops everything. */
  async stop(): Promise<void> {
    // Close handshakes first (a client mid-handshake logs an error when its socket is cut).
    await Promise.all(
      [...this.sockets].map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            ws.once('close', () => resolve());
            if (ws.readyState === ws.OPEN) ws.close(1001, 'server stopping');
            setTimeout(() => {
              ws.terminate();
              resolve();
            }, 1000).unref();
          }),
      ),
    );
    await new Promise<void>((r) => this.wss.close(() => r()));
    if (this.server) await closeServer(this.server);
    this.server = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Faults
  // -------------------------------------------------------------------------------------------

  /** The next `count` calls of `method` get HTTP 429 with `retry-after: retryAfterSec`. */
  inject429(method: string, count = 1, retryAfterSec = 1): void {
    this.faults.push({ method, remaining: count, kind: '429', retryAfterSec });
  }

  /** The next `count` calls of `method` answer `{ ok: false, error }`. */
  injectError(method: string, error: string, count = 1): void {
    this.faults.push({ method, remaining: count, kind: 'error', error });
  }

  /** The next `count` calls of `method` are received (and recorded) but never answered. */
  injectHang(method: string, count = 1): void {
    this.faults.push({ method, remaining: count, kind: 'hang' });
  }

  /** The next `count` calls of `method` answer with an HTTP error status (e.g. 503). */
  injectHttpError(method: string, status = 503, count = 1): void {
    this.faults.push({ method, remaining: count, kind: 'http', status });
  }

  // -------------------------------------------------------------------------------------------
  // What a person sees
  // -------------------------------------------------------------------------------------------

  /** Top-level messages of a channel, oldest first (thread replies excluded). */
  messagesIn(channelId: string): SlackMessage[] {
    return (this.channels.get(channelId)?.messages ?? []).filter(
      (m) => !m.deleted && (m.threadTs === undefined || m.threadTs === m.ts),
    );
  }

  /** Replies in the thread of `parentTs`, oldest first. */
  repliesOf(channelId: string, parentTs: string): SlackMessage[] {
    return (this.channels.get(channelId)?.messages ?? []).filter(
      (m) => !m.deleted && m.threadTs === parentTs && m.ts !== parentTs,
    );
  }

  /** Parents of threads in a channel. */
  threadsOf(channelId: string): SlackMessage[] {
    return this.messagesIn(channelId).filter((m) => this.repliesOf(channelId, m.ts).length > 0);
  }

  /** A message by channel and ts. */
  message(channelId: string, ts: string): SlackMessage | undefined {
    return this.channels.get(channelId)?.messages.find((m) => m.ts === ts);
  }

  /** Polls `predicate` until truthy or throws after `timeoutMs`. */
  waitFor<T>(
    predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
    timeoutMs = 5000,
    what?: string,
  ): Promise<T> {
    return waitFor(what ?? 'condition', predicate, timeoutMs, { intervalMs: 10 });
  }

  /** Calls of one method. */
  callsOf(method: string): SlackApiCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  // -------------------------------------------------------------------------------------------
  // Payloads for deliveries (used by SlackSender and Socket Mode)
  // -------------------------------------------------------------------------------------------

  /** Registers a response_url for a delivery. */
  createResponseUrl(channelId: string, userId: string, messageTs?: string): ResponseUrlRecord {
    const id = randomBytes(12).toString('hex');
    const rec: ResponseUrlRecord = {
      id,
      url: `${this.baseUrl}/commands/${this.teamId}/${id}`,
      createdAt: Date.now(),
      channelId,
      userId,
      messageTs,
      posts: [],
    };
    this.responseUrls.set(id, rec);
    return rec;
  }

  /** Slash commands of the installed app manifest; empty until `installManifest`. */
  readonly declaredCommands = new Set<string>();

  /**
   * Installs an app manifest as Slack's app settings do: a slash command whose name is not
   * `/[a-z0-9_-]{1,32}`, is one of Slack's built-ins, is declared twice, or has no description
   * rejects the whole manifest. Once installed, only declared commands can be delivered.
   * Built-ins: https://slack.com/help/articles/201259356-Use-built-in-slash-commands
   */
  installManifest(manifest: Record<string, unknown>): { ok: true } | { ok: false; errors: string[] } {
    const builtIns = new Set(
      'active apps archive away call collapse dm dnd expand feed feedback invite join kick leave me msg mute open prefs remind remove rename search shortcuts shrug star status topic who'.split(
        ' ',
      ),
    );
    const slash =
      (manifest.features as { slash_commands?: { command?: string; description?: string }[] } | undefined)
        ?.slash_commands ?? [];
    const errors: string[] = [];
    const seen = new Set<string>();
    for (const [i, c] of slash.entries()) {
      const name = c.command ?? '';
      const where = `features.slash_commands[${i}]`;
      if (!/^\/[a-z0-9_-]{1,32}$/.test(name)) errors.push(`${where}.command: invalid name ${name}`);
      else if (builtIns.has(name.slice(1))) errors.push(`${where}.command: ${name} is a reserved command`);
      if (seen.has(name)) errors.push(`${where}.command: ${name} is declared twice`);
      seen.add(name);
      if (!c.description) errors.push(`${where}.description: required`);
    }
    if (errors.length > 0) return { ok: false, errors };
    this.declaredCommands.clear();
    for (const n of seen) this.declaredCommands.add(n);
    return { ok: true };
  }

  /** The fields Slack sends for a slash command (all strings), with a fresh response_url. */
  slashCommandPayload(input: SlashCommandInput): {
    fields: Record<string, string>;
    responseUrl: ResponseUrlRecord;
  } {
    if (this.declaredCommands.size > 0 && !this.declaredCommands.has(input.command))
      throw new Error(`${input.command} is not a command of the installed app`);
    const userId = input.userId ?? SlackIds.alice;
    const channelId = input.channelId ?? SlackIds.general;
    const responseUrl = this.createResponseUrl(channelId, userId);
    const fields: Record<string, string> = {
      token: 'fake-verification-token',
      team_id: input.teamId ?? this.teamId,
      team_domain: this.teamDomain,
      channel_id: channelId,
      channel_name: this.channels.get(channelId)?.name ?? 'unknown',
      user_id: userId,
      user_name: this.users.find((u) => u.id === userId)?.name ?? 'unknown',
      command: input.command,
      text: input.text ?? '',
      api_app_id: this.appId,
      is_enterprise_install: 'false',
      response_url: responseUrl.url,
      trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
    };
    return { fields, responseUrl };
  }

  /** A block_actions payload for a button click on a message. */
  blockActionPayload(input: BlockActionInput): {
    payload: Record<string, unknown>;
    responseUrl: ResponseUrlRecord;
  } {
    const channelId = input.channelId ?? SlackIds.general;
    const userId = input.userId ?? SlackIds.alice;
    const msg = this.message(channelId, input.messageTs);
    const responseUrl = this.createResponseUrl(channelId, userId, input.messageTs);
    const user = this.users.find((u) => u.id === userId);
    const payload: Record<string, unknown> = {
      type: 'block_actions',
      user: { id: userId, username: user?.name, name: user?.name, team_id: input.teamId ?? this.teamId },
      api_app_id: this.appId,
      token: 'fake-verification-token',
      container: {
        type: 'message',
        message_ts: input.messageTs,
        channel_id: channelId,
        is_ephemeral: false,
        ...(msg?.threadTs && msg.threadTs !== msg.ts ? { thread_ts: msg.threadTs } : {}),
      },
      trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
      team: { id: input.teamId ?? this.teamId, domain: this.teamDomain },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: channelId, name: this.channels.get(channelId)?.name },
      message: msg ? this.messageJson(msg) : { type: 'message', ts: input.messageTs, text: '' },
      state: { values: {} },
      response_url: responseUrl.url,
      actions: [
        {
          action_id: input.actionId,
          block_id: input.blockId ?? 'actions',
          text: { type: 'plain_text', text: input.actionId, emoji: true },
          value: input.value ?? '',
          type: 'button',
          action_ts: this.nextTs(),
        },
      ],
    };
    return { payload, responseUrl };
  }

  // -------------------------------------------------------------------------------------------
  // Socket Mode
  // -------------------------------------------------------------------------------------------

  /** True when an app is connected over Socket Mode. */
  get socketConnected(): boolean {
    return [...this.sockets].some((ws) => ws.readyState === ws.OPEN);
  }

  /** Sends a slash command envelope to the connected app. */
  socketSlashCommand(input: SlashCommandInput): SocketEnvelope {
    const { fields, responseUrl } = this.slashCommandPayload(input);
    return this.sendEnvelope('slash_commands', fields, true, responseUrl);
  }

  /** Sends a block_actions envelope (type `interactive`) to the connected app. */
  socketBlockAction(input: BlockActionInput): SocketEnvelope {
    const { payload, responseUrl } = this.blockActionPayload(input);
    return this.sendEnvelope('interactive', payload, false, responseUrl);
  }

  /** Asks the app to reconnect (`{type:'disconnect'}`), as Slack does when recycling a pod. */
  socketDisconnect(reason = 'refresh_requested'): void {
    for (const ws of this.sockets)
      ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake' } }));
  }

  private sendEnvelope(
    type: string,
    payload: Record<string, unknown>,
    acceptsResponsePayload: boolean,
    responseUrl?: ResponseUrlRecord,
  ): SocketEnvelope {
    const ws = [...this.sockets].find((s) => s.readyState === s.OPEN);
    if (!ws) throw new Error('no Socket Mode connection');
    const env: SocketEnvelope = { envelopeId: randomUUID(), type, payload, sentAt: Date.now(), responseUrl };
    this.envelopes.push(env);
    ws.send(
      JSON.stringify({
        envelope_id: env.envelopeId,
        type,
        payload,
        accepts_response_payload: acceptsResponsePayload,
        retry_attempt: 0,
        retry_reason: '',
      }),
    );
    return env;
  }

  private onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    this.socketStats.connections++;
    const ping = setInterval(() => {
      if (ws.readyState !== ws.OPEN) return;
      this.socketStats.pings++;
      ws.ping(Buffer.from(`ping-${Date.now()}`));
    }, this.opts.socketPingIntervalMs);
    ws.on('pong', () => this.socketStats.pongs++);
    ws.on('close', () => {
      clearInterval(ping);
      this.sockets.delete(ws);
    });
    ws.on('message', (raw: RawData) => {
      let msg: { envelope_id?: string; payload?: Record<string, unknown> };
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        return;
      }
      const env = this.envelopes.find((e) => e.envelopeId === msg.envelope_id);
      if (env && !env.ack) env.ack = { at: Date.now(), payload: msg.payload ?? {} };
      // A slash command acked with a payload shows that payload to the user (ephemeral by default).
      if (env?.type === 'slash_commands' && msg.payload && Object.keys(msg.payload).length > 0) {
        this.showResponse(
          env.payload.channel_id as string,
          env.payload.user_id as string,
          msg.payload,
          'ack',
        );
      }
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.sockets.size,
        debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
  }

  // -------------------------------------------------------------------------------------------
  // HTTP
  // -------------------------------------------------------------------------------------------

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'POST' && parts[0] === 'api' && parts.length === 2) {
      await this.apiCall(parts[1]!, req, res);
    } else if (req.method === 'POST' && parts[0] === 'upload' && parts.length === 3) {
      await this.upload(parts[2]!, req, res);
    } else if (req.method === 'POST' && parts[0] === 'commands' && parts.length === 3) {
      await this.responseUrlPost(parts[2]!, req, res);
    } else {
      sendJson(res, 404, { ok: false, error: 'not_found' });
    }
  }

  private async apiCall(method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await parseBody(req);
    const params: Record<string, unknown> = { ...(body.form ?? {}), ...((body.json as object) ?? {}) };
    const auth = String(req.headers.authorization ?? '');
    const token = auth.startsWith('Bearer ')
      ? auth.slice(7)
      : typeof params.token === 'string'
        ? params.token
        : '';
    delete params.token;
    const tokenKind: SlackApiCall['tokenKind'] =
      token === '' ? 'none' : token === this.botToken ? 'bot' : token === this.appToken ? 'app' : 'invalid';
    const call: SlackApiCall = {
      at: Date.now(),
      method,
      tokenKind,
      contentType: body.contentType,
      params,
      status: 200,
      response: {},
    };
    this.calls.push(call);
    const hang = this.faults.find((f) => f.remaining > 0 && f.method === method && f.kind === 'hang');
    if (hang) {
      // Never answered; the socket is closed when the fake stops.
      hang.remaining--;
      call.status = 0;
      return;
    }
    const out = this.answer(method, tokenKind, params);
    call.status = out.status ?? 200;
    call.response = out.body;
    if (out.headers?.['retry-after']) call.retryAfter = Number(out.headers['retry-after']);
    sendJson(res, call.status, out.body, out.headers);
  }

  private answer(
    method: string,
    tokenKind: SlackApiCall['tokenKind'],
    p: Record<string, unknown>,
  ): ApiResult {
    const fault = this.faults.find((f) => f.remaining > 0 && f.method === method);
    if (fault) {
      fault.remaining--;
      if (fault.kind === '429') {
        return {
          status: 429,
          body: { ok: false, error: 'ratelimited' },
          headers: { 'retry-after': String(fault.retryAfterSec ?? 1) },
        };
      }
      if (fault.kind === 'http')
        return { status: fault.status ?? 503, body: { ok: false, error: 'service_unavailable' } };
      return { body: { ok: false, error: fault.error } };
    }
    if (tokenKind === 'none') return { body: { ok: false, error: 'not_authed' } };
    if (tokenKind === 'invalid') return { body: { ok: false, error: 'invalid_auth' } };
    const needsApp = method === 'apps.connections.open';
    if (needsApp !== (tokenKind === 'app')) return { body: { ok: false, error: 'not_allowed_token_type' } };

    const channelParam =
      typeof p.channel === 'string' ? p.channel : typeof p.channel_id === 'string' ? p.channel_id : undefined;
    const retry = this.limiter.take(method, channelParam);
    if (retry !== undefined) {
      return {
        status: 429,
        body: { ok: false, error: 'ratelimited' },
        headers: { 'retry-after': String(retry) },
      };
    }
    const ok = (extra: Record<string, unknown>): ApiResult => ({ body: { ok: true, ...extra } });
    const fail = (error: string, messages?: string[]): ApiResult => ({
      body: messages ? { ok: false, error, response_metadata: { messages } } : { ok: false, error },
    });

    switch (method) {
      case 'api.test':
        return ok({ args: p });
      case 'auth.test':
        return ok({
          url: `https://${this.teamDomain}.slack.com/`,
          team: 'SiteFlow Test',
          user: 'siteflow',
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: this.botId,
          is_enterprise_install: false,
        });
      case 'apps.connections.open': {
        const ticket = randomUUID();
        this.tickets.add(ticket);
        this.socketStats.connectionsOpened++;
        return ok({ url: `ws://127.0.0.1:${this.port}/socket-mode?ticket=${ticket}&app_id=${this.appId}` });
      }
      case 'chat.postMessage': {
        const channel = this.resolveChannel(channelParam);
        if (!channel) return fail('channel_not_found');
        const v = validateMessage(p.text, p.blocks, this.opts.maxTextLength, this.opts.maxSectionText);
        if ('error' in v) return fail(v.error, v.messages);
        const attachments = parseJsonArray(p.attachments);
        if (!p.text && v.blocks.length === 0 && attachments.length === 0) return fail('no_text');
        let threadTs: string | undefined;
        if (typeof p.thread_ts === 'string' && p.thread_ts !== '') {
          const parent = channel.messages.find((m) => m.ts === p.thread_ts && !m.deleted);
          // Stricter than Slack, which may post a reply to an unknown thread_ts as a plain message.
          if (!parent) return fail('thread_not_found');
          threadTs = parent.threadTs ?? parent.ts;
          parent.threadTs ??= parent.ts;
        }
        const msg = this.addMessage(channel, {
          text: String(p.text ?? ''),
          blocks: v.blocks,
          attachments,
          threadTs,
          via: 'chat.postMessage',
        });
        return ok({ channel: channel.id, ts: msg.ts, message: this.messageJson(msg) });
      }
      case 'chat.update': {
        const channel = this.resolveChannel(channelParam);
        if (!channel) return fail('channel_not_found');
        const msg = channel.messages.find((m) => m.ts === p.ts && !m.deleted);
        if (!msg) return fail('message_not_found');
        if (msg.user !== this.botUserId) return fail('cant_update_message');
        const v = validateMessage(p.text, p.blocks, this.opts.maxTextLength, this.opts.maxSectionText);
        if ('error' in v) return fail(v.error, v.messages);
        if (typeof p.text === 'string') msg.text = p.text;
        if (p.blocks !== undefined) msg.blocks = v.blocks;
        if (p.attachments !== undefined) msg.attachments = parseJsonArray(p.attachments);
        msg.versions.push({ at: Date.now(), text: msg.text, blocks: msg.blocks });
        return ok({ channel: channel.id, ts: msg.ts, text: msg.text, message: this.messageJson(msg) });
      }
      case 'chat.delete': {
        const channel = this.resolveChannel(channelParam);
        const msg = channel?.messages.find((m) => m.ts === p.ts && !m.deleted);
        if (!channel) return fail('channel_not_found');
        if (!msg) return fail('message_not_found');
        msg.deleted = true;
        return ok({ channel: channel.id, ts: msg.ts });
      }
      case 'chat.postEphemeral': {
        const channel = this.resolveChannel(channelParam);
        if (!channel) return fail('channel_not_found');
        if (!this.users.some((u) => u.id === p.user)) return fail('user_not_in_channel');
        const v = validateMessage(p.text, p.blocks, this.opts.maxTextLength, this.opts.maxSectionText);
        if ('error' in v) return fail(v.error, v.messages);
        if (!p.text && v.blocks.length === 0) return fail('no_text');
        const messageTs = this.nextTs();
        this.ephemerals.push({
          at: Date.now(),
          channel: channel.id,
          user: String(p.user),
          text: String(p.text ?? ''),
          blocks: v.blocks,
          threadTs: typeof p.thread_ts === 'string' ? p.thread_ts : undefined,
          via: 'chat.postEphemeral',
          messageTs,
        });
        return ok({ message_ts: messageTs });
      }
      case 'files.getUploadURLExternal': {
        const length = Number(p.length);
        if (typeof p.filename !== 'string' || p.filename === '' || !Number.isFinite(length) || length <= 0) {
          return fail('invalid_arguments');
        }
        const id = `F${randomBytes(5).toString('hex').toUpperCase()}`;
        this.files.set(id, { id, filename: p.filename, length });
        return ok({ upload_url: `${this.baseUrl}/upload/v1/${id}`, file_id: id });
      }
      case 'files.completeUploadExternal': {
        const list = parseJsonArray(p.files) as { id?: string; title?: string }[];
        if (list.length === 0) return fail('invalid_arguments');
        const files: SlackFile[] = [];
        for (const f of list) {
          const file = f.id ? this.files.get(f.id) : undefined;
          if (!file?.bytes) return fail('file_not_found');
          file.title = f.title ?? file.filename;
          files.push(file);
        }
        const channelId =
          typeof p.channel_id === 'string'
            ? p.channel_id
            : typeof p.channels === 'string'
              ? p.channels
              : undefined;
        const now = Date.now();
        if (channelId) {
          const channel = this.resolveChannel(channelId);
          if (!channel) return fail('channel_not_found');
          let threadTs: string | undefined;
          if (typeof p.thread_ts === 'string' && p.thread_ts !== '') {
            const parent = channel.messages.find((m) => m.ts === p.thread_ts && !m.deleted);
            if (!parent) return fail('thread_not_found');
            threadTs = parent.threadTs ?? parent.ts;
            parent.threadTs ??= parent.ts;
          }
          this.addMessage(channel, {
            text: String(p.initial_comment ?? ''),
            blocks: parseJsonArray(p.blocks),
            attachments: [],
            threadTs,
            files,
            via: 'files.completeUploadExternal',
          });
          for (const f of files) {
            f.channelId = channel.id;
            f.threadTs = threadTs;
          }
        }
        for (const f of files) f.completedAt = now;
        return ok({ files: files.map((f) => this.fileJson(f)) });
      }
      case 'conversations.info': {
        const channel = this.resolveChannel(channelParam);
        if (!channel) return fail('channel_not_found');
        return ok({
          channel: {
            id: channel.id,
            name: channel.name,
            is_channel: !channel.isPrivate,
            is_group: false,
            is_im: false,
            is_private: !!channel.isPrivate,
            is_archived: false,
            is_general: channel.name === 'general',
            is_member: true,
            created: 1_700_000_000,
            creator: this.users[0]?.id,
            name_normalized: channel.name,
            topic: { value: '', creator: '', last_set: 0 },
            purpose: { value: '', creator: '', last_set: 0 },
          },
        });
      }
      case 'conversations.replies': {
        const channel = this.resolveChannel(channelParam);
        if (!channel) return fail('channel_not_found');
        const parent = channel.messages.find((m) => m.ts === p.ts && !m.deleted);
        if (!parent) return fail('thread_not_found');
        const root = parent.threadTs ?? parent.ts;
        const msgs = channel.messages.filter((m) => !m.deleted && (m.ts === root || m.threadTs === root));
        return ok({ messages: msgs.map((m) => this.messageJson(m)), has_more: false });
      }
      case 'users.info': {
        const u = this.users.find((x) => x.id === p.user);
        if (!u) return fail('user_not_found');
        return ok({
          user: {
            id: u.id,
            team_id: this.teamId,
            name: u.name,
            real_name: u.realName ?? u.name,
            deleted: false,
            is_admin: !!u.isAdmin,
            is_owner: false,
            is_bot: u.id === this.botUserId,
            tz: 'Europe/Berlin',
            profile: {
              real_name: u.realName ?? u.name,
              display_name: u.name,
              email: `${u.name}@example.test`,
            },
          },
        });
      }
      default:
        return fail('unknown_method');
    }
  }

  private async upload(fileId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await parseBody(req);
    const file = this.files.get(fileId);
    const authorized = String(req.headers.authorization ?? '') === `Bearer ${this.botToken}`;
    const bytes = body.files[0]?.bytes ?? body.raw;
    const record = { at: Date.now(), fileId, status: 200, bytes: bytes.length, authorized };
    this.uploads.push(record);
    if (!file) {
      record.status = 404;
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('file_not_found');
      return;
    }
    file.bytes = bytes;
    file.uploadedAt = Date.now();
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`OK - ${bytes.length}`);
  }

  private async responseUrlPost(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await parseBody(req);
    const rec = this.responseUrls.get(id);
    const json = (body.json ?? {}) as Record<string, unknown>;
    const reply = (status: number, text: string) => {
      rec?.posts.push({ at: Date.now(), status, body: json });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(text);
    };
    if (!rec) return reply(404, 'invalid_url');
    if (Date.now() - rec.createdAt > this.opts.responseUrlLifetimeMs) return reply(404, 'expired_url');
    if (rec.posts.filter((p) => p.status === 200).length >= this.opts.responseUrlMaxPosts) {
      return reply(404, 'used_url');
    }
    const channel = this.channels.get(rec.channelId);
    if (json.delete_original === true && rec.messageTs) {
      const m = channel?.messages.find((x) => x.ts === rec.messageTs);
      if (m) m.deleted = true;
    } else if (json.replace_original === true && rec.messageTs) {
      const m = channel?.messages.find((x) => x.ts === rec.messageTs);
      if (m) {
        if (typeof json.text === 'string') m.text = json.text;
        if (Array.isArray(json.blocks)) m.blocks = json.blocks;
        m.versions.push({ at: Date.now(), text: m.text, blocks: m.blocks });
      }
    } else {
      this.showResponse(rec.channelId, rec.userId, json, 'response_url');
    }
    return reply(200, 'ok');
  }

  /** Shows a response (response_url post or ack payload): in the channel or ephemeral. */
  private showResponse(channelId: string, userId: string, json: Record<string, unknown>, via: string): void {
    const channel = this.channels.get(channelId);
    if (!channel) return;
    const blocks = Array.isArray(json.blocks) ? json.blocks : [];
    const threadTs = typeof json.thread_ts === 'string' ? json.thread_ts : undefined;
    if (json.response_type === 'in_channel') {
      this.addMessage(channel, { text: String(json.text ?? ''), blocks, attachments: [], threadTs, via });
    } else {
      this.ephemerals.push({
        at: Date.now(),
        channel: channelId,
        user: userId,
        text: String(json.text ?? ''),
        blocks,
        threadTs,
        via,
        messageTs: this.nextTs(),
      });
    }
  }

  private resolveChannel(idOrName: string | undefined): SlackChannelModel | undefined {
    if (!idOrName) return undefined;
    const name = idOrName.replace(/^#/, '');
    return this.channels.get(idOrName) ?? [...this.channels.values()].find((c) => c.name === name);
  }

  private addMessage(
    channel: SlackChannelModel,
    m: {
      text: string;
      blocks: unknown[];
      attachments: unknown[];
      threadTs?: string;
      files?: SlackFile[];
      via: string;
    },
  ): SlackMessage {
    const ts = this.nextTs();
    const msg: SlackMessage = {
      ts,
      channel: channel.id,
      threadTs: m.threadTs,
      user: this.botUserId,
      botId: this.botId,
      text: m.text,
      blocks: m.blocks,
      attachments: m.attachments,
      files: m.files ?? [],
      versions: [{ at: Date.now(), text: m.text, blocks: m.blocks }],
      deleted: false,
      via: m.via,
    };
    channel.messages.push(msg);
    return msg;
  }

  /** A new unique, increasing message ts ("seconds.micro"). */
  nextTs(): string {
    const sec = Math.floor(Date.now() / 1000);
    if (sec > this.lastTsSecond) {
      this.lastTsSecond = sec;
      this.tsCounter = 0;
    }
    this.tsCounter++;
    return `${this.lastTsSecond}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  private messageJson(m: SlackMessage): Record<string, unknown> {
    const replies = m.threadTs === m.ts ? this.repliesOf(m.channel, m.ts) : [];
    return {
      type: 'message',
      ts: m.ts,
      user: m.user,
      bot_id: m.botId,
      app_id: this.appId,
      team: this.teamId,
      text: m.text,
      blocks: m.blocks,
      ...(m.attachments.length > 0 ? { attachments: m.attachments } : {}),
      ...(m.files.length > 0 ? { files: m.files.map((f) => this.fileJson(f)), upload: true } : {}),
      ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
      ...(replies.length > 0 ? { reply_count: replies.length, latest_reply: replies.at(-1)!.ts } : {}),
      ...(m.versions.length > 1
        ? { edited: { user: m.user, ts: `${Math.floor(m.versions.at(-1)!.at / 1000)}.000000` } }
        : {}),
    };
  }

  private fileJson(f: SlackFile): Record<string, unknown> {
    return {
      id: f.id,
      name: f.filename,
      title: f.title ?? f.filename,
      mimetype: 'application/octet-stream',
      filetype: f.filename.split('.').pop() ?? 'binary',
      size: f.bytes?.length ?? f.length,
      user: this.botUserId,
      url_private: `${this.baseUrl}/files/${f.id}/${encodeURIComponent(f.filename)}`,
      created: Math.floor((f.uploadedAt ?? Date.now()) / 1000),
    };
  }
}

function parseJsonArray(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v !== 'string' || v === '') return [];
  try {
    const parsed = JSON.parse(v);
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}
