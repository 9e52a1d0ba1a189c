/**
 * The console chat surface: a local REPL that behaves like a chat channel. It is used
 * when no Discord/Slack credentials are set and stdin is a terminal, and by tests
 * through plain streams. Lines are parsed like Slack's umbrella command:
 * `/restart blog web` or `/audit site:blog limit:5`.
 */
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Invocation, Reply } from '../../core/command.js';
import { readCommandLine } from '../../core/command-line.js';
import type { CommandRegistry, Dispatcher } from '../../core/dispatch.js';
import type { Clock } from '../../core/ports.js';
import type { RunEvent } from '../../core/run-events.js';
import { renderRunEvent, renderRunSummary } from '../render-run.js';
import { renderReplyText } from '../render-text.js';
import { actionHints } from '../reply-actions.js';

/** Source of a run's live events (the action runner's hub). */
export interface RunEventSource {
  events(operationId: string): AsyncIterable<RunEvent>;
}

/** What the console surface needs. */
export interface ConsoleDeps {
  input: Readable;
  output: Writable;
  dispatcher: Dispatcher<unknown>;
  registry: CommandRegistry<unknown>;
  clock: Clock;
  user: string;
  runs?: RunEventSource;
  /** Show a prompt (interactive terminals only). */
  prompt?: boolean;
}

/** A local REPL chat surface. */
export class ConsoleSurface {
  private rl: Interface | null = null;
  private readonly streaming = new Set<Promise<void>>();
  private closedResolve!: () => void;
  /** Resolves when the input ends or `close()` is called. */
  readonly closed = new Promise<void>((r) => {
    this.closedResolve = r;
  });

  constructor(private readonly deps: ConsoleDeps) {}

  /** Starts reading lines. */
  start(): void {
    const { input, output } = this.deps;
    this.rl = createInterface({ input, output, terminal: this.deps.prompt === true });
    this.rl.setPrompt('siteflow> ');
    this.print(`SiteFlow console: you are "${this.deps.user}". Type /help, or exit to quit.`);
    this.prompt();
    // Lines are handled one after another so output stays in order; runs stream in the background.
    let chain = Promise.resolve();
    this.rl.on('line', (line) => {
      // One failing line must not stop the console: report it and go on with the next.
      chain = chain
        .then(() => this.handle(line))
        .catch((e) => this.print(`✗ ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`))
        .then(() => this.prompt());
    });
    this.rl.on('close', () => {
      void chain.then(() => Promise.all(this.streaming)).then(() => this.closedResolve());
    });
  }

  private prompt(): void {
    if (this.deps.prompt) this.rl?.prompt();
  }

  /** Prints a notice from SiteFlow itself (e.g. the Docker engine went away). */
  notice(text: string): void {
    this.print(`» ${text}`);
    this.prompt();
  }

  /** Stops reading input. */
  close(): void {
    this.rl?.close();
  }

  /** Handles one typed line and prints what a chat user would see. */
  async handle(line: string): Promise<void> {
    const text = line.trim();
    if (!text) return;
    if (text === 'exit' || text === 'quit') {
      this.close();
      return;
    }
    const read = readCommandLine(text, (name) => this.deps.registry.get(name));
    const inv: Invocation = {
      platform: 'console',
      user: { id: this.deps.user, name: this.deps.user, roles: [] },
      channelId: 'console',
      command: read.command,
      args: read.args,
      receivedAt: this.deps.clock.now(),
    };
    const r = await this.deps.dispatcher.dispatch(inv, read.problems ? { problems: read.problems } : {});
    this.show(r);
  }

  /** Prints a reply and streams its run, if it started one (typed commands and scheduled runs alike). */
  show(r: Reply): void {
    const hints = actionHints(r);
    const shown = renderReplyText(r, this.deps.clock.now());
    this.print(hints ? `${shown}\n${hints}` : shown);
    if (r.operationId && this.deps.runs) {
      const p = this.stream(r.operationId)
        .catch((e) =>
          this.print(`✗ output of ${r.operationId} stopped: ${e instanceof Error ? e.message : String(e)}`),
        )
        .finally(() => this.streaming.delete(p));
      this.streaming.add(p);
    }
  }

  private async stream(opId: string): Promise<void> {
    for await (const ev of this.deps.runs!.events(opId)) {
      if (ev.type === 'end') this.print(renderRunSummary(opId, ev));
      else this.print(renderRunEvent(ev));
    }
  }

  private print(s: string): void {
    this.deps.output.write(`${s}\n`);
  }
}
