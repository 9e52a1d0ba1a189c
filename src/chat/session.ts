/**
 * The chat session: every flow a chat platform shows, written once for Discord and Slack.
 *
 * - invocation → prepare (look up, authorise, parse: once) → acknowledge → run → reply;
 *   (Discord, Slack and the console alike);
 * - confirmation buttons (`/confirm` as the clicker);
 * - alert buttons and reply buttons (Cancel): their command, run as the clicker;
 * - the run message: posted, its output streamed into a thread (or, where the platform only
 *   appends, line by line under it), edited with the outcome;
 * - completions for autocomplete.
 *
 * A platform adapter only translates (shape after vercel/chat's adapters): a required core
 * (acknowledge, reply, post, edit, thread) and optional capabilities with a fallback when one
 * is missing (private replies, answering a prompt in place, removing dead buttons, uploads in
 * the thread's sink). The adapter never decides anything a command or a permission decides.
 */
import type { AlertAction } from '../core/alerts.js';
import type { Invocation, Reply } from '../core/command.js';
import type { CommandRegistry, Dispatcher } from '../core/dispatch.js';
import { describeError } from '../core/errors.js';
import type { Logger, Operation, RunLog } from '../core/ports.js';
import type { RunEndEvent, RunEvent } from '../core/run-events.js';
import type { Services } from '../services.js';
import { renderRunSummary } from './render-run.js';
import { decodeAction, finishedRunReply } from './reply-actions.js';
import { type MessageSink, type StreamOptions, streamToThread } from './stream/thread-streamer.js';
import type { CompletionSource } from './surface.js';

/** A message SiteFlow showed in a channel, which it may edit and start a thread on. */
export interface Posted<M> {
  /** The adapter's own handle of the message. */
  handle: M;
  channelId: string;
  messageId: string;
}

/** What a click on a button asks for, once the adapter has read the platform's ids. */
export type Click =
  | { kind: 'confirm'; id: string; answer: 'yes' | 'no' }
  | { kind: 'alert'; alertId: string; action: AlertAction | null }
  | { kind: 'command'; id: string }
  | { kind: 'foreign' };

/** How an interaction is acknowledged: a private or public answer follows, or an edit of the clicked message. */
export type AckMode = 'private' | 'public' | 'update';

/**
 * What every platform does for the session. `C` is one interaction (a command, a click) with
 * whatever the adapter needs to answer it; `M` is a posted message.
 */
export interface ChatAdapterCore<C, M> {
  readonly platform: 'discord' | 'slack' | 'console';
  /** The invocation of `command` by the interaction's user in its channel. */
  invocation(ctx: C, command: string, args: Record<string, string>): Promise<Invocation>;
  /** Acknowledges the interaction (platforms that acknowledge on receipt do nothing). */
  ack(ctx: C, how: AckMode): Promise<void>;
  /** Answers in the channel; `note` is a line saying who did what. */
  reply(ctx: C, r: Reply, note?: string): Promise<void>;
  /**
   * Shows `r` as a channel message that is edited later (a run's message, a confirmation
   * prompt). Null when it could not be shown; the adapter has told the user why.
   */
  post(ctx: C, r: Reply, note?: string): Promise<Posted<M> | null>;
  /** Posts `r` as a new message in a channel, with no interaction behind it (a scheduled run). */
  postIn(channelId: string, r: Reply): Promise<Posted<M>>;
  /** Replaces a posted message with `r`. */
  edit(m: M, r: Reply, note?: string): Promise<void>;
  /** Optional: a reply only the interaction's user sees. Fallback: the reply in the channel. */
  ephemeral?(ctx: C, r: Reply): Promise<void>;
  /**
   * Optional: marks the clicked confirmation prompt answered in place (`note`, no buttons);
   * the outcome then comes as a message of its own. Fallback: the outcome replaces the prompt.
   */
  closePrompt?(ctx: C, note: string): Promise<void>;
  /** Optional: removes the dead buttons of the clicked message. Fallback: they stay (a click is answered as stale). */
  dropButtons?(ctx: C): Promise<void>;
}

/** A platform that edits messages (Discord, Slack): a run's output goes into a thread, post-then-edit. */
export interface ChatAdapter<C, M> extends ChatAdapterCore<C, M> {
  /** Limits and markup of streamed run output. */
  readonly stream: Omit<StreamOptions, 'logger'>;
  /** A thread on the message for a run's output (the adapter falls back to the channel). */
  thread(m: Posted<M>, title: string): Promise<{ sink: MessageSink; threadId: string | null }>;
}

/**
 * A platform that only appends (the console's terminal): a run's output is written line by line
 * as it comes, then `summary(end)`; resolves to how the run ended.
 */
export interface AppendOnlyAdapter<C, M> extends ChatAdapterCore<C, M> {
  appendRun(
    posted: Posted<M>,
    opId: string,
    events: AsyncIterable<RunEvent>,
    summary: (end: RunEndEvent) => string,
  ): Promise<RunEndEvent>;
}

/** What the session needs from main.ts (a part of SurfaceDeps). */
export interface SessionDeps {
  dispatcher: Dispatcher<Services>;
  registry: CommandRegistry<Services>;
  services: Pick<Services, 'runner' | 'operations' | 'monitor'>;
  runLog: RunLog;
  logger: Logger;
  completions: CompletionSource;
  /** Longest time completions may take before an empty answer (default 2 s). */
  completionTimeoutMs?: number;
}

/** `p`, or `fallback` once `ms` have passed. */
async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<F>((r) => (timer = setTimeout(() => r(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A private notice (a click SiteFlow cannot act on). */
function notice(title: string): Reply {
  return { status: 'invalid', title, blocks: [], ephemeral: true };
}

/** Every chat flow, once, over one platform adapter. */
export class ChatSession<C, M> {
  private readonly runs = new Set<Promise<void>>();

  constructor(
    private readonly deps: SessionDeps,
    private readonly adapter: ChatAdapter<C, M> | AppendOnlyAdapter<C, M>,
  ) {}

  /** A typed command: parsed and authorised once; the acknowledgement is private when the answer is. */
  async command(ctx: C, inv: Invocation, problems?: string[]): Promise<void> {
    const prepared = this.deps.dispatcher.prepare(inv, problems ? { problems } : {});
    await this.adapter.ack(ctx, prepared.privately ? 'private' : 'public');
    const r = await prepared.run();
    await this.deliver(ctx, inv, r, prepared.privately);
  }

  /** A click on one of SiteFlow's buttons. */
  async click(ctx: C, click: Click): Promise<void> {
    switch (click.kind) {
      case 'confirm':
        return this.confirm(ctx, click.id, click.answer);
      case 'alert': {
        const cmd = click.action ? this.deps.services.monitor?.actionFor(click.alertId, click.action) : null;
        if (!cmd) return this.private(ctx, notice('This alert is no longer known to SiteFlow.'));
        return this.command(ctx, await this.adapter.invocation(ctx, cmd.command, cmd.args));
      }
      case 'command': {
        const cmd = decodeAction(click.id);
        if (!cmd) return this.private(ctx, notice('This button is not one of SiteFlow’s.'));
        return this.command(ctx, await this.adapter.invocation(ctx, cmd.command, cmd.args));
      }
      case 'foreign':
        return this.private(ctx, notice('This button is not one of SiteFlow’s.'));
    }
  }

  /**
   * A reply no interaction asked for (a scheduled run) posted in `channelId`; its run is followed
   * like a typed one's: output in the message's thread, the outcome edited in.
   */
  async announce(channelId: string, r: Reply): Promise<void> {
    const posted = await this.adapter.postIn(channelId, r);
    if (r.operationId) this.follow(posted, r, r.operationId, r.title.split(':')[0]!);
  }

  /** Completion candidates for the option `option` of `command` (choices, or the in-memory sources). */
  async complete(
    command: string,
    option: string,
    typed: string,
    args: Record<string, string>,
  ): Promise<string[]> {
    const spec = this.deps.registry.get(command)?.options[option];
    if (spec?.choices) return spec.choices.filter((c) => c.toLowerCase().includes(typed.toLowerCase()));
    if (!spec?.completion) return [];
    const names = this.deps.completions(spec.completion, typed, args).catch(() => [] as string[]);
    return within(names, this.deps.completionTimeoutMs ?? 2000, [] as string[]);
  }

  /** Resolves once every run followed so far has finished (for tests). */
  async idle(): Promise<void> {
    while (this.runs.size) await Promise.allSettled([...this.runs]);
  }

  /** Waits (at most `ms`) for the followed runs to post their outcome (shutdown). */
  async settle(ms = 10_000): Promise<void> {
    await within(Promise.allSettled([...this.runs]), ms, null);
  }

  /** A confirmation button: `/confirm` as the clicker; a refusal is private and changes nothing. */
  private async confirm(ctx: C, id: string, answer: 'yes' | 'no'): Promise<void> {
    const a = this.adapter;
    await a.ack(ctx, 'update');
    const inv = await a.invocation(ctx, 'confirm', { id, answer });
    const r = await this.deps.dispatcher.dispatch(inv);
    if (r.status !== 'ok') {
      // Foreign, stale or expired: only the clicker hears of it.
      await this.private(ctx, r);
      // The request is gone (used, cancelled or expired): its buttons are dead.
      if (r.status === 'invalid') await a.dropButtons?.(ctx).catch(() => {});
      return;
    }
    const note = `${answer === 'yes' ? 'Confirmed' : 'Called off'} by ${inv.user.name}`;
    if (!a.closePrompt) return this.deliver(ctx, inv, r, false, note);
    await a
      .closePrompt(ctx, note)
      .catch((e) => this.log().warn({ err: describeError(e) }, 'could not update the confirmation message'));
    if (answer === 'yes') await this.deliver(ctx, inv, r, false);
  }

  /** Shows a reply: privately, as a run message that follows the run, as a prompt, or in the channel. */
  private async deliver(ctx: C, inv: Invocation, r: Reply, privately: boolean, note?: string): Promise<void> {
    if (privately || r.ephemeral || r.status === 'denied') return this.private(ctx, r);
    if (!r.operationId && !r.confirm) return this.adapter.reply(ctx, r, note);
    const posted = await this.adapter.post(ctx, r, note);
    if (posted && r.operationId) this.follow(posted, r, r.operationId, inv.user.name, note);
  }

  private private(ctx: C, r: Reply): Promise<void> {
    return this.adapter.ephemeral ? this.adapter.ephemeral(ctx, r) : this.adapter.reply(ctx, r);
  }

  private log(): Logger {
    return this.deps.logger;
  }

  /** Streams a run into a thread on its message (in the background), then edits in the outcome. */
  private follow(posted: Posted<M>, r: Reply, opId: string, who: string, note?: string): void {
    const p = this.runStream(posted, r, opId, who, note)
      .catch((e) => this.log().warn({ err: describeError(e), operation: opId }, 'streaming a run failed'))
      .finally(() => this.runs.delete(p));
    this.runs.add(p);
  }

  private async runStream(posted: Posted<M>, r: Reply, opId: string, who: string, note?: string) {
    const { services } = this.deps;
    const a = this.adapter;
    // Subscribe at once: the hub replays from the start, and reading never waits for the chat.
    const events = services.runner.events(opId);
    const op = services.operations.get(opId);
    const summary = (end: RunEndEvent) => renderRunSummary(opId, end, op?.requestedBy.name ?? who);
    const end =
      'appendRun' in a
        ? await a.appendRun(posted, opId, events, summary)
        : await this.streamThread(a, posted, r, opId, op, events, summary);
    // The run's first message says how it ended; its Cancel button is gone.
    await a
      .edit(posted.handle, finishedRunReply(r, end), note)
      .catch((e) =>
        this.log().warn({ err: describeError(e), operation: opId }, 'could not update the run message'),
      );
  }

  /** A run's output in a thread on its message, post-then-edit; the thread is recorded with the operation. */
  private async streamThread(
    a: ChatAdapter<C, M>,
    posted: Posted<M>,
    r: Reply,
    opId: string,
    op: Operation | null,
    events: AsyncIterable<RunEvent>,
    summary: (end: RunEndEvent) => string,
  ): Promise<RunEndEvent> {
    const { services, runLog } = this.deps;
    const { sink, threadId } = await a.thread(posted, r.title);
    try {
      services.operations.update(opId, {
        output: { platform: a.platform, channelId: posted.channelId, threadId, messageId: posted.messageId },
      });
    } catch (e) {
      this.log().warn({ err: describeError(e), operation: opId }, 'could not record the output location');
    }
    const report = await streamToThread(
      events,
      sink,
      { ...a.stream, logger: this.log() },
      {
        summary,
        readLog: async () => {
          const path = services.operations.get(opId)?.logPath ?? op?.logPath;
          if (!path) throw new Error(`no log for ${opId}`);
          return runLog.read(path);
        },
        filename: `${opId}.log`,
      },
    );
    return report.end;
  }
}
