/**
 * The dispatcher: look up -> parse -> authorize -> run -> audit. Every chat surface
 * calls `dispatch` with an Invocation and renders the Reply it gets back.
 * Expected outcomes (unknown command, bad argument, denied, busy) are replies, never throws.
 */
import {
  actorOf,
  type Command,
  type Invocation,
  LEVELS,
  type Level,
  levelAllows,
  MAX_ARG_LENGTH,
  type OptionSpec,
  outcomeOf,
  type Reply,
  reply,
  SITE_RE,
} from './command.js';
import { describeError, isSiteFlowError } from './errors.js';
import { grantAdvice, type PermissionPolicy } from './permissions.js';
import type { AuditStore, Clock, Logger } from './ports.js';

/** The set of declared commands, by name. */
export class CommandRegistry<S = unknown> {
  private readonly byName = new Map<string, Command<S>>();
  /** `levels` overrides the declared level of named commands (e.g. LOGS_LEVEL for /logs). */
  constructor(
    // biome-ignore lint/suspicious/noExplicitAny: each command has its own option types
    commands: Iterable<Command<S, any>>,
    levels: Readonly<Record<string, Level>> = {},
  ) {
    for (const c of commands) {
      if (this.byName.has(c.name)) throw new Error(`command declared twice: ${c.name}`);
      const level = levels[c.name];
      this.byName.set(c.name, (level ? { ...c, level } : c) as Command<S>);
    }
  }
  get(name: string): Command<S> | undefined {
    return this.byName.get(name);
  }
  all(): Command<S>[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
  /** Commands a user at `level` may run. */
  allowed(level: Level): Command<S>[] {
    return this.all().filter((c) => levelAllows(level, c.level));
  }
}

/** Validates raw arguments against option specs, reporting every problem at once. */
export function parseArgs(
  options: Record<string, OptionSpec>,
  raw: Record<string, string>,
): { ok: true; value: Record<string, unknown> } | { ok: false; error: string[] } {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (!(key in options)) problems.push(`unknown option "${key.slice(0, 40)}"`);
  }
  for (const [name, spec] of Object.entries(options)) {
    const v = raw[name];
    if (v === undefined || v === '') {
      if (spec.required) problems.push(`${name}: required (${spec.description})`);
      continue;
    }
    if (v.length > MAX_ARG_LENGTH) {
      problems.push(`${name}: too long (${v.length} characters, at most ${MAX_ARG_LENGTH})`);
      continue;
    }
    const r = spec.parse(v);
    if (r.ok) out[name] = r.value;
    else problems.push(`${name}: ${r.error}`);
  }
  return problems.length ? { ok: false, error: problems } : { ok: true, value: out };
}

/** The whole answer to an invocation from a place SiteFlow does not serve. */
export const REFUSAL = 'SiteFlow does not answer here.';

/** What the dispatcher needs. */
export interface DispatcherDeps<S> {
  registry: CommandRegistry<S>;
  policy: PermissionPolicy;
  audit: AuditStore;
  clock: Clock;
  logger: Logger;
  services: S;
}

/** Options of one dispatch. */
export interface DispatchOptions {
  /** Input errors the surface found while reading the text. */
  problems?: string[];
  /** The level to run at instead of the policy's (schedules). */
  level?: Level;
}

/** An invocation looked up, authorised and parsed, not run yet. */
export interface PreparedInvocation {
  /** True when the answer is already known to be private (unknown, denied, invalid). */
  readonly privately: boolean;
  /** Runs the command (or returns the answer already made); never throws. */
  run(): Promise<Reply>;
}

/** Routes invocations to commands. */
export class Dispatcher<S> {
  private accepting = true;
  constructor(private readonly deps: DispatcherDeps<S>) {}

  /** Stops accepting new commands (shutdown); later invocations get a clear refusal. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** The permission level of the invoking user. */
  levelOf(inv: Pick<Invocation, 'platform' | 'user'>): Level {
    return this.deps.policy.levelOf(inv.platform, inv.user);
  }

  /**
   * Handles one invocation: `prepare` then `run`. `opts.problems` carries input errors a surface
   * found while reading the text (a bad quote, an unknown option name): the permission check still
   * comes first, and the attempt is audited either way. `opts.level` replaces the policy's level
   * (schedules).
   */
  async dispatch(inv: Invocation, opts: DispatchOptions = {}): Promise<Reply> {
    return this.prepare(inv, opts).run();
  }

  /**
   * Looks the command up, authorises and parses it, once, without running it. A chat surface
   * learns from `privately` whether the answer is surely private (unknown command, not allowed,
   * invalid input: those answers are already made, and audited by `run`) before it acknowledges,
   * and then calls `run` for the reply. Nothing before `run` writes to the database.
   */
  prepare(inv: Invocation, opts: DispatchOptions = {}): PreparedInvocation {
    const started = this.deps.clock.now();
    // An answer known before the acknowledgement is audited when it is delivered (`run`), so the
    // database write never delays the acknowledgement.
    const done = (r: Reply, audit: () => void): PreparedInvocation => ({
      privately: true,
      run: async () => {
        audit();
        return r;
      },
    });
    const log = this.deps.logger.child({ platform: inv.platform, user: inv.user.id, command: inv.command });
    if (!this.accepting)
      return {
        privately: false,
        run: async () => reply.error('SiteFlow is shutting down', 'Try again in a moment.'),
      };
    const cmd = this.deps.registry.get(inv.command);
    // A caller inside SiteFlow (a schedule) may name the level it runs at; chat never does.
    const level = opts.level ?? this.levelOf(inv);
    if (!cmd) {
      const names = this.deps.registry.allowed(level).map((c) => c.name);
      const r = inv.command
        ? reply.invalid(`Unknown command "${inv.command.slice(0, 40)}"`, [
            `Commands you can run: ${names.join(', ')}. Try /help.`,
          ])
        : reply.invalid('Could not read that command', opts.problems ?? ['empty command']);
      return done(r, () =>
        this.audit(inv, inv.command.slice(0, 40) || '(unreadable)', null, r, started, {
          reason: inv.command ? 'unknown command' : 'unreadable',
          ...(opts.problems ? { problems: opts.problems } : {}),
        }),
      );
    }
    const site = siteOf(inv.args.site);
    if (!levelAllows(level, cmd.level)) {
      const r: Reply = {
        status: 'denied',
        title: `You are not allowed to run /${cmd.name}`,
        blocks: [
          {
            kind: 'text',
            text: `/${cmd.name} needs the ${cmd.level} level; you have ${level}. ${grantAdvice(inv.platform, inv.user, cmd.level)}`,
          },
        ],
        ephemeral: true,
      };
      return done(r, () => {
        this.audit(inv, cmd.name, site, r, started, { level, needed: cmd.level });
        log.info({ level, needed: cmd.level }, 'permission denied');
      });
    }
    const parsed = opts.problems?.length
      ? ({ ok: false, error: opts.problems } as const)
      : parseArgs(cmd.options, inv.args);
    if (!parsed.ok) {
      const r = reply.invalid(`Invalid input for /${cmd.name}`, parsed.error);
      return done(r, () =>
        this.audit(inv, cmd.name, site, r, started, { problems: parsed.error, ...safeArgs(inv.args) }),
      );
    }
    const run = async (): Promise<Reply> => {
      let r: Reply;
      try {
        r = await cmd.run(
          { invocation: inv, actor: actorOf(inv), level, services: this.deps.services },
          parsed.value as never,
        );
      } catch (e) {
        log.error({ err: describeError(e), code: isSiteFlowError(e) ? e.code : undefined }, 'command failed');
        r = reply.error(`/${cmd.name} failed`, describeError(e));
      }
      // An operation audits itself when it ends, with its duration and linked log; a command that
      // only starts one for someone else (a confirmation) is audited as well, naming the operation.
      if (!r.operationId || cmd.alwaysAudit)
        this.audit(inv, cmd.name, site, r, started, {
          ...safeArgs(inv.args),
          ...(r.operationId ? { operationId: r.operationId } : {}),
        });
      return r;
    };
    return { privately: false, run };
  }

  /**
   * Refuses an invocation from a place SiteFlow does not serve (another Discord server, a DM,
   * another Slack workspace) before any command is looked at: audited as denied, and the reply
   * names no site, host or user.
   */
  refuse(inv: Invocation, reason: string, details: Record<string, unknown> = {}): Reply {
    const started = this.deps.clock.now();
    const r: Reply = { status: 'denied', title: REFUSAL, blocks: [], ephemeral: true };
    this.audit(inv, inv.command.slice(0, 40) || '(none)', null, r, started, { reason, ...details });
    this.deps.logger.info({ platform: inv.platform, reason, ...details }, 'refused: not served here');
    return r;
  }

  private audit(
    inv: Invocation,
    action: string,
    site: { host: string | null; name: string } | null,
    r: Reply,
    started: number,
    details: Record<string, unknown>,
  ): void {
    try {
      this.deps.audit.record({
        at: started,
        actor: actorOf(inv),
        action,
        host: site?.host ?? null,
        site: site?.name ?? null,
        outcome: outcomeOf(r.status),
        durationMs: this.deps.clock.now() - started,
        details: r.status === 'ok' ? details : { ...details, reply: r.title },
      });
    } catch (e) {
      // The reply still goes out; the failure to record is itself logged loudly.
      this.deps.logger.error({ err: describeError(e), action }, 'audit write failed');
    }
  }
}

/** Arguments kept in the audit log, clamped so a hostile input cannot bloat it. */
function safeArgs(args: Record<string, string>): Record<string, unknown> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(args)) out[k.slice(0, 40)] = v.length > 200 ? `${v.slice(0, 200)}…` : v;
  return { args: out };
}

/** The site named by a raw `site` argument when it is a valid site reference (for audit filtering). */
function siteOf(raw: string | undefined): { host: string | null; name: string } | null {
  const m = raw === undefined ? null : SITE_RE.exec(raw);
  return m ? { host: m[1] ?? null, name: m[2]! } : null;
}

export { LEVELS };
