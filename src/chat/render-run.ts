/** Plain-text rendering of a run's live events, shared by every surface. */
import { formatDuration } from '../core/format.js';
import type { RunEvent } from '../core/run-events.js';

/** The skip marker a slow subscriber sees. */
export function skippedText(lines: number): string {
  return `… ${lines} line${lines === 1 ? '' : 's'} skipped; full log attached at the end`;
}

/** One non-final event as a line of text. */
export function renderRunEvent(ev: Exclude<RunEvent, { type: 'end' }>): string {
  switch (ev.type) {
    case 'line':
      return ev.stream === 'info' ? `» ${ev.text}` : `│ ${ev.text}`;
    case 'progress':
      return `» ${ev.key}: ${ev.text}`;
    case 'skipped':
      return skippedText(ev.lines);
  }
}

const MARK: Record<string, string> = {
  succeeded: '✓',
  failed: '✗',
  cancelled: '⊘',
  timed_out: '⏱',
  interrupted: '⚡',
};

/** The closing summary of a run. */
export function renderRunSummary(opId: string, ev: Extract<RunEvent, { type: 'end' }>, who?: string): string {
  const parts = [`${MARK[ev.status] ?? '•'} ${opId} ${ev.status.replace('_', ' ')}`];
  if (ev.exitCode !== null) parts.push(`exit ${ev.exitCode}`);
  parts.push(`in ${formatDuration(ev.durationMs)}`);
  if (who) parts.push(`started by ${who}`);
  return `${parts.join(', ')}${ev.error ? `: ${ev.error}` : ''}`;
}
