/**
 * Renders platform-neutral replies and run events as plain text: used by the console
 * surface and as the body of code blocks on chat platforms.
 */
import type { Block, Reply, ReplyStatus } from '../core/command.js';
import { plainStamps } from '../core/format.js';

const MARK: Record<ReplyStatus, string> = { ok: '✓', error: '✗', denied: '⛔', invalid: '⚠', busy: '⏳' };

/** A table as aligned columns. */
export function renderTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}

/** One block as plain text; times as local time (TZ), relative ones as "3m ago" from `now`. */
export function renderBlock(b: Block, now = Date.now()): string {
  return plainStamps(blockText(b), now);
}

function blockText(b: Block): string {
  switch (b.kind) {
    case 'text':
      return b.text;
    case 'code':
      return b.text;
    case 'fields': {
      const w = Math.max(...b.fields.map(([k]) => k.length));
      return b.fields.map(([k, v]) => `${`${k}:`.padEnd(w + 1)} ${v}`).join('\n');
    }
    case 'table':
      return renderTable(b.columns, b.rows);
  }
}

/** A whole reply as plain text: a marked title line, then each block. */
export function renderReplyText(r: Reply, now = Date.now()): string {
  const lines = [
    plainStamps(`${MARK[r.status]} ${r.title}`, now),
    ...r.blocks.map((b) => renderBlock(b, now)),
  ];
  if (r.confirm)
    lines.push(`Type /confirm ${r.confirm.id} to go ahead, or /confirm ${r.confirm.id} no to call it off.`);
  return lines.join('\n');
}
