/**
 * Scheduled commands (/schedule): a node-cron expression and a command line of one of the
 * allowlisted mutating commands (restart, pull, prune, up: those the registry has). Each firing
 * dispatches the line like a chat command, as the user "schedule #ID, added by @NAME" at
 * operator level (only admins add schedules), so it obeys single-flight (a site held by
 * another operation refuses it), and is audited; a firing while the previous one is still
 * being dispatched is skipped (node-cron noOverlap). Its reply is announced in the alert
 * channels (Discord, Slack, console: each {@link ScheduleOutput} a surface adds) as
 * "schedule #ID (added by @NAME): /restart blog", the run's output streamed into that
 * message's thread by the surface's own run streaming, with the outcome at the end.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Invocation, Reply } from '../core/command.js';
import { readCommandLine } from '../core/command-line.js';
import { parseArgs } from '../core/dispatch.js';
import { describeError } from '../core/errors.js';
import type { Actor, Clock, Logger } from '../core/ports.js';
import { err, ok, type Result } from '../core/result.js';
import type { SqliteScheduleStore, StoredSchedule } from '../db/sqlite-schedule-store.js';

/** Commands a schedule may run (when the registry has them). */
export const SCHEDULABLE = ['restart', 'pull', 'prune', 'up'] as const;

/**
 * An alert channel that shows scheduled runs: posts the reply as a new message and, when it
 * started a run, streams the run's output into the message's thread (as for a slash command).
 */
export interface ScheduleOutput {
  /** `discord`, `slack`, `console` (one output per name: a second one replaces the first). */
  readonly name: string;
  announce(r: Reply): Promise<void>;
}

/** What /schedule asks of the scheduler. */
export interface ScheduleControl {
  add(cronExpr: string, commandLine: string, by: Actor): Result<StoredSchedule, string[]>;
  list(): StoredSchedule[];
  remove(id: string): Result<StoredSchedule, string>;
  /** The commands a schedule may run here. */
  allowed(): string[];
  /** Adds an alert channel scheduled runs are announced and streamed in (surfaces, once connected). */
  addOutput(o: ScheduleOutput): void;
}

/** What the scheduler needs. */
export interface SchedulerDeps {
  store: SqliteScheduleStore;
  /** The registry's options of a command (validation at add time). */
  lookup(command: string): { options: Record<string, import('../core/command.js').OptionSpec> } | undefined;
  dispatch(inv: Invocation, opts: { level: 'operator' }): Promise<Reply>;
  clock: Clock;
  logger: Logger;
}

/** The display name a schedule runs as. */
export function scheduleActorName(s: Pick<StoredSchedule, 'id' | 'by'>): string {
  return `schedule #${s.id}, added by @${s.by.name}`;
}

/** The headline of a schedule's runs in the alert channel: `schedule #ID (added by @NAME): /LINE`. */
export function scheduleHeadline(s: Pick<StoredSchedule, 'id' | 'by' | 'commandLine'>): string {
  return `schedule #${s.id} (added by @${s.by.name}): /${s.commandLine}`;
}

/** A schedule's reply as the alert channel shows it: the headline first, then what the command said. */
export function scheduleReply(s: Pick<StoredSchedule, 'id' | 'by' | 'commandLine'>, r: Reply): Reply {
  return {
    ...r,
    title: scheduleHeadline(s),
    blocks: [{ kind: 'text', text: r.title }, ...r.blocks],
    ephemeral: false,
  };
}

/** Runs the stored schedules; see the module comment. */
export class Scheduler implements ScheduleControl {
  private readonly tasks = new Map<string, ScheduledTask>();
  private readonly outputs = new Map<string, ScheduleOutput>();
  private stopped = false;

  constructor(private readonly deps: SchedulerDeps) {}

  addOutput(o: ScheduleOutput): void {
    this.outputs.set(o.name, o);
  }

  allowed(): string[] {
    return SCHEDULABLE.filter((c) => this.deps.lookup(c) !== undefined);
  }

  /** Schedules every stored schedule. */
  start(): void {
    for (const s of this.deps.store.list()) this.schedule(s);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.tasks.values()) void t.destroy();
    this.tasks.clear();
  }

  add(cronExpr: string, commandLine: string, by: Actor): Result<StoredSchedule, string[]> {
    const problems: string[] = [];
    if (!cron.validate(cronExpr))
      problems.push(
        `"${cronExpr.slice(0, 60)}" is not a cron expression (5 fields, or 6 with seconds first)`,
      );
    const line = commandLine.trim().replace(/^\//, '');
    if (line.length > 300) problems.push('the command line is too long (300 characters at most)');
    const read = readCommandLine(line, (c) => this.deps.lookup(c));
    const allowed = this.allowed();
    if (!allowed.includes(read.command))
      problems.push(
        `only ${allowed.map((c) => `/${c}`).join(', ')} can be scheduled, not "${read.command.slice(0, 40)}"`,
      );
    else if (read.problems?.length) problems.push(...read.problems);
    else {
      const parsed = parseArgs(this.deps.lookup(read.command)!.options, read.args);
      if (!parsed.ok) problems.push(...parsed.error);
    }
    if (problems.length) return err(problems);
    const now = this.deps.clock.now();
    const s: StoredSchedule = {
      id: `sc_${now.toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      cron: cronExpr,
      commandLine: line,
      by: { platform: by.platform, id: by.id, name: by.name },
      createdAt: now,
      lastRunAt: null,
    };
    this.deps.store.add(s);
    this.schedule(s);
    return ok(s);
  }

  list(): StoredSchedule[] {
    return this.deps.store.list();
  }

  remove(id: string): Result<StoredSchedule, string> {
    const s = this.deps.store.list().find((x) => x.id === id);
    if (!s) return err(`No schedule ${id.slice(0, 40)}.`);
    this.deps.store.remove(id, this.deps.clock.now());
    void this.tasks.get(id)?.destroy();
    this.tasks.delete(id);
    return ok(s);
  }

  /** One firing: dispatches the line as the schedule. */
  async fire(s: StoredSchedule): Promise<Reply | null> {
    if (this.stopped) return null;
    const { clock, logger, store } = this.deps;
    const read = readCommandLine(s.commandLine, (c) => this.deps.lookup(c));
    const inv: Invocation = {
      platform: 'system',
      user: { id: `schedule:${s.id}`, name: scheduleActorName(s), roles: [] },
      channelId: 'schedule',
      command: read.command,
      args: read.args,
      receivedAt: clock.now(),
    };
    try {
      const r = await this.deps.dispatch(inv, { level: 'operator' });
      store.ran(s.id, inv.receivedAt);
      logger.info(
        { schedule: s.id, status: r.status, operationId: r.operationId },
        `schedule ran: ${r.title}`,
      );
      this.announce(s, r);
      return r;
    } catch (e) {
      logger.error({ schedule: s.id, err: describeError(e) }, 'schedule failed');
      return null;
    }
  }

  /** Shows a firing's reply in every alert channel (in the background: the run goes on regardless). */
  private announce(s: StoredSchedule, r: Reply): void {
    const shown = scheduleReply(s, r);
    for (const o of this.outputs.values())
      void o
        .announce(shown)
        .catch((e) =>
          this.deps.logger.warn(
            { schedule: s.id, output: o.name, err: describeError(e) },
            'could not announce the scheduled run',
          ),
        );
  }

  private schedule(s: StoredSchedule): void {
    if (!cron.validate(s.cron)) {
      this.deps.logger.warn({ schedule: s.id }, 'schedule has an invalid cron; skipped');
      return;
    }
    this.tasks.set(
      s.id,
      cron.schedule(s.cron, () => this.fire(s).then(() => undefined), {
        noOverlap: true,
        name: `schedule-${s.id}`,
      }),
    );
  }
}
