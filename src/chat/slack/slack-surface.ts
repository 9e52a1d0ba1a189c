/**
 * The Slack chat surface (@slack/bolt 5), in HTTP mode (signed requests on
 * SLACK_PORT/slack/events) or Socket Mode (SLACK_APP_TOKEN). Every slash command and
 * button click is acknowledged at once and worked on afterwards. Commands come as one
 * umbrella command (`/siteflow restart blog`), as individual commands (`/restart blog`) or
 * both (SLACK_COMMANDS), parsed like the console's lines. A run gets a parent message in
 * the channel and streams into its thread; plain replies go back through response_url
 * (ephemeral when the reply says so); confirmations are Block Kit buttons.
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
import type { ChatUser, Invocation, Reply } from '../../core/command.js';
import { readCommandArgs, readCommandLine } from '../../core/command-line.js';
import { describeError, SiteFlowError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';
import { renderRunSummary } from '../render-run.js';
import { decodeAction, finishedRunReply } from '../reply-actions.js';
import { streamToThread } from '../stream/thread-streamer.js';
import type { ChatSurface, SurfaceDeps } from '../surface.js';
import { servedCommands, slashNames, UMBRELLA_COMMAND } from './served-commands.js';
import { SlackAlertChannel } from './slack-alert-channel.js';
import {
  ACTION_ID_RE,
  answeredBlocks,
  CONFIRM_NO,
  CONFIRM_YES,
  escapeMrkdwn,
  LINK_ACTION,
  replyMessage,
  type SlackBlock,
  textSections,
} from './slack-blocks.js';
import { SlackThreadSink, wrapCode } from './slack-sink.js';
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
function hardenedReceiver(signingSecret: string, logger: BoltLogger): HTTPReceiver {
  const receiver = new HTTPReceiver({ signingSecret, logger, bodyLimit: SLACK_BODY_LIMIT });
  const inner = receiver.requestListener;
  receiver.requestListener = (req, res) => {
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

/** Where a reply goes: the channel, the user and the response_url of the event. */
interface Target {
  channel: string;
  user: ChatUser;
  respond: RespondFn;
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
  private readonly stream: typeof SLACK_STREAM;
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
    this.stream = { ...SLACK_STREAM, ...opts.stream };
    const clientOptions = {
      retryConfig: opts.retryConfig ?? SLACK_RETRY,
      // Without it a request that never answers waits forever (the WebClient's default is none);
      // a timed-out request is retried by retryConfig.
      timeout: c.CHAT_REQUEST_TIMEOUT_SECONDS * 1000,
      ...(c.SLACK_API_URL ? { slackApiUrl: c.SLACK_API_URL } : {}),
    };
    const logger = boltLogger(this.log);
    this.app =
      this.mode === 'socket'
        ? new App({
            token: c.SLACK_BOT_TOKEN,
            appToken: c.SLACK_APP_TOKEN,
            socketMode: true,
            clientOptions,
            installerOptions: { clientOptions },
            logger,
          })
        : new App({
            token: c.SLACK_BOT_TOKEN,
            receiver: hardenedReceiver(c.SLACK_SIGNING_SECRET, logger),
            clientOptions,
            logger,
          });
    this.client = this.app.client;
    const principals = [...c.ADMINS, ...c.OPERATORS];
    this.groups = principals.some((p) => p.startsWith('slack:group:'))
      ? new SlackUserGroups(this.client, deps.clock, this.log)
      : null;
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
        announce: async (r) => this.track(this.postRun(alertChannel, r)),
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
      Promise.allSettled([...this.work]),
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
    this.app.action(CONFIRM_YES, async (a: ButtonArgs) => {
      await a.ack();
      this.later(() => this.onConfirm(a, 'yes'));
    });
    this.app.action(CONFIRM_NO, async (a: ButtonArgs) => {
      await a.ack();
      this.later(() => this.onConfirm(a, 'no'));
    });
    this.app.action(ACTION_ID_RE, async (a: ButtonArgs) => {
      await a.ack();
      this.later(() => this.onReplyAction(a));
    });
    this.app.action(new RegExp(`^${LINK_ACTION}_\\d+$`), async ({ ack }) => {
      await ack();
    });
    this.app.action(/^sf_alert_(restart|logs|silence|ack)$/, async (a: ButtonArgs) => {
      await a.ack();
      this.later(() => this.onAlertAction(a));
    });
    this.app.error(async (e) => {
      this.log.error({ err: describeError(e) }, 'Slack event failed');
    });
  }

  /** Runs `fn` after the acknowledgements of requests already waiting (acks first, work after). */
  private later(fn: () => Promise<void>): void {
    this.track(new Promise<void>((r) => setImmediate(r)).then(fn));
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
    const user = await this.userOf(command.user_id, command.user_name);
    const inv: Invocation = {
      platform: 'slack',
      user,
      channelId: command.channel_id,
      command: read.command,
      args: read.args,
      receivedAt: this.deps.clock.now(),
    };
    const r = await this.deps.dispatcher.dispatch(inv, read.problems ? { problems: read.problems } : {});
    await this.deliver(r, { channel: command.channel_id, user, respond });
  }

  private async onConfirm({ body, action, respond }: ButtonArgs, answer: 'yes' | 'no'): Promise<void> {
    const channel = body.channel?.id ?? (body.container as { channel_id?: string }).channel_id ?? '';
    const messageTs = body.message?.ts ?? (body.container as { message_ts?: string }).message_ts;
    const user = await this.userOf(body.user.id, body.user.username ?? body.user.name);
    const r = await this.deps.dispatcher.dispatch({
      platform: 'slack',
      user,
      channelId: channel,
      command: 'confirm',
      args: { id: action.value ?? '', answer },
      receivedAt: this.deps.clock.now(),
    });
    if (r.status !== 'ok') {
      // Stale, expired or someone else's: tell only the clicker; the prompt stays as it is.
      await this.say(respond, { ...r, ephemeral: true });
      return;
    }
    if (messageTs) {
      const note = answer === 'yes' ? `Confirmed by ${user.name}` : `Called off by ${user.name}`;
      const blocks = (body.message?.blocks as SlackBlock[] | undefined) ?? textSections(note);
      await this.client.chat
        .update({ channel, ts: messageTs, text: escapeMrkdwn(note), blocks: answeredBlocks(blocks, note) })
        .catch((e) => this.log.warn({ err: describeError(e) }, 'could not update the confirmation message'));
    }
    if (answer === 'yes') await this.deliver(r, { channel, user, respond });
  }

  /**
   * An alert's Restart / Logs / Silence 1h / Ack button: the same command as typed, run as
   * the clicking user, so permissions and the audit log apply exactly as for slash commands.
   */
  private async onAlertAction({ body, action, respond }: ButtonArgs): Promise<void> {
    const kind = parseAlertSlackActionId(action.action_id);
    const cmd = kind ? this.deps.services.monitor?.actionFor(action.value ?? '', kind) : null;
    if (!cmd) {
      await this.say(respond, {
        ...textOnly('invalid', 'This alert is no longer known to SiteFlow.'),
        ephemeral: true,
      });
      return;
    }
    await this.runAsClicker({ body, respond }, cmd.command, cmd.args);
  }

  /** A reply's command button (e.g. Cancel on a run): its command, run as the clicking user. */
  private async onReplyAction({ body, action, respond }: ButtonArgs): Promise<void> {
    const cmd = decodeAction(action.value ?? '');
    if (!cmd) {
      await this.say(respond, {
        ...textOnly('invalid', 'This button is not one of SiteFlow’s.'),
        ephemeral: true,
      });
      return;
    }
    await this.runAsClicker({ body, respond }, cmd.command, cmd.args);
  }

  /** Dispatches `command` as the user who clicked a button and shows the reply. */
  private async runAsClicker(
    { body, respond }: Pick<ButtonArgs, 'body' | 'respond'>,
    command: string,
    args: Record<string, string>,
  ): Promise<void> {
    const channel = body.channel?.id ?? (body.container as { channel_id?: string }).channel_id ?? '';
    const user = await this.userOf(body.user.id, body.user.username ?? body.user.name);
    const r = await this.deps.dispatcher.dispatch({
      platform: 'slack',
      user,
      channelId: channel,
      command,
      args,
      receivedAt: this.deps.clock.now(),
    });
    await this.deliver(r, { channel, user, respond });
  }

  /** Shows a reply: streams a run, posts a confirmation, or answers in channel / ephemerally. */
  private async deliver(r: Reply, t: Target): Promise<void> {
    if (r.operationId) return this.streamRun(r, r.operationId, t);
    if (r.confirm) {
      try {
        await this.client.chat.postMessage({ channel: t.channel, ...replyMessage(r) });
      } catch (e) {
        this.log.warn({ err: describeError(e) }, 'could not post the confirmation in the channel');
        await this.say(t.respond, { ...r, ephemeral: false });
      }
      return;
    }
    await this.say(t.respond, r);
  }

  /** Answers through response_url: ephemeral when the reply asks (denials always), else in channel. */
  private async say(respond: RespondFn, r: Reply): Promise<void> {
    const ephemeral = r.ephemeral === true || r.status === 'denied';
    try {
      await respond({ response_type: ephemeral ? 'ephemeral' : 'in_channel', ...replyMessage(r) });
    } catch (e) {
      this.log.warn({ err: describeError(e) }, 'could not answer through response_url');
    }
  }

  /**
   * Posts a reply that no command asked for (a scheduled run) in a channel, its run streamed
   * into the message's thread like a slash command's.
   */
  private async postRun(channel: string, r: Reply): Promise<void> {
    // Nobody to answer privately: what would be an answer is a message in the channel.
    const respond = (async () => {
      await this.client.chat.postMessage({ channel, ...replyMessage(r) });
    }) as unknown as RespondFn;
    await this.deliver(r, {
      channel,
      user: { id: 'schedule', name: r.title.split(':')[0]!, roles: [] },
      respond,
    });
  }

  private async streamRun(r: Reply, opId: string, t: Target): Promise<void> {
    const events = this.deps.services.runner.events(opId);
    let parentTs: string;
    try {
      const parent = await this.client.chat.postMessage({ channel: t.channel, ...replyMessage(r) });
      parentTs = parent.ts ?? '';
    } catch (e) {
      // The run goes on; the user learns why nothing appears (e.g. the bot is not in the channel).
      this.log.warn({ err: describeError(e), operation: opId }, 'could not post the run message');
      await this.say(t.respond, {
        ...r,
        blocks: [
          ...r.blocks,
          {
            kind: 'text',
            text: `I cannot post in this channel (${describeError(e)}); invite me to follow the output here.`,
          },
        ],
        ephemeral: true,
      });
      for await (const _ of events); // drain so the hub forgets this subscriber
      return;
    }
    const report = await streamToThread(
      events,
      new SlackThreadSink(this.client, t.channel, parentTs),
      { ...this.stream, wrap: wrapCode, logger: this.log },
      {
        summary: (end) => renderRunSummary(opId, end, t.user.name),
        readLog: async () => {
          const op = this.deps.services.operations.get(opId);
          if (!op?.logPath) throw new Error(`no log for ${opId}`);
          return this.deps.runLog.read(op.logPath);
        },
        filename: `${opId}.log`,
      },
    );
    const done = replyMessage(finishedRunReply(r, report.end));
    await this.client.chat
      .update({ channel: t.channel, ts: parentTs, ...done })
      .catch((e) => this.log.warn({ err: describeError(e) }, 'could not update the run message'));
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
