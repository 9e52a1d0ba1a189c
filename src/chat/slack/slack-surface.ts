/**
 * The Slack chat surface (@slack/bolt 5), in HTTP mode (signed requests on
 * SLACK_PORT/slack/events) or Socket Mode (SLACK_APP_TOKEN): the connection, the workspace
 * check and the listeners. Every slash command and button click is acknowledged at once and
 * handed to the chat session (../session.ts) through the Slack adapter (./slack-adapter.ts).
 * Commands come as one umbrella command (`/siteflow restart blog`), as individual commands
 * (`/restart blog`) or both (SLACK_COMMANDS), parsed like the console's lines.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { webApi } from '@slack/bolt';
import {
  type AllMiddlewareArgs,
  App,
  type BlockAction,
  type Logger as BoltLogger,
  type ButtonAction,
  HTTPReceiver,
  LogLevel,
  type RespondFn,
  type SlackActionMiddlewareArgs,
  type SlackCommandMiddlewareArgs,
} from '@slack/bolt';
import { parseAlertSlackActionId } from '../../core/alerts.js';
import type { ChatUser, Reply } from '../../core/command.js';
import { readCommandArgs, readCommandLine } from '../../core/command-line.js';
import { describeError, SiteFlowError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';
import { AcksFirst } from '../acks-first.js';
import { ChatSession, type Click } from '../session.js';
import type { ChatSurface, SurfaceDeps } from '../surface.js';
import { servedCommands, slashNames, UMBRELLA_COMMAND } from './served-commands.js';
import { SlackAdapter, type SlackCtx, type SlackMessageRef } from './slack-adapter.js';
import { SlackAlertChannel } from './slack-alert-channel.js';
import { ACTION_ID_RE, CONFIRM_NO, CONFIRM_YES, LINK_ACTION, type SlackBlock } from './slack-blocks.js';
import { SlackUserGroups } from './user-groups.js';

/** How runs are streamed into a Slack thread. */
export const SLACK_STREAM = {
  /** Section text limit. */
  maxChars: 3000,
  /** chat.update is Tier 3 (about 50 per minute). */
  minIntervalMs: 1200,
  maxMessages: 8,
} as const;

/**
 * Bounded retries of the Web API client (the default retries for about 30 minutes). A 429
 * waits its retry-after and counts as one attempt.
 */
export const SLACK_RETRY: webApi.RetryOptions = {
  retries: 5,
  factor: 2,
  minTimeout: 500,
  maxTimeout: 15_000,
  randomize: true,
};

/** Largest request body read (before the signature is checked); Slack's payloads are far smaller. */
export const SLACK_BODY_LIMIT = 1024 * 1024;

/**
 * Bolt's HTTP receiver with two more checks: the body limit (applied while the body is read,
 * before the signature check) and a request timestamp more than 5 minutes in the future refused
 * like a stale one (Bolt refuses only old ones).
 * https://api.slack.com/authentication/verifying-requests-from-slack
 */
function hardenedReceiver(signingSecret: string, logger: BoltLogger, acks: AcksFirst): HTTPReceiver {
  const receiver = new HTTPReceiver({ signingSecret, logger, bodyLimit: SLACK_BODY_LIMIT });
  const inner = receiver.requestListener;
  receiver.requestListener = (req, res) => {
    acks.received(res);
    const ts = Number(req.headers['x-slack-request-timestamp']);
    if (Number.isFinite(ts) && ts > Date.now() / 1000 + 5 * 60) {
      logger.warn('Slack request refused: its timestamp is more than 5 minutes in the future');
      res.writeHead(401).end();
      return;
    }
    return inner(req, res);
  };
  return receiver;
}

/** Overrides for tests and benchmarks. */
export interface SlackSurfaceOptions {
  retryConfig?: webApi.RetryOptions;
  /** Interface the HTTP receiver listens on (SLACK_HOST when unset). */
  host?: string;
  /** Streaming pace (tests may shorten it). */
  stream?: Partial<typeof SLACK_STREAM>;
}

type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;
type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** The Slack surface. */
export class SlackSurface implements ChatSurface {
  readonly platform = 'slack' as const;
  /** `socket` when SLACK_APP_TOKEN is set, else `http`. */
  readonly mode: 'http' | 'socket';
  private readonly app: App;
  private readonly client: webApi.WebClient;
  private readonly groups: SlackUserGroups | null;
  private readonly log: Logger;
  private readonly work = new Set<Promise<void>>();
  private readonly acks: AcksFirst;
  private readonly adapter: SlackAdapter;
  private readonly session: ChatSession<SlackCtx, SlackMessageRef>;
  private server: Server | null = null;
  private alertChannelAdded = false;
  /** The bot token's own team and enterprise (auth.test), filled at start. */
  private home: { team: string | null; enterprise: string | null } | null = null;

  constructor(
    private readonly deps: SurfaceDeps,
    private readonly opts: SlackSurfaceOptions = {},
  ) {
    const c = deps.config;
    if (!c.SLACK_BOT_TOKEN) throw new SiteFlowError('SLACK_CONFIG', 'SLACK_BOT_TOKEN is not set');
    if (!c.SLACK_APP_TOKEN && !c.SLACK_SIGNING_SECRET)
      throw new SiteFlowError(
        'SLACK_CONFIG',
        'Slack needs SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode) besides SLACK_BOT_TOKEN',
      );
    this.mode = c.SLACK_APP_TOKEN ? 'socket' : 'http';
    this.log = deps.logger.child({ surface: 'slack' });
    const clientOptions = {
      retryConfig: opts.retryConfig ?? SLACK_RETRY,
      // Without it a request that never answers waits forever (the WebClient's default is none);
      // a timed-out request is retried by retryConfig.
      timeout: c.CHAT_REQUEST_TIMEOUT_SECONDS * 1000,
      ...(c.SLACK_API_URL ? { slackApiUrl: c.SLACK_API_URL } : {}),
    };
    const logger = boltLogger(this.log);
    this.acks = new AcksFirst();
    this.app =
      this.mode === 'socket'
        ? new App({
            token: c.SLACK_BOT_TOKEN,
            appToken: c.SLACK_APP_TOKEN,
            socketMode: true,
            // No conversation state is kept: skip Bolt's store lookup (a rejected promise) per request.
            convoStore: false,
            clientOptions,
            installerOptions: { clientOptions },
            logger,
          })
        : new App({
            token: c.SLACK_BOT_TOKEN,
            receiver: hardenedReceiver(c.SLACK_SIGNING_SECRET, logger, this.acks),
            convoStore: false,
            clientOptions,
            logger,
          });
    this.client = this.app.client;
    const principals = [...c.ADMINS, ...c.OPERATORS];
    this.groups = principals.some((p) => p.startsWith('slack:group:'))
      ? new SlackUserGroups(this.client, deps.clock, this.log)
      : null;
    this.adapter = new SlackAdapter(this.client, deps.clock, this.log, (id, name) => this.userOf(id, name), {
      ...SLACK_STREAM,
      ...opts.stream,
    });
    this.session = new ChatSession({ ...deps, logger: this.log }, this.adapter);
    this.register();
  }

  /** The bound port of the HTTP receiver (null before start and in Socket Mode). */
  get port(): number | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? (a as AddressInfo).port : null;
  }

  /** Slash command names served, per SLACK_COMMANDS (with the leading slash). */
  commandNames(): string[] {
    const names = this.deps.registry.all().map((c) => c.name);
    return slashNames(servedCommands(this.deps.config.SLACK_COMMANDS, names));
  }

  async start(): Promise<void> {
    // Whose requests to serve: the workspace the bot token belongs to (plus SLACK_ALLOWED_TEAMS).
    const me = await this.client.auth.test();
    this.home = { team: me.team_id ?? null, enterprise: me.enterprise_id ?? null };
    this.addAlertChannel();
    const alertChannel = this.deps.config.SLACK_ALERT_CHANNEL;
    if (alertChannel)
      this.deps.services.schedules?.addOutput({
        name: 'slack',
        announce: async (r) => this.track(this.session.announce(alertChannel, r)),
      });
    if (this.mode === 'socket') {
      await this.app.start();
      this.log.info({ mode: 'socket' }, 'Slack surface connected (Socket Mode)');
      return;
    }
    const listen = { port: this.deps.config.SLACK_PORT, host: this.opts.host ?? this.deps.config.SLACK_HOST };
    this.server = (await this.app.start(listen)) as Server;
    this.log.info({ mode: 'http', port: this.port, path: '/slack/events' }, 'Slack surface listening');
  }

  /** Alerts go to SLACK_ALERT_CHANNEL; the delivery queue retries while Slack is unreachable. */
  private addAlertChannel(): void {
    const channel = this.deps.config.SLACK_ALERT_CHANNEL;
    if (!channel || !this.deps.services.monitor || this.alertChannelAdded) return;
    this.deps.services.monitor.addChannel(new SlackAlertChannel(this.app.client, channel));
    this.alertChannelAdded = true;
  }

  async stop(): Promise<void> {
    await this.app.stop().catch((e) => this.log.warn({ err: describeError(e) }, 'Slack app stop failed'));
    // Streams end with their runs (stopped before the surfaces); do not wait forever.
    await Promise.race([
      Promise.allSettled([...this.work, this.session.idle()]),
      new Promise((r) => setTimeout(r, 10_000).unref()),
    ]);
    this.server = null;
  }

  /**
   * Whether a request's team/enterprise is served: the bot token's own team, an org-wide
   * install's own enterprise (no team), or one listed in SLACK_ALLOWED_TEAMS.
   */
  private serves(team: string | undefined, enterprise: string | undefined): boolean {
    const extra = this.deps.config.SLACK_ALLOWED_TEAMS;
    if (team && (team === this.home?.team || extra.includes(team))) return true;
    if (enterprise && extra.includes(enterprise)) return true;
    return !team && !!enterprise && enterprise === this.home?.enterprise;
  }

  private register(): void {
    // Before every listener: a request from another workspace is acknowledged, refused and audited.
    this.app.use(async (a) => {
      const { context } = a;
      if (this.serves(context.teamId, context.enterpriseId)) return a.next();
      const body = a.body as {
        user_id?: string;
        user_name?: string;
        user?: { id?: string; name?: string };
        command?: string;
        channel_id?: string;
      };
      if ('ack' in a && typeof a.ack === 'function') await (a.ack as () => Promise<void>)();
      const r = this.deps.dispatcher.refuse(
        {
          platform: 'slack',
          user: {
            id: body.user_id ?? body.user?.id ?? '',
            name: body.user_name ?? body.user?.name ?? '',
            roles: [],
          },
          channelId: body.channel_id ?? '',
          command: (body.command ?? '').replace(/^\//, '') || 'action',
          args: {},
          receivedAt: this.deps.clock.now(),
        },
        'team',
        { team: context.teamId ?? null, enterprise: context.enterpriseId ?? null },
      );
      if ('respond' in a && typeof a.respond === 'function') this.track(this.say(a.respond as RespondFn, r));
    });
    const served = new Set(this.commandNames());
    this.app.command(/^\/.+/, async (a: CommandArgs) => {
      await a.ack();
      const name = a.command.command.toLowerCase();
      if (!served.has(name)) {
        this.track(
          this.say(a.respond, {
            ...textOnly('invalid', `${name} is not served here`),
            blocks: [{ kind: 'text', text: `Use ${[...served].join(', ')}.` }],
          }),
        );
        return;
      }
      this.later(() => this.onCommand(a));
    });
    const click = (read: (action: ButtonAction) => Click) => async (a: ButtonArgs) => {
      await a.ack();
      this.later(() => this.onClick(a, read(a.action)));
    };
    this.app.action(
      CONFIRM_YES,
      click((x) => ({ kind: 'confirm', id: x.value ?? '', answer: 'yes' })),
    );
    this.app.action(
      CONFIRM_NO,
      click((x) => ({ kind: 'confirm', id: x.value ?? '', answer: 'no' })),
    );
    this.app.action(
      ACTION_ID_RE,
      click((x) => ({ kind: 'command', id: x.value ?? '' })),
    );
    this.app.action(new RegExp(`^${LINK_ACTION}_\\d+$`), async ({ ack }) => {
      await ack();
    });
    this.app.action(
      /^sf_alert_[a-z]+$/,
      click((x) => ({ kind: 'alert', alertId: x.value ?? '', action: parseAlertSlackActionId(x.action_id) })),
    );
    this.app.error(async (e) => {
      this.log.error({ err: describeError(e) }, 'Slack event failed');
    });
  }

  /** Runs `fn` after the acknowledgements of the requests already received (acks first, work after). */
  private later(fn: () => Promise<void>): void {
    this.track(this.acks.later(fn));
  }

  private track(p: Promise<void>): void {
    const t = p
      .catch((e) => this.log.error({ err: describeError(e) }, 'Slack event handling failed'))
      .finally(() => this.work.delete(t));
    this.work.add(t);
  }

  private async userOf(id: string, name: string | undefined): Promise<ChatUser> {
    const roles = this.groups ? await this.groups.groupsOf(id) : [];
    return { id, name: name || id, roles };
  }

  private async onCommand({ command, respond }: CommandArgs): Promise<void> {
    const name = command.command.replace(/^\//, '').toLowerCase();
    const lookup = (n: string) => this.deps.registry.get(n);
    // Unreadable input still goes through the dispatcher: the permission check comes first and
    // the attempt is audited.
    const read =
      name === UMBRELLA_COMMAND
        ? readCommandLine(command.text.trim() || 'help', lookup)
        : readCommandArgs(name, command.text, lookup);
    const ctx: SlackCtx = {
      channel: command.channel_id,
      userId: command.user_id,
      userName: command.user_name,
      respond,
    };
    const inv = await this.adapter.invocation(ctx, read.command, read.args);
    await this.session.command(ctx, inv, read.problems);
  }

  /** A button click: its channel, user and message, handed to the session. */
  private async onClick({ body, respond }: ButtonArgs, click: Click): Promise<void> {
    const container = body.container as { channel_id?: string; message_ts?: string };
    const ts = body.message?.ts ?? container.message_ts;
    await this.session.click(
      {
        channel: body.channel?.id ?? container.channel_id ?? '',
        userId: body.user.id,
        userName: body.user.username ?? body.user.name,
        respond,
        ...(ts ? { message: { ts, blocks: body.message?.blocks as SlackBlock[] | undefined } } : {}),
      },
      click,
    );
  }

  /** Answers a request refused before the session (another workspace, a command not served). */
  private async say(respond: RespondFn, r: Reply): Promise<void> {
    await this.adapter.ephemeral({ channel: '', userId: '', userName: undefined, respond }, r);
  }
}

function textOnly(status: Reply['status'], title: string): Reply {
  return { status, title, blocks: [], ephemeral: true };
}

/** Bolt's logger on top of SiteFlow's. */
function boltLogger(l: Logger): BoltLogger {
  let level = LogLevel.INFO;
  const text = (m: unknown[]) => m.map((x) => (typeof x === 'string' ? x : describeError(x))).join(' ');
  return {
    debug: (...m: unknown[]) => l.debug({ bolt: true }, text(m)),
    info: (...m: unknown[]) => l.info({ bolt: true }, text(m)),
    warn: (...m: unknown[]) => l.warn({ bolt: true }, text(m)),
    error: (...m: unknown[]) => l.error({ bolt: true }, text(m)),
    setLevel: (x: LogLevel) => {
      level = x;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
