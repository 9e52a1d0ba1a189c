import { reply } from '../src/core/command.js';
import { formatTime } from '../src/core/format.js';
import { defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'silences',
  description: 'List the active alert silences and open alerts',
  level: 'viewer',
  options: {},
  run: ({ services }) => {
    if (!services.monitor)
      return reply.error('The monitor is off', 'Set MONITOR_ENABLED=true to use alerts.');
    const list = services.monitor.silences();
    const open = services.monitor.openAlerts();
    const blocks = [];
    blocks.push(
      list.length
        ? {
            kind: 'table' as const,
            columns: ['target', 'until', 'by', 'reason'],
            rows: list.map((s) => [
              s.site ? `${s.host}/${s.site}` : `host ${s.host}`,
              formatTime(s.until),
              s.by,
              s.reason ?? '',
            ]),
          }
        : { kind: 'text' as const, text: 'No active silences.' },
    );
    if (open.length)
      blocks.push({
        kind: 'table' as const,
        columns: ['open alert', 'since', 'id'],
        rows: open.map((a) => [a.title, formatTime(a.openedAt), a.id]),
      });
    return reply.ok(
      `${list.length} silence${list.length === 1 ? '' : 's'}, ${open.length} open alert${open.length === 1 ? '' : 's'}`,
      ...blocks,
    );
  },
});
