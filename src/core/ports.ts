/**
 * Ports: the interfaces core depends on, named by role. Implementations live at the
 * edge (src/db, src/docker, src/chat/...) and are wired together only in src/main.ts.
 */

/** A structured logger (pino satisfies it). Never pass a secret to it. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** A timer started through a {@link Clock}; `cancel` stops it (a no-op once it ran). */
export interface ClockTimer {
  cancel(): void;
}

/**
 * Wall-clock time in epoch milliseconds, and the timers that run on that time; fakes make
 * time-based logic testable. The timer is optional so a clock that only tells the time still
 * fits: core code starts its timers through `timersOf(clock)` (src/core/clock.ts), which falls
 * back to the system timers. A test clock with `setTimeout` (test/support/manual-clock.ts)
 * runs them when the test advances it. Timers never keep the process alive.
 */
export interface Clock {
  now(): number;
  /** Runs `fn` once, `ms` from now on this clock. */
  setTimeout?(fn: () => void, ms: number): ClockTimer;
}

/** The chat platforms a command can arrive from. */
export type Platform = 'console' | 'discord' | 'slack' | 'web' | 'system';

/** Who did something: the platform, its user id and a display name at that time. */
export interface Actor {
  platform: Platform;
  id: string;
  name: string;
}

/** Every way an audited attempt can end. */
export const AUDIT_OUTCOMES = [
  'ok',
  'failed',
  'denied',
  'rejected',
  'cancelled',
  'interrupted',
  'timed_out',
] as const;
/** How an audited attempt ended. */
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** A new audit entry as written by the dispatcher and the action runner. */
export interface NewAuditEntry {
  at: number;
  actor: Actor;
  action: string;
  host?: string | null;
  site?: string | null;
  outcome: AuditOutcome;
  durationMs?: number | null;
  details?: Record<string, unknown>;
  operationId?: string | null;
}

/** A stored audit entry. */
export interface AuditEntry extends NewAuditEntry {
  id: number;
  host: string | null;
  site: string | null;
  durationMs: number | null;
  details: Record<string, unknown>;
  operationId: string | null;
}

/** Filters of an audit query; every field is optional and they combine with AND. */
export interface AuditQuery {
  actorId?: string;
  /** Matches the actor id or display name, case-insensitively. */
  actor?: string;
  action?: string;
  site?: string;
  outcome?: AuditOutcome;
  /** Inclusive lower bound, epoch ms. */
  since?: number;
  /** Exclusive upper bound, epoch ms. */
  until?: number;
  /** Page size, 1..500. */
  limit?: number;
  /** Opaque keyset cursor from a previous page's `nextCursor`. */
  cursor?: string;
}

/** One page of audit entries, newest first. */
export interface AuditPage {
  entries: AuditEntry[];
  nextCursor: string | null;
}

/** Append-only audit trail with filtered, keyset-paginated reads. */
export interface AuditStore {
  record(entry: NewAuditEntry): AuditEntry;
  query(q: AuditQuery): AuditPage;
  /** Deletes entries older than `before` (epoch ms); returns how many. */
  pruneBefore(before: number): number;
}

/** Lifecycle of an operation. */
export type OperationStatus =
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'interrupted'
  | 'timed_out';

/** Terminal statuses: the operation will not change any more. */
export const FINAL_STATUSES: readonly OperationStatus[] = [
  'succeeded',
  'failed',
  'cancelled',
  'interrupted',
  'timed_out',
];

/** Where an operation's output is shown in chat. */
export interface OutputLocation {
  platform: Platform;
  channelId: string;
  threadId?: string | null;
  messageId?: string | null;
}

/** A new operation (one run of an action). */
export interface NewOperation {
  id: string;
  kind: string;
  host: string | null;
  site: string | null;
  args: Record<string, unknown>;
  requestedBy: Actor;
  status: OperationStatus;
  createdAt: number;
  logPath: string | null;
}

/** A stored operation. */
export interface Operation extends NewOperation {
  startedAt: number | null;
  finishedAt: number | null;
  exitCode: number | null;
  error: string | null;
  outputTail: string | null;
  output: OutputLocation | null;
}

/** Fields that change while an operation runs. */
export type OperationPatch = Partial<
  Pick<Operation, 'status' | 'startedAt' | 'finishedAt' | 'exitCode' | 'error' | 'outputTail' | 'output'>
>;

/** Persistence of operations (runs). */
export interface OperationStore {
  create(op: NewOperation): Operation;
  update(id: string, patch: OperationPatch): Operation | null;
  get(id: string): Operation | null;
  /** Most recent first, optionally for one site and/or status. */
  list(q?: { site?: string; host?: string; status?: OperationStatus[]; limit?: number }): Operation[];
  /** Marks every queued or running operation as interrupted (after a crash); returns them. */
  markInterrupted(at: number, reason: string): Operation[];
  /** Deletes finished operations older than `before`; returns their log paths so files can go too. */
  pruneBefore(before: number): string[];
}

/** Appends one run's complete output, line by line; never blocks the producer. */
export interface RunLogWriter {
  /** Where the log is kept, as stored in `operations.logPath` and accepted by `RunLog.read`. */
  readonly path: string;
  /** Appends one line (a newline is added). */
  write(line: string): void;
  /** Flushes and closes; rejects when the log could not be written. */
  close(): Promise<void>;
  /** True when the log lacks part of the output (a write failed, e.g. a full disk, or a size cap). */
  readonly truncated?: boolean;
}

/** Complete output of every run (files under DATA_DIR/logs), for attaching and showing. */
export interface RunLog {
  /** Starts the log of operation `opId`. */
  open(opId: string): RunLogWriter;
  /** The whole log at `path` (a `RunLogWriter.path`). */
  read(path: string): Promise<string>;
  /**
   * At most the last `maxBytes` bytes of the log at `path`, without reading the rest; when cut,
   * the partial first line is dropped (`cut` true).
   */
  readTail(path: string, maxBytes: number): Promise<{ text: string; cut: boolean }>;
  /** Deletes the log at `path` (after its operation was pruned); missing files are fine. */
  remove(path: string): Promise<void>;
}
