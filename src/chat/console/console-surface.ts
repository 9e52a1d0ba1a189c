/**
 * The console chat surface: a local REPL that behaves like a chat channel. It is used when no
 * Discord/Slack credentials are set and stdin is a terminal, and by tests through plain streams.
 * Every typed line goes through the same chat session as Discord and Slack (../session.ts):
 * parsed and authorised once, answered, its run followed to the end; the console adapter
 * (./console-adapter.ts) only turns lines into invocations and replies into lines.
 */
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Reply } from '../../core/command.js';
import type { Clock } from '../../core/ports.js';
import { ChatSession, type SessionDeps } from '../session.js';
import { ConsoleAdapter, type ConsoleCtx } from './console-adapter.js';

/** What the console surface needs: the session's parts, and the terminal. */
export interface ConsoleDeps extends SessionDeps {
  input: Readable;
  output: Writable;
  clock: Clock;
  user: string;
  /** Show a prompt and complete on Tab (interactive terminals only). */
  prompt?: boolean;
}

/** A local REPL chat surface. */
export class ConsoleSurface {
  private rl: Interface | null = null;
  private readonly adapter: ConsoleAdapter;
  private readonly session: ChatSession<ConsoleCtx, number>;
  private closedResolve!: () => void;
  /** Resolves when the input ends or `close()` is called, and every run it followed has ended. */
  readonly closed = new Promise<void>((r) => {
    this.closedResolve = r;
  });

  constructor(private readonly deps: ConsoleDeps) {
    this.adapter = new ConsoleAdapter(deps);
    this.session = new ChatSession(
      { ...deps, logger: deps.logger.child({ surface: 'console' }) },
      this.adapter,
    );
  }

  /** Starts reading lines. */
  start(): void {
    const { input, output } = this.deps;
    const terminal = this.deps.prompt === true;
    this.rl = createInterface({
      input,
      output,
      terminal,
      ...(terminal
        ? {
            completer: (line: string, done: (e: Error | null, r?: [string[], string]) => void) => {
              this.complete(line).then(
                (r) => done(null, r),
                () => done(null, [[], line]),
              );
            },
          }
        : {}),
    });
    this.rl.setPrompt('siteflow> ');
    this.adapter.print(`SiteFlow console: you are "${this.deps.user}". Type /help, or exit to quit.`);
    this.prompt();
    // Lines are handled one after another so output stays in order; runs stream in the background.
    let chain = Promise.resolve();
    this.rl.on('line', (line) => {
      // One failing line must not stop the console: report it and go on with the next.
      chain = chain
        .then(() => this.handle(line))
        .catch((e) => this.adapter.print(`✗ ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`))
        .then(() => this.prompt());
    });
    this.rl.on('close', () => {
      void chain.then(() => this.session.idle()).then(() => this.closedResolve());
    });
  }

  private prompt(): void {
    if (this.deps.prompt) this.rl?.prompt();
  }

  /** Prints a notice from SiteFlow itself (e.g. the Docker engine went away). */
  notice(text: string): void {
    this.adapter.print(`» ${text}`);
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
    const read = this.adapter.read(text);
    const ctx = { line: text };
    await this.session.command(
      ctx,
      await this.adapter.invocation(ctx, read.command, read.args),
      read.problems,
    );
  }

  /** Prints a reply no line asked for (a scheduled run) and follows its run. */
  announce(r: Reply): Promise<void> {
    return this.session.announce('console', r);
  }

  /** Tab completion of a partly typed line (see ConsoleAdapter.completeLine). */
  complete(line: string): Promise<[string[], string]> {
    return this.adapter.completeLine(line, this.session);
  }

  /** Resolves once every run followed so far has finished. */
  idle(): Promise<void> {
    return this.session.idle();
  }
}
