/**
 * The events an operation's output stream is made of. Actions emit lines and progress;
 * the runner adds `info` lines and the final `end`; the hub adds `skipped` markers
 * where a subscriber (or a late joiner) lost lines.
 */
import type { OperationStatus } from './ports.js';

/** Where a line of output came from; `info` lines are SiteFlow's own notes. */
export type RunStream = 'stdout' | 'stderr' | 'info';

/**
 * One event of a run. A `progress` event supersedes the previous one with the same key
 * (one line per image during a pull). `skipped` says how many events a subscriber missed;
 * `end` is always the last event of a run.
 */
export type RunEvent =
  | { type: 'line'; stream: RunStream; text: string; at: number }
  | { type: 'progress'; key: string; text: string; at: number }
  | { type: 'skipped'; lines: number; at: number }
  | {
      type: 'end';
      status: OperationStatus;
      exitCode: number | null;
      error: string | null;
      durationMs: number;
      at: number;
    };

/** The final event of a run. */
export type RunEndEvent = Extract<RunEvent, { type: 'end' }>;

/** The end a reader shows when a run's output stream stopped without its `end` event. */
export function endedEarly(at: number): RunEndEvent {
  return {
    type: 'end',
    status: 'interrupted',
    exitCode: null,
    error: 'output stream ended early',
    durationMs: 0,
    at,
  };
}
