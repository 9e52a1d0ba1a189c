/**
 * The action runner: runs actions as operations. Mutating actions are single-flight per
 * host+site and limited by a global concurrency cap (the rest queue); read-only actions
 * are never blocked and never block. Every run gets an `operations` row, a complete run
 * log, live events through the output hub, a hard timeout, cancellation through an
 * AbortSignal, and one audit entry when it ends. Locks are always freed, even when an
 * action ignores its signal (it is then marked finished after a grace period).
 */
import { describeError, SiteFlowError } from './errors.js';
import { formatTime } from './format.js';
import type { OutputHub } from './hub.js';
import { isOperationId, newOperationId } from './operation-id.js';
import {
  type Actor,
  type AuditOutcome,
  type AuditStore,
  type Clock,
  FINAL_STATUSES,
  type Logger,
  type Operation,
  type OperationPatch,
  type OperationStatus,
  type OperationStore,
  type OutputLocation,
  type RunLog,
  type RunLogWriter,
} from './ports.js';
import { err, ok, type Result } from './result.js';
import type { RunEndEvent, RunEvent, RunStream } from './run-events.js';
import type { Masker } from './secret-mask.js';

/** What an action gets to do its work. */
export interface ActionIO {
  /** Aborted on cancel, timeout and shutdown; the action must stop soon after. */
  readonly signal: AbortSignal;
  /** Emits output; text with newlines becomes several lines. Ignored after the run ended. */
  line(text: string, stream?: RunStream): void;
  /** Emits progress; a later call with the same key supersedes this one. */
  progress(key: string, text: string): void;
  /** A logger bound to the run (run id, kind, host, site). */
  readonly logger: Logger;
}

/** How an action ended when it returned normally; a non-zero exit code means failed. */
export interface ActionResult {
  exitCode?: number | null;
}

/**
 * One runnable action. `run` pushes output through `io` and resolves when done (throw to
 * fail: the error's first line becomes the operation's error).
 */
export interface ActionDef {
  kind: string;
  host: string;
  site: string;
  /** Mutating actions are single-flight per host+site and count toward the concurrency cap. */
  mutates: boolean;
  /** Hard limit from the moment the action starts running (not while queued). */
  timeoutMs: number;
  /**
   * How long this action may take to stop once aborted (cancel, timeout, shutdown) before it is
   * marked finished and its lock freed anyway; defaults to the runner's `abortGraceMs`. Set it
   * for actions whose cleanup after an abort (an undo) takes longer.
   */
  abortGraceMs?: number;
  /** Kept with the operation and in the audit log; never put a secret here. */
  args: Record<string, unknown>;
  // biome-ignore lint/suspicious/noConfusingVoidType: lets `async (io) => { ... }` be an action
  run(io: ActionIO): Promise<ActionResult | undefined | void>;
}

/** Who starts a run, and where its output is shown. */
export interface StartOptions {
  actor: Actor;
  output?: OutputLocation | null;
}

/** Why a run was not started. `busy` names the operation holding the site. */
export type StartRefusal =
  | {
      code: 'busy';
      message: string;
      operationId: string;
      kind: string;
      actor: Actor;
      status: OperationStatus;
      /** When the holder started running, or was requested if still queued. */
      since: number;
    }
  | { code: 'shutting_down'; message: string }
  /** Too many read-only runs (log follows) at once; they are refused, not queued. */
  | { code: 'too_many_reads'; message: string };

/** Why a cancel was refused. */
export type CancelRefusal =
  | { code: 'not_found'; message: string }
  | { code: 'not_yours'; message: string; owner: Actor }
  | { code: 'already_finished'; message: string; status: OperationStatus };

/** A queued or running operation as listed by `active()`. */
export interface ActiveRun {
  operation: Operation;
  mutates: boolean;
  /** 1-based place in the queue, or null when running. */
  queuePosition: number | null;
}

/** Tunables of the runner. */
export interface ActionRunnerOptions {
  /** Mutating operations running at once; more wait in the queue (default 2). */
  maxConcurrent?: number;
  /** Read-only operations (e.g. /logs) running at once; more are refused (default 8). */
  maxConcurrentReads?: number;
  /** How long an aborted action may take to stop before it is marked finished anyway (default 10 s). */
  abortGraceMs?: number;
  /** Output tail kept on the operation row: at most this many lines (default 20)... */
  tailLines?: number;
  /** ...and this many characters (default 4096). */
  tailChars?: number;
  /** Id generator (tests); defaults to `newOperationId`. */
  newId?: (now: number) => string;
}

/** What the runner needs. */
export interface ActionRunnerDeps extends ActionRunnerOptions {
  operations: OperationStore;
  audit: AuditStore;
  runLog: RunLog;
  hub: OutputHub;
  clock: Clock;
  logger: Logger;
  /** Masks secrets in every line, progress text and error before the log, hub or store see it. */
  masker?: Masker;
  /** Runs before an action starts (e.g. learns the site's secrets); a failure is logged, not fatal. */
  beforeRun?: (def: ActionDef) => Promise<void>;
}

type AbortReason = { status: 'cancelled' | 'timed_out'; error: string; by?: Actor };

const FORCED = Symbol('forced');

/** Progress of one key is published (log, console, page, chat) at most this often. */
export const PROGRESS_INTERVAL_MS = 1000;

interface Entry {
  readonly def: ActionDef;
  readonly actor: Actor;
  op: Operation;
  readonly lockKey: string | null;
  readonly controller: AbortController;
  readonly writer: RunLogWriter;
  readonly log: Logger;
  queued: boolean;
  abort: AbortReason | null;
  /** Set once the run is being finalised: output is ignored from then on. */
  closing: boolean;
  readonly tail: Array<{ key: string | null; text: string }>;
  /** Per progress key: the text last published and when, and a newer one held back. */
  readonly lastProgress: Map<string, { text: string; at: number; held: string | null }>;
  readonly finished: Promise<Operation>;
  resolve(op: Operation): void;
  readonly forced: Promise<typeof FORCED>;
  force(): void;
  timer: ReturnType<typeof setTimeout> | null;
  forceTimer: ReturnType<typeof setTimeout> | null;
}

const OUTCOME: Record<OperationStatus, AuditOutcome> = {
  queued: 'failed',
  running: 'failed',
  succeeded: 'ok',
  failed: 'failed',
  cancelled: 'cancelled',
  interrupted: 'interrupted',
  timed_out: 'timed_out',
};

/** Runs actions as operations; see the module comment. */
export class ActionRunner {
  private readonly entries = new Map<string, Entry>();
  private readonly locks = new Map<string, string>();
  private readonly queue: Entry[] = [];
  private runningMutating = 0;
  private accepting = true;
  private readonly maxConcurrent: number;
  private readonly maxConcurrentReads: number;
  private readonly abortGraceMs: number;
  private readonly tailLines: number;
  private readonly tailChars: number;
  private readonly newId: (now: number) => string;

  constructor(private readonly deps: ActionRunnerDeps) {
    this.maxConcurrent = Math.max(1, Math.floor(deps.maxConcurrent ?? 2));
    this.maxConcurrentReads = Math.max(1, Math.floor(deps.maxConcurrentReads ?? 8));
    this.abortGraceMs = Math.max(0, deps.abortGraceMs ?? 10_000);
    this.tailLines = Math.max(1, deps.tailLines ?? 20);
    this.tailChars = Math.max(1, deps.tailChars ?? 4096);
    this.newId = deps.newId ?? newOperationId;
  }

  /**
   * Starts (or queues) a run. Refuses with `busy` when a mutating action already holds the
   * same host+site, and with `shutting_down` after `shutdown()`. Throws only when the
   * operation row or its log cannot be created.
   */
  start(def: ActionDef, opts: StartOptions): Result<Operation, StartRefusal> {
    if (!this.accepting)
      return err({ code: 'shutting_down', message: 'SiteFlow is shutting down; try again in a moment.' });
    if (!(def.timeoutMs > 0))
      throw new SiteFlowError('RUN_BAD_ACTION', `${def.kind}: timeoutMs must be positive`);
    const lockKey = def.mutates ? `${def.host}/${def.site}` : null;
    const holderId = lockKey ? this.locks.get(lockKey) : undefined;
    if (holderId) return err(this.busy(this.entries.get(holderId)!));
    if (!def.mutates) {
      // Read-only runs never wait for mutating ones, but each holds an engine stream and a
      // chat stream: a cap keeps a burst of long /logs follows from exhausting either.
      const reads = [...this.entries.values()].filter((x) => !x.def.mutates).length;
      if (reads >= this.maxConcurrentReads)
        return err({
          code: 'too_many_reads',
          message: `${reads} read-only operations are running (limit ${this.maxConcurrentReads}); try again when one ends.`,
        });
    }

    const { clock, operations, runLog, hub } = this.deps;
    const now = clock.now();
    const id = this.newId(now);
    const writer = runLog.open(id);
    let op: Operation;
    try {
      op = operations.create({
        id,
        kind: def.kind,
        host: def.host,
        site: def.site,
        args: def.args,
        requestedBy: opts.actor,
        status: 'queued',
        createdAt: now,
        logPath: writer.path,
      });
      if (opts.output) op = operations.update(id, { output: opts.output }) ?? { ...op, output: opts.output };
    } catch (e) {
      writer.close().catch(() => {});
      throw e;
    }

    let resolve!: (op: Operation) => void;
    const finished = new Promise<Operation>((r) => {
      resolve = r;
    });
    let force!: () => void;
    const forced = new Promise<typeof FORCED>((r) => {
      force = () => r(FORCED);
    });
    const e: Entry = {
      def,
      actor: opts.actor,
      op,
      lockKey,
      controller: new AbortController(),
      writer,
      log: this.deps.logger.child({ runId: id, kind: def.kind, host: def.host, site: def.site }),
      queued: true,
      abort: null,
      closing: false,
      tail: [],
      lastProgress: new Map(),
      finished,
      resolve,
      forced,
      force,
      timer: null,
      forceTimer: null,
    };
    this.entries.set(id, e);
    if (lockKey) this.locks.set(lockKey, id);
    hub.open(id);
    e.log.info({ actor: opts.actor.id, mutates: def.mutates }, 'operation requested');

    if (def.mutates) {
      this.queue.push(e);
      this.pump();
      if (e.queued) {
        this.emit(
          e,
          'info',
          `Waiting for a free slot: ${this.runningMutating} operations running (limit ${this.maxConcurrent}), ` +
            `${this.queue.indexOf(e) + 1} in line.`,
        );
      }
    } else {
      this.begin(e);
    }
    return ok(e.op);
  }

  /**
   * Cancels a queued or running operation. Only its requester may, unless `isAdmin`.
   * A running action is aborted and its final status recorded when it stops.
   */
  cancel(opId: string, by: Actor, isAdmin: boolean): Result<Operation, CancelRefusal> {
    const e = this.entries.get(opId);
    if (!e || e.closing) {
      const op = isOperationId(opId) ? this.safe(() => this.deps.operations.get(opId), null) : null;
      if (e || (op && FINAL_STATUSES.includes(op.status))) {
        const status = e ? e.op.status : op!.status;
        return err({
          code: 'already_finished',
          message: `${opId} has already finished (${status}).`,
          status,
        });
      }
      return err({ code: 'not_found', message: `No running or queued operation ${opId.slice(0, 40)}.` });
    }
    const owner = e.op.requestedBy;
    if (!isAdmin && !(owner.platform === by.platform && owner.id === by.id)) {
      return err({
        code: 'not_yours',
        message: `${opId} was started by ${owner.name}; only they or an admin may cancel it.`,
        owner,
      });
    }
    this.abortEntry(e, { status: 'cancelled', error: `cancelled by ${by.name}`, by });
    return ok(e.op);
  }

  /** Queued and running operations, running first, with who requested them. */
  active(): ActiveRun[] {
    return [...this.entries.values()]
      .filter((e) => !e.closing)
      .map((e) => ({
        operation: e.op,
        mutates: e.def.mutates,
        queuePosition: e.queued ? this.queue.indexOf(e) + 1 : null,
      }))
      .sort((a, b) => (a.queuePosition ?? 0) - (b.queuePosition ?? 0));
  }

  /**
   * Live events of a run (replay + follow, see OutputHub). For a finished run the hub has
   * forgotten, a single `end` event from the stored operation; for an unknown id, nothing.
   */
  events(opId: string): AsyncIterable<RunEvent> {
    if (this.deps.hub.has(opId)) return this.deps.hub.subscribe(opId);
    const op = isOperationId(opId) ? this.safe(() => this.deps.operations.get(opId), null) : null;
    return (async function* () {
      if (op && FINAL_STATUSES.includes(op.status)) yield endEventOf(op);
    })();
  }

  /**
   * Appends one of SiteFlow's own `info` lines to a running operation's output (the monitor
   * notes the engine events the operation caused). False when the run is not running.
   */
  note(opId: string, text: string): boolean {
    const e = this.entries.get(opId);
    if (!e || e.closing || e.queued) return false;
    this.emit(e, 'info', text);
    return true;
  }

  /** Resolves with the final operation once the run has ended (null for an unknown id). */
  async wait(opId: string): Promise<Operation | null> {
    const e = this.entries.get(opId);
    if (e) return e.finished;
    return this.safe(() => this.deps.operations.get(opId), null);
  }

  /**
   * After a crash or kill: marks every operation left queued or running as interrupted
   * and audits each. Call once at startup, before accepting commands.
   */
  recoverAfterCrash(now: number): Operation[] {
    const ops = this.deps.operations.markInterrupted(
      now,
      'SiteFlow stopped while this operation was running',
    );
    for (const op of ops) {
      this.record(op, 'interrupted', op.startedAt !== null ? Math.max(0, now - op.startedAt) : null, {});
    }
    if (ops.length) this.deps.logger.warn({ count: ops.length }, 'operations interrupted by a restart');
    return ops;
  }

  /**
   * Stops accepting runs, cancels queued ones, waits up to `graceMs` for running ones,
   * then cancels the rest (status cancelled, error "SiteFlow shut down") and waits for
   * them to stop (at most each action's abort grace period, so an undo can finish).
   */
  async shutdown(graceMs: number): Promise<{ finished: number; cancelled: number }> {
    // `finished`: runs that ended on their own within the grace period; `cancelled`: the rest, queued included.
    this.accepting = false;
    const reason: AbortReason = { status: 'cancelled', error: 'SiteFlow shut down' };
    let cancelled = 0;
    const running = [...this.entries.values()].filter((e) => !e.queued);
    for (const e of [...this.queue]) {
      this.abortEntry(e, reason);
      cancelled++;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(running.map((e) => e.finished)),
      new Promise<void>((r) => {
        timer = setTimeout(r, Math.max(0, graceMs));
      }),
    ]);
    clearTimeout(timer);
    // Still running after the grace period: abort them (one already being aborted keeps its reason).
    const late = running.filter((e) => !e.closing);
    for (const e of late) this.abortEntry(e, reason);
    await Promise.all([...this.entries.values()].map((e) => e.finished));
    return { finished: running.length - late.length, cancelled: cancelled + late.length };
  }

  private busy(h: Entry): StartRefusal {
    const since = h.op.startedAt ?? h.op.createdAt;
    const what = h.queued ? 'queued' : 'running';
    return {
      code: 'busy',
      message:
        `${h.def.host}/${h.def.site} is busy: ${h.def.kind} by ${h.op.requestedBy.name}, ` +
        `${what} since ${formatTime(since)} (${h.op.id}).`,
      operationId: h.op.id,
      kind: h.def.kind,
      actor: h.op.requestedBy,
      status: h.op.status,
      since,
    };
  }

  /** Starts queued mutating runs while there is room. */
  private pump(): void {
    while (this.runningMutating < this.maxConcurrent && this.queue.length > 0) {
      this.begin(this.queue.shift()!);
    }
  }

  private begin(e: Entry): void {
    e.queued = false;
    if (e.def.mutates) this.runningMutating++;
    void this.execute(e);
  }

  private async execute(e: Entry): Promise<void> {
    const { def } = e;
    e.op = this.patch(e, { status: 'running', startedAt: this.deps.clock.now() });
    e.log.info('operation started');
    e.timer = setTimeout(
      () => this.abortEntry(e, { status: 'timed_out', error: `timed out after ${seconds(def.timeoutMs)}` }),
      def.timeoutMs,
    );
    const io: ActionIO = {
      signal: e.controller.signal,
      line: (text, stream = 'stdout') => this.emit(e, stream, text),
      progress: (key, text) => this.emitProgress(e, key, text),
      logger: e.log,
    };
    let status: OperationStatus = 'succeeded';
    let exitCode: number | null = null;
    let error: string | null = null;
    if (this.deps.beforeRun)
      await this.deps
        .beforeRun(def)
        .catch((x) => e.log.warn({ err: describeError(x) }, 'preparing the run failed'));
    try {
      // Promise.resolve().then: a synchronous throw in `run` becomes a rejection.
      const running = Promise.resolve().then(() => def.run(io));
      running.catch(() => {}); // it may settle after a forced finish; nobody else listens then
      const r = await Promise.race([running, e.forced]);
      if (r !== FORCED) {
        exitCode = r && typeof r.exitCode === 'number' ? r.exitCode : 0;
        if (exitCode !== 0) {
          status = 'failed';
          error = `exited with code ${exitCode}`;
        }
      }
    } catch (x) {
      status = 'failed';
      error = describeError(x);
    }
    if (e.abort) {
      status = e.abort.status;
      error = e.abort.error;
    } else if (status === 'failed' && error) {
      this.emit(e, 'info', `Failed: ${error}`);
    }
    await this.finish(e, status, exitCode, error);
  }

  /** Aborts a queued (finishes at once) or running (signal, then a forced finish) run. */
  private abortEntry(e: Entry, reason: AbortReason): void {
    if (e.abort || e.closing) return;
    e.abort = reason;
    if (e.queued) {
      this.queue.splice(this.queue.indexOf(e), 1);
      this.emit(e, 'info', capitalize(`${reason.error} before it started.`));
      void this.finish(e, reason.status, null, reason.error);
      return;
    }
    this.emit(e, 'info', capitalize(`${reason.error}; stopping…`));
    e.log.info({ reason: reason.status, by: reason.by?.id }, 'aborting operation');
    e.controller.abort(new SiteFlowError('RUN_ABORTED', reason.error));
    const graceMs = this.graceOf(e);
    e.forceTimer = setTimeout(() => {
      if (e.closing) return;
      this.emit(e, 'info', `The action did not stop within ${seconds(graceMs)}; marked finished.`);
      e.log.warn('action ignored its abort signal; marked finished anyway');
      e.force();
    }, graceMs);
  }

  /** The abort grace of a run: its action's own, else the runner's. */
  private graceOf(e: Entry): number {
    const own = e.def.abortGraceMs;
    return own !== undefined && Number.isFinite(own) ? Math.max(0, own) : this.abortGraceMs;
  }

  /** Records the final state; never throws, always frees the lock and the slot. */
  private async finish(
    e: Entry,
    status: OperationStatus,
    exitCode: number | null,
    error: string | null,
  ): Promise<void> {
    const wasRunning = !e.queued;
    this.flushProgress(e);
    e.closing = true;
    // Error texts may quote output (compose's last lines): masked like the output itself.
    if (error !== null) error = this.mask(error);
    if (e.timer) clearTimeout(e.timer);
    if (e.forceTimer) clearTimeout(e.forceTimer);
    const { clock } = this.deps;
    let end: RunEndEvent | null = null;
    try {
      try {
        await withTimeout(e.writer.close(), Math.max(1000, this.abortGraceMs));
      } catch (x) {
        e.log.error({ err: describeError(x) }, 'run log could not be written completely');
      }
      const finishedAt = clock.now();
      const durationMs = Math.max(0, finishedAt - (e.op.startedAt ?? e.op.createdAt));
      e.op = this.patch(e, { status, finishedAt, exitCode, error, outputTail: this.tailOf(e) });
      const details: Record<string, unknown> = { args: e.def.args };
      if (error) details.error = error;
      // The run's outcome stands; only its full log is incomplete (disk full, or the size cap).
      if (e.writer.truncated) details.logTruncated = true;
      if (e.abort?.by) details.cancelledBy = e.abort.by;
      this.record(e.op, OUTCOME[status], durationMs, details);
      e.log.info({ status, exitCode, durationMs }, 'operation finished');
      end = { type: 'end', status, exitCode, error, durationMs, at: finishedAt };
    } catch (x) {
      e.log.error({ err: describeError(x) }, 'finishing an operation failed');
    } finally {
      this.entries.delete(e.op.id);
      if (e.lockKey && this.locks.get(e.lockKey) === e.op.id) this.locks.delete(e.lockKey);
      if (e.def.mutates && wasRunning) this.runningMutating--;
      // The lock is free before subscribers see `end`, so a follow-up command is not refused.
      this.deps.hub.publish(
        e.op.id,
        end ?? { type: 'end', status, exitCode, error, durationMs: 0, at: clock.now() },
      );
      e.resolve(e.op);
      if (this.accepting) this.pump();
    }
  }

  private mask(text: string): string {
    return this.deps.masker ? this.deps.masker.mask(text) : text;
  }

  private emit(e: Entry, stream: RunStream, raw: string): void {
    if (e.closing) return;
    this.flushProgress(e);
    const at = this.deps.clock.now();
    const text = this.mask(raw);
    for (const line of splitLines(text)) {
      e.writer.write(stream === 'info' ? `# ${line}` : line);
      this.pushTail(e, null, line);
      this.deps.hub.publish(e.op.id, { type: 'line', stream, text: line, at });
    }
  }

  /**
   * Publishes progress at most once per PROGRESS_INTERVAL_MS per key (a pull reports every few
   * KB); a newer state in between is held and goes out with the next one due, before the next
   * line, or when the run ends, so the final sizes are always kept.
   */
  private emitProgress(e: Entry, key: string, raw: string): void {
    if (e.closing) return;
    const text = this.mask(raw);
    const now = this.deps.clock.now();
    const last = e.lastProgress.get(key);
    if (last && last.text === text) {
      last.held = null;
      return;
    }
    this.pushTail(e, key, `${key}: ${text}`);
    if (last && now - last.at < PROGRESS_INTERVAL_MS) {
      last.held = text;
      return;
    }
    this.publishProgress(e, key, text, now);
  }

  private publishProgress(e: Entry, key: string, text: string, at: number): void {
    e.lastProgress.delete(key);
    e.lastProgress.set(key, { text, at, held: null });
    // Bounded even for an action that invents a new key per update.
    if (e.lastProgress.size > 1000) e.lastProgress.delete(e.lastProgress.keys().next().value!);
    e.writer.write(`${key}: ${text}`);
    this.deps.hub.publish(e.op.id, { type: 'progress', key, text, at });
  }

  /** Publishes every held progress state. */
  private flushProgress(e: Entry): void {
    const now = this.deps.clock.now();
    for (const [key, p] of [...e.lastProgress])
      if (p.held !== null) this.publishProgress(e, key, p.held, now);
  }

  private pushTail(e: Entry, key: string | null, text: string): void {
    if (key !== null) {
      const i = e.tail.findIndex((t) => t.key === key);
      if (i >= 0) e.tail.splice(i, 1);
    }
    e.tail.push({ key, text });
    if (e.tail.length > this.tailLines) e.tail.shift();
  }

  private tailOf(e: Entry): string | null {
    if (e.tail.length === 0) return null;
    const lines = e.tail.map((t) => t.text);
    let s = lines.join('\n');
    while (s.length > this.tailChars && lines.length > 1) {
      lines.shift();
      s = lines.join('\n');
    }
    return s.length > this.tailChars ? s.slice(s.length - this.tailChars) : s;
  }

  private patch(e: Entry, patch: OperationPatch): Operation {
    const merged: Operation = { ...e.op, ...patch };
    try {
      return this.deps.operations.update(e.op.id, patch) ?? merged;
    } catch (x) {
      e.log.error({ err: describeError(x), patch: Object.keys(patch) }, 'operation update failed');
      return merged;
    }
  }

  private record(
    op: Operation,
    outcome: AuditOutcome,
    durationMs: number | null,
    details: Record<string, unknown>,
  ): void {
    try {
      this.deps.audit.record({
        at: op.createdAt,
        actor: op.requestedBy,
        action: op.kind,
        host: op.host,
        site: op.site,
        outcome,
        durationMs,
        details: { args: op.args, ...details },
        operationId: op.id,
      });
    } catch (x) {
      this.deps.logger.error({ err: describeError(x), operationId: op.id }, 'audit write failed');
    }
  }

  private safe<T>(fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (x) {
      this.deps.logger.error({ err: describeError(x) }, 'operation lookup failed');
      return fallback;
    }
  }
}

/** The `end` event that describes a stored, finished operation. */
export function endEventOf(op: Operation): RunEndEvent {
  const at = op.finishedAt ?? op.createdAt;
  return {
    type: 'end',
    status: op.status,
    exitCode: op.exitCode,
    error: op.error,
    durationMs: Math.max(0, at - (op.startedAt ?? op.createdAt)),
    at,
  };
}

function splitLines(text: string): string[] {
  if (!text.includes('\n')) return [text];
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function seconds(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
