/**
 * The console adapter of the chat session: translation only. A typed line comes in and becomes
 * an invocation (parsed like Slack's umbrella command: `/restart blog web`,
 * `/audit site:blog limit:5`); replies and run output go out as lines of text. A terminal only
 * appends: there are no threads, no edits and no private replies, so a run's output is printed
 * line by line under its reply and its summary line is its outcome. Buttons are shown as the
 * commands they run (`[Cancel: /cancel operation:op_…]`), and typing one runs it.
 */
import type { Writable } from 'node:stream';
import type { Invocation, Reply } from '../../core/command.js';
import { type ReadCommand, readCommandLine } from '../../core/command-line.js';
import type { CommandRegistry } from '../../core/dispatch.js';
import type { Clock } from '../../core/ports.js';
import { endedEarly, type RunEndEvent, type RunEvent } from '../../core/run-events.js';
import { renderRunEvent } from '../render-run.js';
import { renderReplyText } from '../render-text.js';
import { actionHints } from '../reply-actions.js';
import type { AppendOnlyAdapter, ChatSession, Posted } from '../session.js';

/** One typed line being answered. */
export interface ConsoleCtx {
  line: string;
}

/** The console as a chat adapter: lines in, lines out. */
export class ConsoleAdapter implements AppendOnlyAdapter<ConsoleCtx, number> {
  readonly platform = 'console' as const;
  private printed = 0;

  constructor(
    private readonly deps: {
      output: Writable;
      clock: Clock;
      user: string;
      registry: Pick<CommandRegistry<unknown>, 'get' | 'all'>;
    },
  ) {}

  /** A typed line as a command name, its arguments and the problems found reading it. */
  read(line: string): ReadCommand {
    return readCommandLine(line, (name) => this.deps.registry.get(name));
  }

  async invocation(_ctx: ConsoleCtx, command: string, args: Record<string, string>): Promise<Invocation> {
    const { user } = this.deps;
    return {
      platform: 'console',
      user: { id: user, name: user, roles: [] },
      channelId: 'console',
      command,
      args,
      receivedAt: this.deps.clock.now(),
    };
  }

  /** A terminal answers at once; nothing to acknowledge. */
  async ack(): Promise<void> {}

  async reply(_ctx: ConsoleCtx, r: Reply, note?: string): Promise<void> {
    this.show(r, note);
  }

  async post(_ctx: ConsoleCtx, r: Reply, note?: string): Promise<Posted<number>> {
    return this.show(r, note);
  }

  async postIn(_channelId: string, r: Reply): Promise<Posted<number>> {
    return this.show(r);
  }

  /** A terminal cannot change what it printed: the run's summary line already told its outcome. */
  async edit(): Promise<void> {}

  async appendRun(
    _posted: Posted<number>,
    opId: string,
    events: AsyncIterable<RunEvent>,
    summary: (end: RunEndEvent) => string,
  ): Promise<RunEndEvent> {
    let end: RunEndEvent | null = null;
    try {
      for await (const ev of events) {
        if (ev.type === 'end') {
          end = ev;
          this.print(summary(ev));
          break;
        }
        this.print(renderRunEvent(ev));
      }
    } catch (e) {
      this.print(`✗ output of ${opId} stopped: ${e instanceof Error ? e.message : String(e)}`);
    }
    return end ?? endedEarly(this.deps.clock.now());
  }

  /**
   * Tab completion of a partly typed line: command names, then the value of the option being
   * typed (`name:` or the next positional one), from the session's completions. Returns the
   * candidates for the last word and that word, as readline's completer wants them.
   */
  async completeLine(line: string, session: ChatSession<ConsoleCtx, number>): Promise<[string[], string]> {
    const words = line.split(/\s+/);
    const last = words.at(-1) ?? '';
    if (words.length === 1) {
      const names = this.deps.registry.all().map((c) => `/${c.name}`);
      return [names.filter((n) => n.startsWith(last.startsWith('/') ? last : `/${last}`)), last];
    }
    const before = this.read(words.slice(0, -1).join(' '));
    const cmd = this.deps.registry.get(before.command);
    if (!cmd || before.problems) return [[], last];
    const named = /^([a-z-]+)[:=](.*)$/.exec(last);
    const option = named ? named[1]! : Object.keys(cmd.options).find((o) => !(o in before.args));
    if (!option) return [[], last];
    const typed = named ? named[2]! : last;
    const names = await session.complete(before.command, option, typed, before.args);
    return [names.map((n) => (named ? `${option}:${n}` : n)), last];
  }

  /** Prints a reply with its buttons as hints; each printed reply is a message of its own. */
  private show(r: Reply, note?: string): Posted<number> {
    const hints = actionHints(r);
    const shown = renderReplyText(r, this.deps.clock.now());
    this.print([shown, ...(hints ? [hints] : []), ...(note ? [note] : [])].join('\n'));
    const n = ++this.printed;
    return { handle: n, channelId: 'console', messageId: String(n) };
  }

  /** Writes text, one line or more. */
  print(s: string): void {
    this.deps.output.write(`${s}\n`);
  }
}
