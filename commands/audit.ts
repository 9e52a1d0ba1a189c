import { opt, reply } from '../src/core/command.js';
import { clamp, formatDuration, formatTime } from '../src/core/format.js';
import { AUDIT_OUTCOMES, type AuditOutcome } from '../src/core/ports.js';
import { defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'audit',
  description: 'Read the audit log, newest first',
  level: 'viewer',
  options: {
    site: opt.site({ description: 'Only this site' }),
    user: opt.user({ description: 'Only this user (id or name)' }),
    action: opt.string({
      description: 'Only this action, e.g. restart',
      max: 40,
      pattern: /^[a-z][a-z0-9_-]*$/,
    }),
    status: opt.choice({ description: 'Only this outcome', choices: AUDIT_OUTCOMES }),
    since: opt.since({ description: 'Only after this: 2h, 7d or 2026-01-31' }),
    limit: opt.integer({ description: 'Rows per page (1-50)', min: 1, max: 50 }),
    cursor: opt.string({ description: 'Next page, as given at the end of the previous one', max: 64 }),
  },
  run: ({ services }, a) => {
    const page = services.audit.query({
      site: a.site?.name,
      actor: a.user,
      action: a.action,
      outcome: a.status as AuditOutcome | undefined,
      since: a.since,
      limit: a.limit ?? 15,
      cursor: a.cursor,
    });
    if (page.entries.length === 0) return reply.text('Audit log', 'No entries match.');
    const r = reply.ok(`Audit log (${page.entries.length} entr${page.entries.length === 1 ? 'y' : 'ies'})`, {
      kind: 'table',
      columns: ['when', 'who', 'action', 'target', 'outcome', 'took'],
      rows: page.entries.map((e) => [
        formatTime(e.at),
        `${clamp(e.actor.name, 24)} (${e.actor.platform})`,
        e.action,
        e.site ? (e.host ? `${e.host}/${e.site}` : e.site) : '-',
        e.outcome,
        formatDuration(e.durationMs),
      ]),
    });
    if (page.nextCursor) r.blocks.push({ kind: 'text', text: `More: add cursor:${page.nextCursor}` });
    return r;
  },
});
