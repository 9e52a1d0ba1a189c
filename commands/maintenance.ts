import { opt, reply } from '../src/core/command.js';
import { formatDuration, formatTime } from '../src/core/format.js';
import { defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'maintenance',
  description: 'Maintenance windows: alerts of a site or host are recorded, not posted, while one is open',
  level: 'operator',
  options: {
    action: opt.choice({
      description: 'add, list or remove',
      choices: ['add', 'list', 'remove'] as const,
      required: true,
    }),
    target: opt.string({
      description: 'add: the site (host/site) or host; remove: the window id',
      max: 129,
      pattern: /^[a-z0-9][a-z0-9_/-]*$/,
      patternHint: 'a site, host/site, host or window id',
    }),
    cron: opt.string({
      description: 'add: when it opens, e.g. "0 3 * * *" (node-cron; 6 fields with seconds)',
      max: 100,
      pattern: /^[0-9*,/ -]+$/,
      patternHint: 'a cron expression such as "0 3 * * *" (quote it)',
    }),
    duration: opt.duration({ description: 'add: how long it stays open, e.g. 2h', maxMs: 7 * 86_400_000 }),
    reason: opt.string({ description: 'add: why (shown in /silences)', max: 200 }),
  },
  run: ({ services, actor }, { action, target, cron, duration, reason }) => {
    const m = services.monitor;
    if (!m) return reply.error('The monitor is off', 'Set MONITOR_ENABLED=true to use alerts.');
    if (action === 'list') {
      const list = m.maintenance();
      if (!list.length)
        return reply.text(
          'No maintenance windows',
          'Add one with /maintenance add <site|host> "<cron>" <duration> [reason].',
        );
      return reply.ok(`${list.length} maintenance window${list.length === 1 ? '' : 's'}`, {
        kind: 'table',
        columns: ['id', 'target', 'cron', 'for', 'state', 'by', 'reason'],
        rows: list.map((w) => [
          w.id,
          w.site ? `${w.host}/${w.site}` : `host ${w.host}`,
          w.cron,
          formatDuration(w.durationMs),
          w.open ? `open until ${formatTime(w.openUntil!)}` : 'closed',
          w.by,
          w.reason ?? '',
        ]),
      });
    }
    if (action === 'remove') {
      if (!target)
        return reply.invalid('Cannot remove', [
          'Say which window: /maintenance remove <id> (see /maintenance list).',
        ]);
      const r = m.removeMaintenance(target);
      if (!r.ok) return reply.invalid('Cannot remove', [r.error]);
      return reply.text(`Removed maintenance window ${r.value.id}`, 'Alerts of its target post again.');
    }
    const missing = [!target && 'target', !cron && 'cron', duration === undefined && 'duration'].filter(
      Boolean,
    );
    if (missing.length || !target || !cron || duration === undefined)
      return reply.invalid('Cannot add', [
        `Missing: ${missing.join(', ')}. Usage: /maintenance add <site|host> "<cron>" <duration> [reason]`,
      ]);
    const r = m.addMaintenance(target, cron, duration, actor, reason ?? null);
    if (!r.ok) return reply.invalid('Cannot add', [r.error]);
    const w = r.value;
    return reply.text(
      `Maintenance window ${w.id} on ${w.site ? `${w.host}/${w.site}` : `host ${w.host}`}`,
      `Opens at "${w.cron}" for ${formatDuration(w.durationMs)}: alerts are recorded, not posted; when it ends, what is still broken alerts.`,
    );
  },
});
